// Webhooks: the event feed POSTed to WEBHOOK_URL in signed batches, in feed order, one request at a time, each batch
// sent again (the same) until a 2xx answers it, from a position kept in the database.
import pg from 'pg'
import t from 'tap'
import { Webhook } from 'standardwebhooks'
import { ConfigError, loadConfig } from '../../src/config.js'
import { DELIVERY_TIMINGS, retryDelay } from '../../src/domain/webhook-delivery.js'
import { API_KEYS, buildTestApp, newMessage, type TestApp, createTestClock } from '../helpers/app.js'
import { createTestDatabase, horizonPassed, onCitus, TEST_STORE } from '../helpers/database.js'
import { startExpectingFailure } from '../helpers/process.js'
import { WEBHOOK_SECRET, startReceiver, type Receiver } from '../helpers/webhook-receiver.js'
import { sleep } from '../helpers/wait.js'

// EVENTS=on is refused on a Citus database (src/app.ts): there the tests that need it are skipped.
const feedTest = (await onCitus() ? t.skip : t.test).bind(t)

const FEED_KEY = 'feed:feed-secret-1:events'
// Retries after 20, 40, 80, ... up to 200 ms instead of 1 s up to 60 s; the jitter's draw fixed.
const FAST = { timings: { retryBaseMs: 20, retryMaxMs: 200, pollMs: 200 }, random: () => 0.5 }

function webhookEnv (receiver: Receiver, env: Record<string, string> = {}): Record<string, string> {
  return { EVENTS: 'on', API_KEYS: `${API_KEYS},${FEED_KEY}`, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, ...env }
}

async function buildWebhookApp (t: Tap, receiver: Receiver, env: Record<string, string> = {}, clock = createTestClock()): Promise<TestApp> {
  return await buildTestApp(t, webhookEnv(receiver, env), clock, undefined, FAST)
}

type Tap = Parameters<typeof buildTestApp>[0]

const store = (test: TestApp, body: Record<string, unknown>) => test.call({ method: 'POST', url: '/v1/messages', payload: newMessage(body) })
const storeBatch = (test: TestApp, msgIds: string[]) =>
  test.call({ method: 'POST', url: '/v1/messages/batch', payload: { messages: msgIds.map((msgId) => newMessage({ msg_id: msgId })) } })

/** A sample of a /metrics scrape: the value of `name` with these labels (0 when absent). */
async function metric (test: TestApp, name: string, labels = ''): Promise<number> {
  const text = (await test.app.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find((each) => each.startsWith(`${name}${labels} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}
const outcomes = async (test: TestApp): Promise<Record<string, number>> => Object.fromEntries(await Promise.all(
  ['delivered', 'http_error', 'timeout', 'network_error'].map(async (outcome) => [outcome, await metric(test, 'offline_messages_webhook_deliveries_total', `{outcome="${outcome}"}`)])))

/** The outcomes once `delivered` requests were answered 2xx (the receiver records a request before the service reads its answer). */
async function outcomesOnceDelivered (test: TestApp, delivered: number): Promise<Record<string, number>> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const found = await outcomes(test)
    if ((found.delivered ?? 0) >= delivered || Date.now() > deadline) return found
    await sleep(10)
  }
}

feedTest('each request is signed as Standard Webhooks says and carries the events as the feed serves them', async (t) => {
  const receiver = await startReceiver(t)
  const test = await buildWebhookApp(t, receiver)
  for (const msgId of ['s-1', 's-2', 's-3']) t.equal((await store(test, { msg_id: msgId })).statusCode, 201)
  await receiver.until(() => receiver.events().length >= 3)
  const [first] = receiver.received
  t.ok(receiver.received.every((request) => request.verified), 'Webhook.verify of the standardwebhooks library accepts every request')
  t.match(first?.headers, { 'content-type': 'application/json', 'webhook-id': /^msg_[A-Za-z0-9_-]{32}$/, 'webhook-timestamp': /^\d{10}$/, 'webhook-signature': /^v1,[A-Za-z0-9+/]+=*$/ })
  t.ok(Math.abs(Number(first?.headers['webhook-timestamp']) - Date.now() / 1000) < 60, 'webhook-timestamp is the time of sending, in seconds')
  t.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 8).toString('base64')}`).verify(first?.body ?? '', first?.headers as Record<string, string>),
    { name: 'WebhookVerificationError' }, 'another secret does not verify it')
  t.throws(() => new Webhook(WEBHOOK_SECRET).verify((first?.body ?? '').replace('s-1', 's-9'), first?.headers as Record<string, string>),
    { name: 'WebhookVerificationError' }, 'a changed body does not verify')

  t.strictSame(Object.keys(JSON.parse(first?.body ?? '{}') as object), ['events'], 'the body is {"events": [...]}')
  await horizonPassed(test.config.database.databaseUrl)
  const feed = await test.call({ method: 'GET', url: '/v1/events', headers: { authorization: 'Bearer feed-secret-1' } })
  t.strictSame(receiver.events(), feed.json<{ events: unknown[] }>().events, 'the same event objects as GET /v1/events, in the same order')
})

