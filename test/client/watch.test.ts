// The client's watch() against the real service: every page, acks after the handler, retries of a failing handler and of a
// restarting service from the same cursor, a long-poll woken by a new message, and the signal that stops it.
import t from 'tap'
import {
  createOfflineMessagesClient, listDevices, OfflineMessagesError, registerDevice, unregisterDevice, watch,
  type Message, type MessagePage, type OfflineMessagesClient, type PullAllResult, type WatchOptions
} from '../../client/src/index.js'
import { KEYS } from '../helpers/app.js'
import { recordingClient, secret, storeMessages } from '../helpers/client.js'
import { sleep, until } from '../helpers/wait.js'
import { createTestDatabase } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

// Nine tests, each starting the service (one of them three times): more than tap's default 30 s per file when the machine is busy.
t.setTimeout(300_000)

interface Tap { teardown (fn: () => unknown): void }

/** A gateway client that records each request it sends (URL and time), whether or not the service answered. */
function recordingGateway (baseUrl: string, answer?: (request: Request) => Response | undefined) {
  const { client, requests } = recordingClient(baseUrl, KEYS.gateway, answer)
  /** The page requests (GET .../messages) sent so far. */
  const pageRequests = () => requests.filter(({ url }) => url.pathname.endsWith('/messages'))
  return { client, requests, pageRequests }
}

/** Starts watch() with its own AbortController; the test's teardown stops it, so that no loop outlives its test. */
function startWatch (t: Tap, client: OfflineMessagesClient, receiverUid: string, handler: (messages: Message[], page: MessagePage) => Promise<void>, options: WatchOptions = {}) {
  const controller = new AbortController()
  const done: Promise<PullAllResult> = watch(client, receiverUid, handler, { retryDelayMs: 50, maxRetryDelayMs: 200, ...options, signal: controller.signal })
  t.teardown(async () => {
    controller.abort()
    await done.catch(() => {})
  })
  return { controller, done }
}

async function totalPending (client: OfflineMessagesClient, receiverUid: string, deviceId?: string): Promise<number> {
  const { data, response } = await client.GET('/v1/receivers/{receiver_uid}/senders', {
    params: { path: { receiver_uid: receiverUid }, query: deviceId === undefined ? {} : { device_id: deviceId } }
  })
  if (data === undefined) throw new Error(`summary answered ${response.status}`)
  return data.total_pending
}

/** The requests the service holds right now (long-polls waiting for a message), from its /metrics. */
async function waiters (baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text()
  return Number(/^offline_messages_waiters (\d+)$/m.exec(text)?.[1] ?? NaN)
}

const ids = (messages: Message[]) => messages.map((message) => message.msg_id)
const count = (list: string[], id: string) => list.filter((item) => item === id).length

t.test('watch delivers every pending message, page by page in seq order, and acks a page only after its handler resolved', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const stored = await storeMessages(service.url, 'carol', ['alice', 'dave', 'erin'], 4)
  const { client: gateway } = recordingGateway(service.url)

  const seen: string[] = []
  const seqs: number[] = []
  const { controller, done } = startWatch(t, gateway, 'carol', async (messages, page) => {
    t.same(ids(page.messages), ids(messages), 'the handler gets the messages and the page they came in')
    // While the handler runs, nothing of its page is deleted: the summary still counts it, each message still reads.
    t.equal(await totalPending(gateway, 'carol'), stored.length - seen.length, 'nothing of this page acked when the handler starts')
    await sleep(50)
    for (const message of messages) {
      const read = await gateway.GET('/v1/receivers/{receiver_uid}/messages/{msg_id}', { params: { path: { receiver_uid: 'carol', msg_id: message.msg_id } } })
      t.equal(read.response.status, 200, `${message.msg_id} is still pending while its handler runs`)
    }
    t.equal(await totalPending(gateway, 'carol'), stored.length - seen.length, 'nothing of this page acked before the handler resolved')
    seen.push(...ids(messages))
    seqs.push(...messages.map((message) => message.seq))
  }, { pageSize: 5 })

  // Held in a long-poll: the last ack has been answered and counted.
  await until(async () => seen.length === stored.length && await waiters(service.url) === 1, 'all 12 are handed over and acked')
  t.equal(await totalPending(gateway, 'carol'), 0, 'all acked')
  controller.abort()
  t.same(await done, { pages: 3, delivered: 12, acked: 12 }, 'pages of 5, 5 and 2, each acked')
  t.same([...seen].sort(), [...stored].sort(), 'every stored message was handed over exactly once')
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'oldest first, across senders')
})

