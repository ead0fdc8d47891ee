// Long-poll (wait_seconds on a page): at once when not empty, held while empty, woken by a matching commit, the empty
// page when the time is up, no lost wake-up, MAX_WAITERS, callers that leave, and shutdown.
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { PageQuery } from '../../src/store/types.js'
import { AUTH, buildTestApp, newMessage, type TestApp } from '../helpers/app.js'

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function until (condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`)
    await pause(5)
  }
}

const page = ({ call }: TestApp, receiverUid: string, query: string) =>
  call({ method: 'GET', url: `/v1/receivers/${receiverUid}/messages?${query}` })
const store = ({ call }: TestApp, body: Record<string, unknown>) => call({ method: 'POST', url: '/v1/messages', payload: newMessage(body) })

async function metric (test: TestApp, name: string): Promise<number> {
  const text = (await test.app.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1])
}

t.test('a page that is not empty answers at once, as without waiting', async (t) => {
  const test = await buildTestApp(t)
  await store(test, { receiver_uid: 'w-now', msg_id: 'a' })
  const started = Date.now()
  const res = await page(test, 'w-now', 'wait_seconds=30')
  t.equal(res.statusCode, 200)
  t.strictSame(res.json().messages.map((m: { msg_id: string }) => m.msg_id), ['a'])
  t.ok(Date.now() - started < 10_000, 'not held')
  t.equal(test.app.messages.heldRequests(), 0)
})

t.test('a held request answers with the page as soon as a matching message commits', async (t) => {
  const test = await buildTestApp(t)
  const held = page(test, 'w-held', 'wait_seconds=30')
  await until(() => test.app.messages.heldRequests() === 1, 'the request is held')
  t.equal(await metric(test, 'offline_messages_waiters'), 1, 'the waiters gauge counts it')
  const started = Date.now()
  const stored = await store(test, { receiver_uid: 'w-held', msg_id: 'hello' })
  const res = await held
  t.ok(Date.now() - started < 10_000, 'answered long before wait_seconds')
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.strictSame(body.messages.map((m: { msg_id: string }) => m.msg_id), ['hello'])
  t.equal(body.messages[0].seq, stored.json().seq)
  t.equal(body.has_more, false)
  t.equal(await metric(test, 'offline_messages_waiters'), 0)
  t.equal(await metric(test, 'offline_messages_wakeups_total'), 1)
})

t.test('a request for one sender stays held through another sender\'s message', async (t) => {
  const test = await buildTestApp(t)
  let answered = false
  const held = page(test, 'w-sender', 'sender_uid=alice&wait_seconds=30').then((res) => { answered = true; return res })
  await until(() => test.app.messages.heldRequests() === 1, 'the request is held')
  await store(test, { receiver_uid: 'w-sender', sender_uid: 'carol', msg_id: 'from-carol' })
  await pause(300)
  t.notOk(answered, 'carol\'s message does not answer a request for alice\'s')
  t.equal(test.app.messages.heldRequests(), 1)
  await store(test, { receiver_uid: 'w-sender', sender_uid: 'alice', msg_id: 'from-alice' })
  t.strictSame((await held).json().messages.map((m: { msg_id: string }) => m.msg_id), ['from-alice'])
})

t.test('when the time is up it answers the empty page, has_more false and next_cursor as without waiting', async (t) => {
  const test = await buildTestApp(t)
  await store(test, { receiver_uid: 'w-time', msg_id: 'seen' })
  const cursor = (await page(test, 'w-time', '')).json().next_cursor as string
  const without = (await page(test, 'w-time', `cursor=${cursor}`)).json()
  const started = Date.now()
  const res = await page(test, 'w-time', `cursor=${cursor}&wait_seconds=1`)
  t.ok(Date.now() - started >= 950, 'held about wait_seconds')
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), { messages: [], next_cursor: cursor, has_more: false })
  t.strictSame(res.json(), without)
})

t.test('no lost wake-up: a message that commits after the read and before the wait still wakes the request', async (t) => {
  const test = await buildTestApp(t)
  const original = test.app.store.page.bind(test.app.store)
  let reads = 0
  test.app.store.page = async (query: PageQuery) => {
    const rows = await original(query)
    // The first read finds nothing; before the request can start waiting, a matching message commits.
    if (reads++ === 0) t.equal((await store(test, { receiver_uid: 'w-race', msg_id: 'in-between' })).statusCode, 201)
    return rows
  }
  const started = Date.now()
  const res = await page(test, 'w-race', 'wait_seconds=5')
  t.strictSame(res.json().messages.map((m: { msg_id: string }) => m.msg_id), ['in-between'], 'the request woke and read again')
  t.ok(Date.now() - started < 4000, 'without sleeping through its wait')
  t.equal(reads, 2)
})

t.test('beyond MAX_WAITERS a request that would be held answers 503 TOO_MANY_WAITERS with Retry-After: 1', async (t) => {
  const test = await buildTestApp(t, { MAX_WAITERS: '2' })
  const held = [page(test, 'w-max-1', 'wait_seconds=30'), page(test, 'w-max-2', 'wait_seconds=30')]
  await until(() => test.app.messages.heldRequests() === 2, 'two are held')
  const refused = await page(test, 'w-max-3', 'wait_seconds=30')
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'TOO_MANY_WAITERS')
  t.equal(refused.headers['retry-after'], '1')
  await store(test, { receiver_uid: 'w-max-3', msg_id: 'x' })
  t.equal((await page(test, 'w-max-3', 'wait_seconds=30')).statusCode, 200, 'a page that is not empty is not held, so not refused')
  await store(test, { receiver_uid: 'w-max-1' })
  await store(test, { receiver_uid: 'w-max-2' })
  for (const res of await Promise.all(held)) t.equal(res.json().messages.length, 1)
})

t.test('wait_seconds must be an integer from 0 to 30', async (t) => {
  const test = await buildTestApp(t)
  for (const value of ['31', '-1', '1.5', 'soon']) {
    const res = await page(test, 'w-bad', `wait_seconds=${value}`)
    t.equal(res.statusCode, 400, value)
    t.match(res.json(), { code: 'FST_ERR_VALIDATION', message: /wait_seconds/ })
  }
})

t.test('a caller that disconnects is forgotten at once', async (t) => {
  const test = await buildTestApp(t)
  await test.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = test.app.server.address() as AddressInfo
  const request = httpRequest({ host: '127.0.0.1', port, path: '/v1/receivers/w-gone/messages?wait_seconds=30', headers: AUTH.admin, agent: false })
  request.on('error', () => { /* destroyed below */ })
  request.end()
  await until(() => test.app.messages.heldRequests() === 1, 'the request is held')
  request.destroy()
  await until(() => test.app.messages.heldRequests() === 0, 'the held request is forgotten', 2000)
  t.equal(await metric(test, 'offline_messages_waiters'), 0, 'the gauge is back to 0')
})

t.test('closing the app answers every held request at once with its empty page', async (t) => {
  const test = await buildTestApp(t)
  const held = [1, 2, 3].map((i) => page(test, `w-close-${i}`, 'wait_seconds=30'))
  await until(() => test.app.messages.heldRequests() === 3, 'three are held')
  const started = Date.now()
  await test.app.close()
  for (const res of await Promise.all(held)) {
    t.equal(res.statusCode, 200)
    t.match(res.json(), { messages: [], has_more: false })
  }
  t.ok(Date.now() - started < 5000, 'at once, not after wait_seconds')
})
