// GET /metrics: Prometheus text with the request histogram, the message counters and the pending gauge, each moving exactly as operations happen.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, newMessage } from '../helpers/app.js'
import { ack, post, store } from '../helpers/requests.js'

const SECOND = 1000
const COUNTERS = [
  'offline_messages_stored_total',
  'offline_messages_duplicates_total',
  'offline_messages_acked_total',
  'offline_messages_expired_total',
  'offline_messages_dropped_total'
] as const

interface Sample { name: string, labels: Record<string, string>, value: number }

function parseSamples (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = pair[2] as string
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) })
  }
  return samples
}

/** The value of the sample with exactly these labels, or undefined when there is none. */
function valueOf (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort())
  return samples.find((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted)?.value
}

/** Scrapes /metrics without a key, as Prometheus does. */
async function scrape (app: FastifyInstance): Promise<Sample[]> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  return parseSamples(res.body)
}

async function counters (app: FastifyInstance): Promise<Record<string, number | undefined>> {
  const samples = await scrape(app)
  return Object.fromEntries(COUNTERS.map((name) => [name.replace(/^offline_messages_|_total$/g, ''), valueOf(samples, name)]))
}

async function pending (app: FastifyInstance): Promise<number | undefined> {
  return valueOf(await scrape(app), 'offline_messages_pending')
}

const zero = { stored: 0, duplicates: 0, acked: 0, expired: 0, dropped: 0 }

t.test('/metrics answers Prometheus text without a key, and ignores a bad one', async (t) => {
  const { app } = await buildTestApp(t)
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.doesNotThrow(() => parseSamples(res.body), 'every line is a comment or a sample')
  const withBadKey = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong-key-123' } })
  t.equal(withBadKey.statusCode, 200)
})