t.test('a handler that throws acks nothing and gets the same messages again, after a pause that grows', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const stored = await storeMessages(service.url, 'carol', ['alice'], 4)
  const { client: gateway } = recordingGateway(service.url)

  const calls: Array<{ ids: string[], at: number, pending: number }> = []
  const retried: unknown[] = []
  const { controller, done } = startWatch(t, gateway, 'carol', async (messages) => {
    calls.push({ ids: ids(messages), at: Date.now(), pending: await totalPending(gateway, 'carol') })
    if (calls.length <= 2) throw new Error(`the push to carol's phone failed (${calls.length})`)
  }, { retryDelayMs: 200, maxRetryDelayMs: 1000, onRetry: (error) => { retried.push(error) } })

  await until(async () => calls.length === 3 && await totalPending(gateway, 'carol') === 0, 'the third try succeeds and is acked')
  await sleep(300)
  controller.abort()
  t.same(await done, { pages: 1, delivered: 4, acked: 4 })
  t.same(calls.map((call) => call.ids), [stored, stored, stored], 'the same messages each time, and never again once acked')
  t.same(calls.map((call) => call.pending), [4, 4, 4], 'a failed handler acked nothing')
  t.same(retried.map((error) => (error as Error).message), ["the push to carol's phone failed (1)", "the push to carol's phone failed (2)"], 'onRetry is told of each failure')
  const [first, second, third] = calls.map((call) => call.at)
  t.ok((second ?? 0) - (first ?? 0) >= 190, `a pause before the first retry (${(second ?? 0) - (first ?? 0)} ms)`)
  t.ok((third ?? 0) - (second ?? 0) >= 390, `a longer one before the second (${(third ?? 0) - (second ?? 0)} ms)`)
})

t.test('a message stored after the initial pull wakes the long-poll and is handed over at once', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  await storeMessages(service.url, 'carol', ['alice'], 2)
  const { client: gateway, pageRequests } = recordingGateway(service.url)

  const handed: Array<{ ids: string[], at: number, nextCursor: string }> = []
  startWatch(t, gateway, 'carol', async (messages, page) => { handed.push({ ids: ids(messages), at: Date.now(), nextCursor: page.next_cursor }) })
  await until(async () => handed.length === 1 && await waiters(service.url) === 1, 'the initial pull is done and a long-poll is held')
  const requestsWhenIdle = pageRequests().length
  await sleep(500)
  t.equal(pageRequests().length, requestsWhenIdle, 'while nothing is pending it waits on one held request and does not poll')
  const held = pageRequests().at(-1)?.url.searchParams
  t.equal(held?.get('wait_seconds'), '30', 'the held request asks the service to wait (default 30 s)')
  t.equal(held?.get('cursor'), handed[0]?.nextCursor, 'from the next_cursor of the last page')

  const storedAt = Date.now()
  await storeMessages(service.url, 'carol', ['dave'], 1)
  await until(() => handed.length === 2, 'the new message is handed over', 5000)
  t.same(handed.map((page) => page.ids), [['alice-0', 'alice-1'], ['dave-0']])
  const latency = (handed[1]?.at ?? Infinity) - storedAt
  t.ok(latency < 1000, `handed over ${latency} ms after the store, not at the end of the 30 s wait`)
  await until(async () => await totalPending(gateway, 'carol') === 0, 'it is acked')
})