feedTest('batches follow the feed\'s order, hold at most WEBHOOK_BATCH_SIZE events, and go one at a time', async (t) => {
  const receiver = await startReceiver(t)
  receiver.otherwise = { status: 200, delayMs: 30 }
  const test = await buildWebhookApp(t, receiver, { WEBHOOK_BATCH_SIZE: '3' })
  const ids = Array.from({ length: 10 }, (_, i) => `b-${String(i).padStart(2, '0')}`)
  t.equal((await storeBatch(test, ids.slice(0, 5))).statusCode, 200)
  t.equal((await storeBatch(test, ids.slice(5))).statusCode, 200)
  await receiver.until(() => receiver.events().length >= 10)
  t.strictSame(receiver.events().map((event) => event.msg_id), ids, 'every event once, in the feed\'s order')
  t.ok(receiver.received.every((request) => request.events.length >= 1 && request.events.length <= 3), `batches of 1 to 3: ${receiver.received.map((r) => r.events.length).join(', ')}`)
  t.ok(receiver.received.some((request) => request.events.length === 3), 'a batch is filled up to the limit')
  t.equal(receiver.maxInFlight, 1, 'never two requests at once')
  t.equal(new Set(receiver.received.map((request) => request.headers['webhook-id'])).size, receiver.received.length, 'each batch its own webhook-id')
})

feedTest('a batch answered 500 is sent again, the same body under the same webhook-id, until a 2xx; then the next', async (t) => {
  const receiver = await startReceiver(t)
  receiver.answers = [500, 503]
  const test = await buildWebhookApp(t, receiver)
  await store(test, { msg_id: 'r-1' })
  await receiver.until(() => receiver.received.length >= 3)
  const [first, second, third] = receiver.received
  t.equal(second?.headers['webhook-id'], first?.headers['webhook-id'])
  t.equal(third?.headers['webhook-id'], first?.headers['webhook-id'])
  t.equal(second?.body, first?.body)
  t.equal(third?.body, first?.body)
  t.ok(receiver.received.every((request) => request.verified), 'each try is signed (with its own timestamp)')
  await store(test, { msg_id: 'r-2' })
  await receiver.until(() => receiver.received.length >= 4)
  t.strictSame(receiver.received[3]?.events.map((event) => event.msg_id), ['r-2'], 'once delivered, the batch is not sent again')
  t.not(receiver.received[3]?.headers['webhook-id'], first?.headers['webhook-id'])
  await sleep(100)
  t.equal(receiver.received.length, 4, 'nothing more is sent')
  t.strictSame(await outcomesOnceDelivered(test, 2), { delivered: 2, http_error: 2, timeout: 0, network_error: 0 })
})

feedTest('a redirect is not followed: the batch goes again to WEBHOOK_URL', async (t) => {
  const elsewhere = await startReceiver(t)
  const receiver = await startReceiver(t)
  receiver.answers = [{ status: 307, headers: { location: elsewhere.url } }, { status: 301, headers: { location: elsewhere.url } }]
  const test = await buildWebhookApp(t, receiver)
  await store(test, { msg_id: 'x-1' })
  await receiver.until(() => receiver.received.length >= 3)
  await sleep(100)
  t.equal(elsewhere.received.length, 0, 'the redirect\'s target gets no request')
  t.equal(new Set(receiver.received.map((request) => request.headers['webhook-id'])).size, 1)
  t.strictSame(await outcomesOnceDelivered(test, 1), { delivered: 1, http_error: 2, timeout: 0, network_error: 0 })
})

