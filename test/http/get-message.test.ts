// GET /v1/receivers/{receiver_uid}/messages/{msg_id}: one pending message, or 404 MESSAGE_NOT_FOUND.
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { errorOf, getOne, postAck, store, TIME } from '../helpers/requests.js'

/** The parts of a 404 answer a test checks, so one t.same shows every difference at once. */
function notFound (res: { statusCode: number, json (): any }, msgId: string): Record<string, unknown> {
  const { message } = res.json()
  return { ...errorOf(res), namesTheId: typeof message === 'string' && message.includes(msgId) }
}

const NOT_FOUND = {
  status: 404, keys: ['code', 'error', 'message', 'statusCode'], statusCode: 404, code: 'MESSAGE_NOT_FOUND', error: 'Not Found', namesTheId: true
}

t.test('a pending message is answered with 200 exactly as it was stored', async (t) => {
  const { call } = await buildTestApp(t)
  const stored = await store(call, { msg_id: 'chat:42@node+1', sender_uid: 'alice', msg_type: 3, content: 'voice 🎤', send_time: '2026-11-27T04:00:00.000Z' })
  await store(call, { sender_uid: 'alice' })
  const res = await getOne(call, 'bob', 'chat:42@node+1')
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    msg_id: 'chat:42@node+1',
    receiver_uid: 'bob',
    sender_uid: 'alice',
    msg_type: 3,
    content: 'voice 🎤',
    send_time: '2026-11-27T04:00:00.000Z',
    collapse_key: null,
    seq: 1,
    stored_at: stored.stored_at,
    expires_at: stored.expires_at
  })
  t.equal(res.json().stored_at, '2026-11-27T04:36:55.123Z')
})

t.test('an unknown msg_id answers 404 MESSAGE_NOT_FOUND', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { msg_id: 'known' })
  t.same(notFound(await getOne(call, 'bob', 'unknown'), 'unknown'), NOT_FOUND)
  t.same(notFound(await getOne(call, 'nobody', 'known'), 'known'), NOT_FOUND)
})

t.test("another receiver's message answers 404 MESSAGE_NOT_FOUND", async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { receiver_uid: 'zoe', msg_id: 'zoes-message' })
  t.same(notFound(await getOne(call, 'bob', 'zoes-message'), 'zoes-message'), NOT_FOUND)
  t.equal((await getOne(call, 'zoe', 'zoes-message')).statusCode, 200)
})

t.test('an acked message answers 404 MESSAGE_NOT_FOUND', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { msg_id: 'acked-by-id' })
  await store(call, { msg_id: 'acked-by-delete' })
  await store(call, { msg_id: 'still-pending' })
  const acked = await postAck(call, { msg_ids: ['acked-by-id'] })
  t.same(acked.json(), { deleted: 1 })
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/acked-by-delete' })).statusCode, 204)
  t.same(notFound(await getOne(call, 'bob', 'acked-by-id'), 'acked-by-id'), NOT_FOUND)
  t.same(notFound(await getOne(call, 'bob', 'acked-by-delete'), 'acked-by-delete'), NOT_FOUND)
  t.equal((await getOne(call, 'bob', 'still-pending')).statusCode, 200)
})

t.test('an expired message answers 404 MESSAGE_NOT_FOUND, before and after the sweep', async (t) => {
  const { app, call, clock } = await buildTestApp(t)
  await store(call, { msg_id: 'short-lived', ttl_seconds: 60 })
  await store(call, { msg_id: 'long-lived' })
  clock.advance(59_999)
  t.equal((await getOne(call, 'bob', 'short-lived')).statusCode, 200, 'still there just before it expires')
  clock.advance(2)
  t.same(notFound(await getOne(call, 'bob', 'short-lived'), 'short-lived'), NOT_FOUND)
  await app.messages.sweep()
  t.same(notFound(await getOne(call, 'bob', 'short-lived'), 'short-lived'), NOT_FOUND)
  t.equal((await getOne(call, 'bob', 'long-lived')).statusCode, 200)
})

t.test('a msg_id or receiver_uid in the path that breaks the id rules answers 400', async (t) => {
  const { call } = await buildTestApp(t)
  for (const [receiver, msgId] of [['bob', 'has space'], ['bob', 'x'.repeat(71)], ['bob', 'semi;colon'], ['b'.repeat(51), 'ok'], ['bo%23b', 'ok']] as const) {
    const res = await getOne(call, receiver, msgId)
    t.equal(res.statusCode, 400, `${receiver} ${msgId}`)
    t.equal(res.json().code, 'FST_ERR_VALIDATION')
  }
})

t.test('one message has JSON numbers and RFC 3339 UTC times with milliseconds', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { msg_id: 'typed', msg_type: 0, send_time: '2026-11-27T04:36:55Z' })
  const message = (await getOne(call, 'bob', 'typed')).json()
  t.type(message.seq, 'number')
  t.type(message.msg_type, 'number')
  t.equal(message.msg_type, 0)
  for (const field of ['send_time', 'stored_at', 'expires_at']) t.match(message[field], TIME, field)
  t.equal(message.send_time, '2026-11-27T04:36:55.000Z')
})
