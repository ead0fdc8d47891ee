// POST /v1/receivers/{receiver_uid}/acks and DELETE /v1/receivers/{receiver_uid}/messages/{msg_id}: what an ack deletes, and what it refuses.
import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { errorOf, pendingIds, postAck, store, type Call } from '../helpers/requests.js'

const INVALID = { status: 400, keys: ['code', 'error', 'message', 'statusCode'], statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request' }

/** Stores m1..m5 for bob: m1, m3, m5 from alice and m2, m4 from carol (seq 1..5). */
async function storeFive (call: Call): Promise<void> {
  for (const [index, sender] of ['alice', 'carol', 'alice', 'carol', 'alice'].entries()) {
    await store(call, { msg_id: `m${index + 1}`, sender_uid: sender })
  }
}

/** After storeFive, acks `body` for bob and expects 200 with `deleted` and exactly `left` still pending; returns the call for a test that goes on. */
async function expectAckOfFive (t: Test, body: Record<string, unknown>, deleted: number, left: string[]): Promise<Call> {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  const res = await postAck(call, body)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { deleted })
  t.same(await pendingIds(call), left)
  return call
}

/** After storeFive, sends DELETE `url` and expects 204 with an empty body and exactly `left` still pending for bob. */
async function expectDeleteOfFive (t: Test, url: string, left: string[]): Promise<void> {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  const res = await call({ method: 'DELETE', url })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.same(await pendingIds(call), left)
}

t.test('an ack by msg_ids deletes exactly those messages and answers how many', async (t) => {
  await expectAckOfFive(t, { msg_ids: ['m2', 'm4', 'm5'] }, 3, ['m1', 'm3'])
})

t.test('an ack by up_to_seq deletes every message of the receiver with seq <= up_to_seq, from all senders', async (t) => {
  await expectAckOfFive(t, { up_to_seq: 3 }, 3, ['m4', 'm5'])
})

t.test("an ack by up_to_seq with sender_uid deletes only that sender's messages with seq <= up_to_seq", async (t) => {
  const call = await expectAckOfFive(t, { up_to_seq: 4, sender_uid: 'carol' }, 2, ['m1', 'm3', 'm5'])
  t.same((await postAck(call, { up_to_seq: 3, sender_uid: 'alice' })).json(), { deleted: 2 })
  t.same(await pendingIds(call), ['m5'])
})