feedTest('no answer within WEBHOOK_TIMEOUT_MS, a closed socket and an answer that is not HTTP are each tried again', async (t) => {
  const receiver = await startReceiver(t)
  receiver.answers = ['hang', 'destroy', 'garbage', { status: 200, delayMs: 500 }]
  const test = await buildWebhookApp(t, receiver, { WEBHOOK_TIMEOUT_MS: '200' })
  await store(test, { msg_id: 'n-1' })
  await receiver.until(() => receiver.received.length >= 5)
  t.equal(new Set(receiver.received.map((request) => request.headers['webhook-id'])).size, 1, 'the same batch each time')
  t.strictSame(await outcomesOnceDelivered(test, 1), { delivered: 1, http_error: 0, timeout: 2, network_error: 2 }, 'a 2xx after the timeout does not count')
})

feedTest('stores, acks and reads answer at once while the receiver never answers', async (t) => {
  const receiver = await startReceiver(t)
  receiver.otherwise = 'hang'
  const test = await buildWebhookApp(t, receiver, { WEBHOOK_BATCH_SIZE: '2' })
  await store(test, { msg_id: 'h-0' })
  await receiver.until(() => receiver.inFlight === 1)
  const slowest = { ms: 0 }
  const timed = async (what: () => Promise<{ statusCode: number }>, status: number): Promise<void> => {
    const started = Date.now()
    t.equal((await what()).statusCode, status)
    slowest.ms = Math.max(slowest.ms, Date.now() - started)
  }
  for (let i = 1; i <= 20; i++) await timed(() => store(test, { msg_id: `h-${i}` }), 201)
  await timed(() => test.call({ method: 'GET', url: '/v1/receivers/bob/messages' }), 200)
  await timed(() => test.call({ method: 'POST', url: '/v1/receivers/bob/acks', payload: { up_to_seq: 5 } }), 200)
  await timed(() => test.call({ method: 'GET', url: '/v1/events', headers: { authorization: 'Bearer feed-secret-1' } }), 200)
  t.ok(slowest.ms < 1000, `the slowest answer took ${slowest.ms} ms`)
  t.equal(receiver.received.length, 1, 'still the one request in flight: nothing else is sent meanwhile')
  t.equal(receiver.received[0]?.events.length, 1)
})

feedTest('offline_messages_webhook_lag_seconds is the age of the oldest event not yet delivered, 0 once delivered', async (t) => {
  const receiver = await startReceiver(t)
  receiver.otherwise = 500
  const clock = createTestClock()
  const test = await buildWebhookApp(t, receiver, {}, clock)
  t.equal(await metric(test, 'offline_messages_webhook_lag_seconds'), 0, 'nothing to deliver')
  await store(test, { msg_id: 'l-1' })
  await receiver.until(() => receiver.received.length >= 1)
  clock.advance(7500)
  t.equal(await metric(test, 'offline_messages_webhook_lag_seconds'), 7.5)
  receiver.otherwise = 204
  await outcomesOnceDelivered(test, 1)
  t.equal(await metric(test, 'offline_messages_webhook_lag_seconds'), 0)
})

feedTest('the lag is read from the database: an instance that does not deliver reports the same', {
  skip: TEST_STORE !== 'postgres' && 'one process per SQLite file: no other instance'
}, async (t) => {
  const receiver = await startReceiver(t)
  receiver.otherwise = 500
  const databaseUrl = await createTestDatabase(t, { migrated: true })
  const clock = createTestClock()
  const apps = [await buildWebhookApp(t, receiver, { DATABASE_URL: databaseUrl }, clock), await buildWebhookApp(t, receiver, { DATABASE_URL: databaseUrl }, clock)]
  await store(apps[1] as TestApp, { msg_id: 'g-1' })
  await receiver.until(() => receiver.received.length >= 1)
  clock.advance(4000)
  t.strictSame(apps.map((test) => test.app.webhooks.delivering()).sort(), [false, true], 'one delivers')
  t.strictSame(await Promise.all(apps.map(async (test) => await metric(test, 'offline_messages_webhook_lag_seconds'))), [4, 4])
})