t.test('a restart of the service in the middle is retried with backoff and resumes from the cursor: nothing lost, nothing handed again once acked', { timeout: 120_000 }, async (t) => {
  const DATABASE_URL = await createTestDatabase(t, { file: true })
  let service = await startService(t, { DATABASE_URL })
  const PORT = new URL(service.url).port
  const { client: gateway, pageRequests } = recordingGateway(service.url)
  const batch1 = await storeMessages(service.url, 'carol', ['alice'], 3)

  const handed: string[] = []
  const pages: MessagePage[] = []
  const retried: unknown[] = []
  let gate: Promise<void> | undefined
  let entered = (): void => {}
  const { controller, done } = startWatch(t, gateway, 'carol', async (messages, page) => {
    handed.push(...ids(messages))
    pages.push(page)
    entered()
    await gate
  }, { onRetry: (error) => { retried.push(error) } })
  await until(async () => handed.length === 3 && await waiters(service.url) === 1, 'batch 1 is acked and a long-poll is held')
  const cursorAfterBatch1 = pages[0]?.next_cursor

  // The first restart, while the watch is held in a long-poll.
  t.equal(await service.stop(), 0, 'the first process stops cleanly')
  const firstDown = pageRequests().length
  await until(() => retried.length >= 2, 'it retries while the service is down')
  service = await startService(t, { DATABASE_URL, PORT })
  t.equal(service.url, `http://127.0.0.1:${PORT}`, 'the second process listens on the same port')

  // The second restart, while the handler of batch 2 runs: its ack cannot reach the service, so it must come again.
  let release = (): void => {}
  gate = new Promise((resolve) => { release = resolve })
  const inHandler = new Promise<void>((resolve) => { entered = resolve })
  const batch2 = await storeMessages(service.url, 'carol', ['dave'], 2)
  await inHandler
  t.same(handed.slice(3), batch2, 'batch 2 is handed over by the second process')
  t.equal(await service.stop(), 0, 'the second process stops while the handler runs')
  const retriesBefore = retried.length
  gate = undefined
  release()
  await until(() => retried.length >= retriesBefore + 2, 'the ack of batch 2 fails and is retried')
  service = await startService(t, { DATABASE_URL, PORT })
  const batch3 = await storeMessages(service.url, 'carol', ['erin'], 2)

  await until(async () => handed.filter((id) => batch3.includes(id)).length === 2 && await waiters(service.url) === 1, 'batch 3 is handed over and acked', 20_000)
  t.equal(await totalPending(gateway, 'carol'), 0, 'nothing left pending')
  controller.abort()
  const result = await done
  t.equal(result.acked, 7, 'each of the 7 messages acked once')

  for (const id of batch1) t.equal(count(handed, id), 1, `${id}, acked before the first restart, is never handed again`)
  for (const id of batch2) t.equal(count(handed, id), 2, `${id}, whose ack failed, is handed again after the restart`)
  for (const id of batch3) t.equal(count(handed, id), 1, `${id}, stored after the restarts, is handed once`)
  t.ok(retried.some((error) => error instanceof TypeError), 'a refused connection was retried, not thrown')
  const afterFirstStop = pageRequests().slice(firstDown).map(({ url }) => url.searchParams.get('cursor'))
  t.equal(afterFirstStop[0], cursorAfterBatch1, 'after the first restart it asks from the cursor it had, not from the start')
  t.notOk(afterFirstStop.includes(null), 'no request after a restart starts over from the beginning')
  const gaps = pageRequests().slice(firstDown, firstDown + 4).map(({ at }, index, list) => at - (list[index - 1]?.at ?? at)).slice(1)
  t.ok(gaps.every((gap) => gap >= 40), `refused requests are spaced by the backoff (${gaps.join(', ')} ms)`)
})

t.test('503 answers are retried with backoff, while 401, 403 and 400 DEVICE_REQUIRED reject at once', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  await storeMessages(service.url, 'carol', ['alice'], 2)
  let unavailable = 3
  const { client: gateway, pageRequests } = recordingGateway(service.url, () => unavailable-- > 0
    ? Response.json({ statusCode: 503, code: 'NOT_READY', error: 'Service Unavailable', message: 'the database is unreachable' }, { status: 503 })
    : undefined)
  const retried: unknown[] = []
  const handed: string[] = []
  startWatch(t, gateway, 'carol', async (messages) => { handed.push(...ids(messages)) }, { onRetry: (error) => { retried.push(error) } })
  await until(() => handed.length === 2, 'the messages are handed over once the service answers again')
  t.same(retried.map((error) => (error as OfflineMessagesError).status), [503, 503, 503])
  t.equal(pageRequests()[3]?.url.searchParams.get('cursor'), null, 'the retries ask for the same page')

  const stranger = createOfflineMessagesClient({ baseUrl: service.url, apiKey: 'not-a-key' })
  await t.rejects(watch(stranger, 'carol', async () => {}), { name: 'OfflineMessagesError', status: 401 })
  const router = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.router) })
  await t.rejects(watch(router, 'carol', async () => {}), { name: 'OfflineMessagesError', status: 403 })
  await gateway.PUT('/v1/receivers/{receiver_uid}/devices/{device_id}', { params: { path: { receiver_uid: 'frank', device_id: 'phone' } } })
  await t.rejects(watch(gateway, 'frank', async () => {}), { name: 'OfflineMessagesError', status: 400, body: { code: 'DEVICE_REQUIRED' } })
  await t.rejects(watch(gateway, 'frank', async () => {}, { deviceId: 'tablet' }), { name: 'OfflineMessagesError', status: 404, body: { code: 'DEVICE_NOT_FOUND' } })
})