t.test('an ack with up_to_seq 0 deletes nothing', async (t) => {
  await expectAckOfFive(t, { up_to_seq: 0 }, 0, ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test('acking again is idempotent: it answers deleted 0', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.same((await postAck(call, { msg_ids: ['m1', 'm2'] })).json(), { deleted: 2 })
  const again = await postAck(call, { msg_ids: ['m1', 'm2'] })
  t.equal(again.statusCode, 200)
  t.same(again.json(), { deleted: 0 })
  t.same((await postAck(call, { up_to_seq: 4 })).json(), { deleted: 2 })
  t.same((await postAck(call, { up_to_seq: 4 })).json(), { deleted: 0 })
  t.same(await pendingIds(call), ['m5'])
})

t.test('unknown msg_ids in an ack are ignored; the known ones are deleted', async (t) => {
  await expectAckOfFive(t, { msg_ids: ['nope-1', 'm3', 'nope-2'] }, 1, ['m1', 'm2', 'm4', 'm5'])
})

t.test('the same msg_id twice in one ack deletes one message and counts it once', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.same((await postAck(call, { msg_ids: ['m1', 'm1'] })).json(), { deleted: 1 })
  t.same(await pendingIds(call), ['m2', 'm3', 'm4', 'm5'])
})

t.test('an ack for a receiver with nothing stored answers deleted 0', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.same((await postAck(call, { msg_ids: ['m1'] }, 'nobody')).json(), { deleted: 0 })
  t.same((await postAck(call, { up_to_seq: 100 }, 'nobody')).json(), { deleted: 0 })
  t.same(await pendingIds(call), ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test("an ack never touches another receiver's messages, even with the same msg_ids", async (t) => {
  const { call } = await buildTestApp(t)
  // bob's seqs are one ahead of zoe's, so a mix-up of receivers would hit a different message.
  await store(call, { receiver_uid: 'bob', msg_id: 'bob-only', sender_uid: 'alice' })
  for (const id of ['x1', 'x2', 'x3']) {
    await store(call, { receiver_uid: 'bob', msg_id: id, sender_uid: 'alice' })
    await store(call, { receiver_uid: 'zoe', msg_id: id, sender_uid: 'alice' })
  }
  t.same((await postAck(call, { msg_ids: ['x1', 'bob-only'] }, 'zoe')).json(), { deleted: 1 })
  t.same(await pendingIds(call, 'bob'), ['bob-only', 'x1', 'x2', 'x3'])
  t.same(await pendingIds(call, 'zoe'), ['x2', 'x3'])
  t.same((await postAck(call, { up_to_seq: 2 }, 'zoe')).json(), { deleted: 1 })
  t.same(await pendingIds(call, 'zoe'), ['x3'])
  t.same((await postAck(call, { up_to_seq: 1000, sender_uid: 'alice' }, 'zoe')).json(), { deleted: 1 })
  t.same(await pendingIds(call, 'zoe'), [])
  t.same(await pendingIds(call, 'bob'), ['bob-only', 'x1', 'x2', 'x3'])
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/zoe/messages/x3' })).statusCode, 204)
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/zoe/messages/bob-only' })).statusCode, 204)
  t.same(await pendingIds(call, 'bob'), ['bob-only', 'x1', 'x2', 'x3'])
  t.equal((await call({ method: 'GET', url: '/v1/receivers/bob/senders' })).json().total_pending, 4)
})

t.test('an ack with both msg_ids and up_to_seq answers 400 and deletes nothing', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.same(errorOf(await postAck(call, { msg_ids: ['m1'], up_to_seq: 5 })), INVALID)
  t.same(await pendingIds(call), ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test('an ack with neither msg_ids nor up_to_seq answers 400', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.same(errorOf(await postAck(call, {})), INVALID)
  t.same(errorOf(await postAck(call, { sender_uid: 'alice' })), INVALID, 'sender_uid alone')
  t.same(await pendingIds(call), ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test('sender_uid with msg_ids answers 400 and deletes nothing', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.same(errorOf(await postAck(call, { msg_ids: ['m1'], sender_uid: 'alice' })), INVALID)
  t.same(await pendingIds(call), ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test('an empty msg_ids list answers 400', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.same(errorOf(await postAck(call, { msg_ids: [] })), INVALID)
})

t.test('msg_ids holds at most 1000 ids: 1001 answers 400, 1000 are accepted', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  const many = (count: number) => Array.from({ length: count }, (_, index) => `m${index + 1}`)
  t.same(errorOf(await postAck(call, { msg_ids: many(1001) })), INVALID)
  t.same(await pendingIds(call), ['m1', 'm2', 'm3', 'm4', 'm5'], 'nothing deleted by the refused ack')
  const res = await postAck(call, { msg_ids: many(1000) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { deleted: 5 })
})

t.test('up_to_seq must be an integer >= 0: -1, 1.5 and "3" answer 400', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  for (const upToSeq of [-1, 1.5, '3', null]) {
    t.same(errorOf(await postAck(call, { up_to_seq: upToSeq })), INVALID, `up_to_seq ${JSON.stringify(upToSeq)}`)
  }
  t.same(await pendingIds(call), ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test('an ack body with an unknown field or an invalid msg_id answers 400', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.same(errorOf(await postAck(call, { msg_ids: ['m1'], msgids: ['m2'] })), INVALID)
  t.same(errorOf(await postAck(call, { msg_ids: ['m1', 'not valid'] })), INVALID)
  t.same(await pendingIds(call), ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test('DELETE of a message answers 204 and deletes only it', async (t) => {
  await expectDeleteOfFive(t, '/v1/receivers/bob/messages/m3', ['m1', 'm2', 'm4', 'm5'])
})

t.test('DELETE answers 204 again when the message is already gone', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/m3' })).statusCode, 204)
  const again = await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/m3' })
  t.equal(again.statusCode, 204)
  t.equal(again.body, '')
  const never = await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/never-stored' })
  t.equal(never.statusCode, 204)
  t.same(await pendingIds(call), ['m1', 'm2', 'm4', 'm5'])
})

t.test('DELETE for an unknown receiver answers 204', async (t) => {
  await expectDeleteOfFive(t, '/v1/receivers/nobody/messages/m1', ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test('DELETE with a msg_id or receiver_uid that breaks the id rules answers 400', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  for (const url of ['/v1/receivers/bob/messages/bad%20id', `/v1/receivers/bob/messages/${'x'.repeat(71)}`, '/v1/receivers/b%20b/messages/m1']) {
    t.same(errorOf(await call({ method: 'DELETE', url })), INVALID, url)
  }
  t.same(errorOf(await postAck(call, { up_to_seq: 5 }, 'b%20b')), INVALID, 'acks with a bad receiver_uid')
  t.same(await pendingIds(call), ['m1', 'm2', 'm3', 'm4', 'm5'])
})

t.test('deleted is a JSON number on every store', async (t) => {
  const { call } = await buildTestApp(t)
  await storeFive(call)
  const res = await postAck(call, { up_to_seq: 2 })
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.body, '{"deleted":2}')
  t.type(res.json().deleted, 'number')
})