feedTest('the delivered position is kept in the database: a new instance goes on after it', async (t) => {
  const receiver = await startReceiver(t)
  const databaseUrl = await createTestDatabase(t, { file: true, migrated: true })
  const first = await buildWebhookApp(t, receiver, { DATABASE_URL: databaseUrl })
  await storeBatch(first, ['p-1', 'p-2', 'p-3'])
  await receiver.until(() => receiver.events().length >= 3)
  await outcomesOnceDelivered(first, receiver.received.length)
  await first.app.close()
  const second = await buildWebhookApp(t, receiver, { DATABASE_URL: databaseUrl })
  const started = Date.now()
  await store(second, { msg_id: 'p-4' })
  await receiver.until(() => receiver.events().length >= 4)
  // Within the lease's 6 s only because the first let it go as it closed.
  t.ok(Date.now() - started < 3000, `the new instance took over at once (${Date.now() - started} ms): the closed one released the lease`)
  await sleep(100)
  t.strictSame(receiver.events().map((event) => event.msg_id), ['p-1', 'p-2', 'p-3', 'p-4'], 'nothing sent twice, nothing missed')
})

feedTest('a commit wakes the delivery: its events go out at once, not at the next poll', async (t) => {
  const receiver = await startReceiver(t)
  const test = await buildTestApp(t, webhookEnv(receiver), createTestClock(), undefined, { ...FAST, timings: { ...FAST.timings, pollMs: 60_000 } })
  await sleep(100)
  for (const msgId of ['w-1', 'w-2']) {
    const started = Date.now()
    await store(test, { msg_id: msgId })
    await receiver.until(() => receiver.events().some((event) => event.msg_id === msgId), 5000)
    t.ok(Date.now() - started < 2000, `${msgId} delivered ${Date.now() - started} ms after its store`)
  }
})

feedTest('events held back behind an older transaction go out when it ends, however long after their commit\'s wake-up', {
  skip: TEST_STORE !== 'postgres' && 'the horizon is PostgreSQL\'s'
}, async (t) => {
  const receiver = await startReceiver(t)
  const test = await buildTestApp(t, webhookEnv(receiver), createTestClock(), undefined, { ...FAST, timings: { ...FAST.timings, pollMs: 60_000 } })
  await sleep(100)
  // Another client's transaction with an xid, longer than the second of rechecks a wake-up starts, whose end nothing announces.
  const other = new pg.Client({ connectionString: test.config.database.databaseUrl })
  await other.connect()
  t.teardown(async () => { await other.end() })
  await other.query('BEGIN')
  await other.query('SELECT pg_current_xact_id()')
  await store(test, { msg_id: 'v-1' })
  await sleep(1500)
  t.same(receiver.events(), [], 'nothing delivered while the older transaction runs')
  const ended = Date.now()
  await other.query('COMMIT')
  await receiver.until(() => receiver.events().some((event) => event.msg_id === 'v-1'), 5000)
  t.ok(Date.now() - ended < 2000, `v-1 delivered ${Date.now() - ended} ms after the older transaction ended, not at the next poll`)
})

feedTest('a commit through another instance wakes the one that delivers (PostgreSQL\'s notifications)', {
  skip: TEST_STORE !== 'postgres' && 'one process per SQLite file: no other instance'
}, async (t) => {
  const receiver = await startReceiver(t)
  const databaseUrl = await createTestDatabase(t, { migrated: true })
  const delivering = await buildTestApp(t, webhookEnv(receiver, { DATABASE_URL: databaseUrl }), createTestClock(), undefined,
    { ...FAST, timings: { ...FAST.timings, pollMs: 60_000 } })
  const other = await buildTestApp(t, { EVENTS: 'on', DATABASE_URL: databaseUrl })
  const deadline = Date.now() + 5000
  while (!delivering.app.webhooks.delivering() && Date.now() < deadline) await sleep(10)
  await sleep(200)
  const started = Date.now()
  await store(other, { msg_id: 'y-1' })
  await receiver.until(() => receiver.events().length >= 1, 10_000)
  t.ok(Date.now() - started < 3000, `delivered ${Date.now() - started} ms after the other instance's commit`)
})

t.test('the retry delays double from 1 s up to 60 s, each drawn in the upper half of its step', async (t) => {
  const delays = (random: number): number[] => [1, 2, 3, 6, 7, 8, 50].map((attempt) => retryDelay(attempt, DELIVERY_TIMINGS, () => random))
  t.strictSame(delays(0.999999).map(Math.round), [1000, 2000, 4000, 32000, 60000, 60000, 60000])
  t.strictSame(delays(0), [500, 1000, 2000, 16000, 30000, 30000, 30000])
})