t.test('http_request_duration_seconds is a histogram labelled with method, route pattern and status_code', async (t) => {
  const { app, call } = await buildTestApp(t)
  await store(call, { msg_id: 'h1' })
  await call({ method: 'GET', url: '/v1/receivers/bob/senders' })
  await call({ method: 'GET', url: '/v1/receivers/bob/messages/unknown-id' })
  await call({ method: 'GET', url: '/v1/receivers/carol/messages/unknown-id' })
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.match(res.body, /^# TYPE http_request_duration_seconds histogram$/m)
  const samples = parseSamples(res.body)
  const post201 = { method: 'POST', route: '/v1/messages', status_code: '201' }
  t.equal(valueOf(samples, 'http_request_duration_seconds_count', post201), 1)
  t.equal(valueOf(samples, 'http_request_duration_seconds_bucket', { ...post201, le: '+Inf' }), 1)
  t.type(valueOf(samples, 'http_request_duration_seconds_sum', post201), 'number')
  t.ok(samples.filter((sample) => sample.name === 'http_request_duration_seconds_bucket' && sample.labels.route === '/v1/messages').length > 2,
    'several buckets')
  t.equal(valueOf(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/v1/receivers/:receiver_uid/senders', status_code: '200' }), 1)
  t.equal(valueOf(samples, 'http_request_duration_seconds_count',
    { method: 'GET', route: '/v1/receivers/:receiver_uid/messages/:msg_id', status_code: '404' }), 2,
  'the route label is the pattern, not the URL: two receivers share one series')
  const routes = new Set(samples.filter((sample) => sample.name === 'http_request_duration_seconds_count').map((sample) => sample.labels.route))
  t.notOk([...routes].some((route) => route?.includes('bob') === true), 'no receiver id in any route label')
})

t.test('offline_messages_stored_total and _duplicates_total count new messages and retries, nothing else', async (t) => {
  const { app, call } = await buildTestApp(t, { MAX_PENDING_PER_RECEIVER: '3' })
  t.same(await counters(app), zero)
  const first = newMessage({ msg_id: 's1' })
  t.equal((await post(call, first)).statusCode, 201)
  await store(call, { msg_id: 's2' })
  t.same(await counters(app), { ...zero, stored: 2 })
  t.equal((await post(call, first)).statusCode, 200)
  t.same(await counters(app), { ...zero, stored: 2, duplicates: 1 })
  t.equal((await post(call, { ...first, content: 'conflict' })).statusCode, 409)
  t.equal((await post(call, newMessage({ msg_id: 'bad', msg_type: 'x' }))).statusCode, 400)
  t.same(await counters(app), { ...zero, stored: 2, duplicates: 1 }, 'a conflict or an invalid body counts nothing')
  await store(call, { msg_id: 's3' })
  t.equal((await post(call, newMessage({ msg_id: 's4' }))).statusCode, 429)
  t.same(await counters(app), { ...zero, stored: 3, duplicates: 1 }, 'a store refused by the quota counts nothing')
  t.equal(await ack(call, { msg_ids: ['s1'] }), 1)
  t.equal((await post(call, first)).statusCode, 200)
  t.same(await counters(app), { ...zero, stored: 3, duplicates: 2, acked: 1 }, 'a retry answered from a tombstone is a duplicate')
})

t.test('offline_messages_acked_total counts messages, not requests', async (t) => {
  const { app, call } = await buildTestApp(t)
  for (const id of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6']) await store(call, { msg_id: id })
  t.equal(await ack(call, { msg_ids: ['a1', 'a2', 'a3'] }), 3)
  t.equal((await counters(app)).acked, 3, 'one ack of 3 ids adds 3')
  t.equal(await ack(call, { msg_ids: ['a1', 'a2', 'a3', 'unknown'] }), 0)
  t.equal((await counters(app)).acked, 3, 'an ack that deletes nothing adds nothing')
  t.equal(await ack(call, { up_to_seq: 5 }), 2)
  t.equal((await counters(app)).acked, 5)
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/a6' })).statusCode, 204)
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/a6' })).statusCode, 204)
  t.same(await counters(app), { ...zero, stored: 6, acked: 6 })
})

t.test('offline_messages_expired_total counts each expired message once, when it is removed', async (t) => {
  const { app, call, clock } = await buildTestApp(t)
  await store(call, { ttl_seconds: 60 })
  await store(call, { ttl_seconds: 60 })
  await store(call, { receiver_uid: 'zoe', ttl_seconds: 60 })
  await store(call)
  clock.advance(61 * SECOND)
  await app.messages.sweep()
  t.same(await counters(app), { ...zero, stored: 4, expired: 3 })
  await app.messages.sweep()
  await call({ method: 'GET', url: '/v1/receivers/bob/senders' })
  t.same(await counters(app), { ...zero, stored: 4, expired: 3 }, 'a second sweep and a summary read count nothing more')
})

t.test('offline_messages_expired_total counts messages removed by a summary read before the sweep, once', async (t) => {
  const { app, call, clock } = await buildTestApp(t)
  await store(call, { ttl_seconds: 60 })
  await store(call, { ttl_seconds: 60 })
  clock.advance(61 * SECOND)
  t.equal((await call({ method: 'GET', url: '/v1/receivers/bob/senders' })).json().senders[0]?.lost_count, 2)
  await app.messages.sweep()
  t.equal((await counters(app)).expired, 2)
})

t.test('offline_messages_dropped_total counts messages removed by drop_oldest', async (t) => {
  const { app, call } = await buildTestApp(t, { MAX_PENDING_PER_RECEIVER: '2', OVERFLOW_POLICY: 'drop_oldest' })
  for (let i = 0; i < 5; i++) await store(call)
  await store(call, { receiver_uid: 'zoe' })
  t.same(await counters(app), { ...zero, stored: 6, dropped: 3 })
})

t.test('offline_messages_pending follows stores, acks, expiry before and after the sweep, and drops', async (t) => {
  const { app, call, clock } = await buildTestApp(t)
  t.equal(await pending(app), 0)
  const p1 = newMessage({ msg_id: 'p1' })
  t.equal((await post(call, p1)).statusCode, 201)
  await store(call, { msg_id: 'p2', ttl_seconds: 60 })
  await store(call, { msg_id: 'p3', ttl_seconds: 60 })
  await store(call, { receiver_uid: 'zoe', msg_id: 'z1' })
  t.equal(await pending(app), 4, 'after stores')
  t.equal((await post(call, p1)).statusCode, 200)
  t.equal(await pending(app), 4, 'a duplicate adds nothing')
  t.equal(await ack(call, { msg_ids: ['p3'] }), 1)
  t.equal(await pending(app), 3, 'after an ack')
  clock.advance(61 * SECOND)
  t.equal(await pending(app), 2, 'an expired message stops being pending the moment it expires, before any sweep')
  await app.messages.sweep()
  t.equal(await pending(app), 2, 'after the sweep')
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/zoe/messages/z1' })).statusCode, 204)
  t.equal(await pending(app), 1)
})

t.test('offline_messages_pending stays at the quota when drop_oldest drops', async (t) => {
  const { app, call } = await buildTestApp(t, { MAX_PENDING_PER_RECEIVER: '2', OVERFLOW_POLICY: 'drop_oldest' })
  for (let i = 0; i < 4; i++) await store(call)
  t.equal(await pending(app), 2)
  await store(call, { receiver_uid: 'zoe' })
  t.equal(await pending(app), 3)
})

t.test('offline_messages_pending is right while a bounded sweep is only part way through', async (t) => {
  const { app, call, clock } = await buildTestApp(t, { SWEEP_BATCH_SIZE: '2' })
  for (let i = 0; i < 5; i++) await store(call, { ttl_seconds: 60 })
  await store(call)
  clock.advance(61 * SECOND)
  const seen: Array<number | undefined> = []
  for (let round = 0; round < 4; round++) {
    await app.messages.sweep()
    seen.push(await pending(app))
  }
  t.same(seen, [1, 1, 1, 1])
  t.equal((await counters(app)).expired, 5)
})

t.test('the message counters and the pending gauge are declared with their Prometheus types', async (t) => {
  const { app } = await buildTestApp(t)
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  for (const name of COUNTERS) t.match(text, new RegExp(`^# TYPE ${name} counter$`, 'm'), name)
  t.match(text, /^# TYPE offline_messages_pending gauge$/m)
})

t.test('default process metrics are exported', async (t) => {
  const { app } = await buildTestApp(t)
  const samples = await scrape(app)
  t.type(valueOf(samples, 'process_cpu_user_seconds_total'), 'number')
  t.type(valueOf(samples, 'process_start_time_seconds'), 'number')
  t.ok(samples.some((sample) => sample.name.startsWith('nodejs_')), 'Node.js runtime metrics')
})