t.test("a 429 with Retry-After is asked again no sooner than it says, whatever the backoff; 5xx without one keep the backoff", async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  await storeMessages(service.url, 'erin', ['alice'], 1)
  const answers = [
    Response.json({ statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: 'too many requests for this API key; retry after 1 s' },
      { status: 429, headers: { 'retry-after': '1' } }),
    Response.json({ statusCode: 502, error: 'Bad Gateway', message: 'upstream' }, { status: 502 })
  ]
  const { client: gateway, pageRequests } = recordingGateway(service.url, () => answers.shift())
  const retries: Array<{ retryAfterMs: number | undefined, delayMs: number }> = []
  const handed: string[] = []
  startWatch(t, gateway, 'erin', async (messages) => { handed.push(...ids(messages)) }, {
    onRetry: (error, delayMs) => { retries.push({ retryAfterMs: (error as OfflineMessagesError).retryAfterMs, delayMs }) }
  })
  await until(() => handed.length === 1, 'the message is handed over once the service answers')
  t.same(retries, [{ retryAfterMs: 1000, delayMs: 1000 }, { retryAfterMs: undefined, delayMs: 100 }],
    'the pause after the 429 is its Retry-After (1 s), not the 50 ms backoff; the 502 after it gets the doubled backoff')
  const [limited, refused] = pageRequests()
  const gap = (refused?.at ?? 0) - (limited?.at ?? 0)
  t.ok(gap >= 990, `the request after the 429 came ${gap} ms later`)
})

t.test('the signal stops watch at once and it resolves: the held request is aborted, a running handler is not acked', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const { client: gateway, requests } = recordingGateway(service.url)

  // Held in a long-poll: the request is aborted, so the service forgets it at once.
  const idle = startWatch(t, gateway, 'carol', async () => {})
  await until(async () => await waiters(service.url) === 1, 'a long-poll is held')
  let started = Date.now()
  idle.controller.abort()
  t.same(await idle.done, { pages: 0, delivered: 0, acked: 0 }, 'it resolves, with what it delivered')
  t.ok(Date.now() - started < 200, `at once (${Date.now() - started} ms), not when the 30 s wait ends`)
  await until(async () => await waiters(service.url) === 0, 'the service no longer holds the request', 2000)

  // In the handler: watch resolves without waiting for it, and its page is not acked.
  await storeMessages(service.url, 'carol', ['alice'], 2)
  let release = (): void => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered = false
  const busy = startWatch(t, gateway, 'carol', async () => { entered = true; await gate })
  await until(() => entered, 'the handler runs')
  started = Date.now()
  busy.controller.abort()
  t.same(await busy.done, { pages: 0, delivered: 0, acked: 0 })
  t.ok(Date.now() - started < 200, `at once, while the handler still runs (${Date.now() - started} ms)`)
  const sent = requests.length
  release()
  await sleep(200)
  t.equal(requests.length, sent, 'nothing is sent after the stop, not even the ack of the page the handler finished later')
  t.equal(await totalPending(gateway, 'carol'), 2, 'that page stays pending for the next watch')

  // In the pause before a retry.
  let failed = false
  const failing = startWatch(t, gateway, 'carol', async () => { failed = true; throw new Error('no') }, { retryDelayMs: 10_000 })
  await until(() => failed, 'the handler has failed once')
  await sleep(50)
  started = Date.now()
  failing.controller.abort()
  await failing.done
  t.ok(Date.now() - started < 200, `at once, in the pause (${Date.now() - started} ms)`)

  // Already aborted: nothing is asked.
  const before = requests.length
  t.same(await watch(gateway, 'carol', async () => { t.fail('never called') }, { signal: AbortSignal.abort() }), { pages: 0, delivered: 0, acked: 0 })
  t.equal(requests.length, before, 'an aborted signal sends no request')
})