feedTest('with EVENTS=on and no WEBHOOK_URL nothing is delivered and the metrics stay at 0', async (t) => {
  const test = await buildTestApp(t, { EVENTS: 'on' })
  t.equal(test.app.hasDecorator('webhooks'), false)
  await store(test, { msg_id: 'o-1' })
  t.strictSame(await outcomes(test), { delivered: 0, http_error: 0, timeout: 0, network_error: 0 })
  t.equal(await metric(test, 'offline_messages_webhook_lag_seconds'), 0)
})

t.test('the webhook variables: defaults, bounds, and a bad value names its variable', async (t) => {
  const on = { EVENTS: 'on', WEBHOOK_URL: 'https://hooks.example/offline', WEBHOOK_SECRET }
  t.equal(loadConfig({}).webhook, null, 'no WEBHOOK_URL: no webhook')
  t.strictSame(loadConfig(on).webhook, { url: 'https://hooks.example/offline', secret: WEBHOOK_SECRET, batchSize: 100, timeoutMs: 5000 })
  t.match(loadConfig({ ...on, WEBHOOK_BATCH_SIZE: '1000', WEBHOOK_TIMEOUT_MS: '100' }).webhook, { batchSize: 1000, timeoutMs: 100 })
  const fails = (env: Record<string, string>, variable: string, message: RegExp): void => {
    t.throws(() => loadConfig(env), { name: 'ConfigError', variable, message }, `${JSON.stringify(env)}: ${variable}`)
  }
  fails({ ...on, EVENTS: 'off' }, 'WEBHOOK_URL', /^WEBHOOK_URL: needs EVENTS=on/)
  fails({ EVENTS: 'on', WEBHOOK_URL: 'https://hooks.example/' }, 'WEBHOOK_SECRET', /^WEBHOOK_SECRET: is required with WEBHOOK_URL/)
  for (const url of ['hooks.example/offline', 'ftp://hooks.example/', 'file:///etc/passwd', 'http://', 'https://user:pass@hooks.example/']) {
    fails({ ...on, WEBHOOK_URL: url }, 'WEBHOOK_URL', /^WEBHOOK_URL: must/)
  }
  for (const secret of ['secret', Buffer.alloc(32).toString('base64'), 'whsec_', 'whsec_not base64!', `whsec_${Buffer.alloc(23).toString('base64')}`, `whsec_${Buffer.alloc(65).toString('base64')}`]) {
    fails({ ...on, WEBHOOK_SECRET: secret }, 'WEBHOOK_SECRET', /^WEBHOOK_SECRET: (must be|holds \d+ bytes)/)
  }
  fails({ ...on, WEBHOOK_BATCH_SIZE: '0' }, 'WEBHOOK_BATCH_SIZE', /WEBHOOK_BATCH_SIZE/)
  fails({ ...on, WEBHOOK_BATCH_SIZE: '1001' }, 'WEBHOOK_BATCH_SIZE', /WEBHOOK_BATCH_SIZE/)
  fails({ ...on, WEBHOOK_TIMEOUT_MS: 'soon' }, 'WEBHOOK_TIMEOUT_MS', /WEBHOOK_TIMEOUT_MS/)
  fails({ ...on, WEBHOOK_TIMEOUT_MS: '99' }, 'WEBHOOK_TIMEOUT_MS', /WEBHOOK_TIMEOUT_MS/)
  t.ok(new ConfigError('WEBHOOK_URL', 'x') instanceof Error)
  t.match(loadConfig({ ...on, WEBHOOK_SECRET: `whsec_${Buffer.alloc(24).toString('base64')}` }).webhook, { secret: /^whsec_/ }, '24 bytes are enough')
})

t.test('the real process refuses to start with a webhook it cannot run, in one line naming the variable', async (t) => {
  const refusal = async (env: Record<string, string>): Promise<string> => {
    const { code, output } = await startExpectingFailure({ API_KEYS: '', DATABASE_URL: 'sqlite::memory:', ...env })
    t.equal(code, 1)
    return output.trim()
  }
  t.equal(await refusal({ WEBHOOK_URL: 'https://hooks.example/offline' }),
    'offline-messages: not starting: WEBHOOK_URL: needs EVENTS=on: the webhook delivers the event feed')
  t.equal(await refusal({ EVENTS: 'on', WEBHOOK_URL: 'https://hooks.example/offline', WEBHOOK_SECRET: 'whsec_c2hvcnQ=' }),
    'offline-messages: not starting: WEBHOOK_SECRET: holds 5 bytes; it must be whsec_ followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))')
})