t.test('a phone and a laptop each get every message through watch with their deviceId, and each acks only its own', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const { client: gateway } = recordingGateway(service.url)
  for (const device of ['phone', 'laptop']) {
    t.match(await registerDevice(gateway, 'carol', device), { device_id: device, pending_count: 0 }, `${device} registered`)
  }
  const stored = await storeMessages(service.url, 'carol', ['alice', 'dave'], 3)
  t.same((await listDevices(gateway, 'carol')).map((device) => [device.device_id, device.pending_count]), [['phone', 6], ['laptop', 6]])

  const onPhone: string[] = []
  const phone = startWatch(t, gateway, 'carol', async (messages) => { onPhone.push(...ids(messages)) }, { deviceId: 'phone', pageSize: 4 })
  await until(async () => onPhone.length === 6 && await totalPending(gateway, 'carol', 'phone') === 0, 'the phone has everything, acked')
  t.same([...onPhone].sort(), [...stored].sort(), 'the phone got every message')
  t.equal(await totalPending(gateway, 'carol', 'laptop'), 6, "the phone's acks took nothing from the laptop")

  const onLaptop: string[] = []
  const laptop = startWatch(t, gateway, 'carol', async (messages) => { onLaptop.push(...ids(messages)) }, { deviceId: 'laptop' })
  await until(async () => onLaptop.length === 6 && await totalPending(gateway, 'carol', 'laptop') === 0, 'the laptop has everything, acked')
  t.same([...onLaptop].sort(), [...stored].sort(), 'the laptop got every message too')

  // Both now wait in a long-poll each; a new message wakes both.
  await until(async () => await waiters(service.url) === 2, 'both devices wait')
  const later = await storeMessages(service.url, 'carol', ['erin'], 1)
  await until(async () => onPhone.length === 7 && onLaptop.length === 7, 'the new message reaches both')
  t.same([onPhone.at(-1), onLaptop.at(-1)], [later[0], later[0]])
  await until(async () => (await listDevices(gateway, 'carol')).every((device) => device.pending_count === 0), 'both acked it')
  const deleted = await gateway.GET('/v1/receivers/{receiver_uid}/messages/{msg_id}', {
    params: { path: { receiver_uid: 'carol', msg_id: 'erin-0' }, query: { device_id: 'phone' } }
  })
  t.equal(deleted.response.status, 404, 'acked by every device: gone')
  phone.controller.abort()
  laptop.controller.abort()
  t.same(await phone.done, { pages: 3, delivered: 7, acked: 7 })
  t.same(await laptop.done, { pages: 2, delivered: 7, acked: 7 })
})

t.test('registerDevice, listDevices and unregisterDevice: idempotent registration, the list with pending counts, and unregistering', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }), MAX_DEVICES_PER_RECEIVER: '2' })
  const gateway = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.gateway) })
  t.same(await listDevices(gateway, 'carol'), [], 'no devices yet')
  await storeMessages(service.url, 'carol', ['alice'], 2)

  const phone = await registerDevice(gateway, 'carol', 'phone')
  t.match(phone, { device_id: 'phone', pending_count: 2, registered_at: String }, 'the first device takes over what was pending')
  t.same(await registerDevice(gateway, 'carol', 'phone'), phone, 'registering again answers the same')
  await registerDevice(gateway, 'carol', 'laptop')
  const listed = await listDevices(gateway, 'carol')
  t.same(listed.map((device) => [device.device_id, device.pending_count, device.last_ack_at]), [['phone', 2, null], ['laptop', 0, null]])
  await t.rejects(registerDevice(gateway, 'carol', 'tablet'), { name: 'OfflineMessagesError', status: 409, body: { code: 'TOO_MANY_DEVICES' } })

  t.equal(await unregisterDevice(gateway, 'carol', 'phone'), undefined)
  t.same((await listDevices(gateway, 'carol')).map((device) => device.device_id), ['laptop'], 'the phone is gone')
  t.equal(await totalPending(gateway, 'carol', 'laptop'), 0, "what was pending only for the phone went with it")
  await unregisterDevice(gateway, 'carol', 'phone')
  t.pass('unregistering again is not an error')

  const reader = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.reader) })
  await t.rejects(registerDevice(reader, 'carol', 'tablet'), { name: 'OfflineMessagesError', status: 403 }, 'registering needs the ack scope')
  await t.rejects(unregisterDevice(reader, 'carol', 'laptop'), { name: 'OfflineMessagesError', status: 403 }, 'so does unregistering')
  t.same((await listDevices(reader, 'carol')).map((device) => device.device_id), ['laptop'], 'listing needs read only')
})
