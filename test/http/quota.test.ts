// The per-receiver quota MAX_PENDING_PER_RECEIVER under both overflow policies: reject (429 INBOX_FULL) and drop_oldest.
import t from 'tap'
import { buildTestApp, newMessage } from '../helpers/app.js'
import { errorOf, getOne, pendingIds, post, postAck, rowsOf, store, summary } from '../helpers/requests.js'

const REJECT = { MAX_PENDING_PER_RECEIVER: '3', OVERFLOW_POLICY: 'reject' }
const DROP_OLDEST = { MAX_PENDING_PER_RECEIVER: '3', OVERFLOW_POLICY: 'drop_oldest' }
const SECOND = 1000

/** The parts of an INBOX_FULL answer a test checks, so one t.same shows every difference at once. */
function inboxFull (res: { statusCode: number, json (): any }): Record<string, unknown> {
  const { message } = res.json()
  return { ...errorOf(res), message: typeof message === 'string' && message.length > 0 }
}

const INBOX_FULL = {
  status: 429, keys: ['code', 'error', 'message', 'statusCode'], statusCode: 429, code: 'INBOX_FULL', error: 'Too Many Requests', message: true
}

t.test('under reject, a store beyond MAX_PENDING_PER_RECEIVER answers 429 INBOX_FULL and stores nothing', async (t) => {
  const { call } = await buildTestApp(t, REJECT)
  for (const id of ['q1', 'q2', 'q3']) await store(call, { msg_id: id })
  const res = await post(call, newMessage({ msg_id: 'q4' }))
  t.same(inboxFull(res), INBOX_FULL)
  t.same(await pendingIds(call), ['q1', 'q2', 'q3'])
  t.equal((await summary(call)).total_pending, 3)
  t.equal((await getOne(call, 'bob', 'q4')).statusCode, 404)
  const next = await post(call, newMessage({ msg_id: 'q5' }))
  t.same(inboxFull(next), INBOX_FULL, 'and again for the next one')
})

t.test("under reject, one receiver's full inbox does not affect other receivers", async (t) => {
  const { call } = await buildTestApp(t, REJECT)
  for (let i = 0; i < 3; i++) await store(call, { receiver_uid: 'bob', sender_uid: 'alice' })
  t.equal((await post(call, newMessage({ receiver_uid: 'bob', sender_uid: 'alice' }))).statusCode, 429)
  for (let i = 0; i < 3; i++) {
    const res = await post(call, newMessage({ receiver_uid: 'zoe', sender_uid: 'alice' }))
    t.equal(res.statusCode, 201, `zoe's message ${i + 1}`)
  }
  t.equal((await summary(call, 'zoe')).total_pending, 3)
  t.equal((await summary(call, 'bob')).total_pending, 3)
})

t.test('under reject, an ack makes room again', async (t) => {
  const { call } = await buildTestApp(t, REJECT)
  for (const id of ['q1', 'q2', 'q3']) await store(call, { msg_id: id })
  t.equal((await post(call, newMessage({ msg_id: 'q4' }))).statusCode, 429)
  const acked = await postAck(call, { msg_ids: ['q2'] })
  t.same(acked.json(), { deleted: 1 })
  const res = await post(call, newMessage({ msg_id: 'q4' }))
  t.equal(res.statusCode, 201)
  t.match(res.json(), { seq: 4, duplicate: false })
  t.same(inboxFull(await post(call, newMessage({ msg_id: 'q5' }))), INBOX_FULL, 'full again')
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/q1' })).statusCode, 204)
  t.equal((await post(call, newMessage({ msg_id: 'q5' }))).statusCode, 201, 'a DELETE makes room too')
  t.same(await pendingIds(call), ['q3', 'q4', 'q5'])
})

t.test('a retry of an already stored message is still a 200 duplicate when the inbox is full', async (t) => {
  const { call } = await buildTestApp(t, REJECT)
  const bodies = [newMessage({ msg_id: 'q1' }), newMessage({ msg_id: 'q2' }), newMessage({ msg_id: 'q3' })]
  for (const body of bodies) t.equal((await post(call, body)).statusCode, 201)
  const retry = await post(call, bodies[1] as Record<string, unknown>)
  t.equal(retry.statusCode, 200)
  t.match(retry.json(), { duplicate: true, seq: 2, msg_id: 'q2' })
  t.same(await pendingIds(call), ['q1', 'q2', 'q3'])
})

t.test('a retry of an acked message (a tombstone) is still a 200 duplicate when the inbox is full', async (t) => {
  const { call } = await buildTestApp(t, REJECT)
  const first = newMessage({ msg_id: 'acked-first' })
  t.equal((await post(call, first)).statusCode, 201)
  t.same((await postAck(call, { up_to_seq: 1 })).json(), { deleted: 1 })
  for (const id of ['q2', 'q3', 'q4']) await store(call, { msg_id: id })
  const retry = await post(call, first)
  t.equal(retry.statusCode, 200)
  t.match(retry.json(), { duplicate: true, seq: 1 })
  t.same(await pendingIds(call), ['q2', 'q3', 'q4'])
})

t.test('expired messages do not count toward the quota', async (t) => {
  const { call, clock } = await buildTestApp(t, REJECT)
  await store(call, { msg_id: 'short-1', ttl_seconds: 60 })
  await store(call, { msg_id: 'short-2', ttl_seconds: 60 })
  await store(call, { msg_id: 'long' })
  t.equal((await post(call, newMessage({ msg_id: 'too-early' }))).statusCode, 429)
  clock.advance(61 * SECOND)
  t.equal((await post(call, newMessage({ msg_id: 'new-1' }))).statusCode, 201, 'no sweep has run: the store itself does not count them')
  t.equal((await post(call, newMessage({ msg_id: 'new-2' }))).statusCode, 201)
  t.same(inboxFull(await post(call, newMessage({ msg_id: 'new-3' }))), INBOX_FULL)
  t.same(await pendingIds(call), ['long', 'new-1', 'new-2'])
})

t.test('under drop_oldest, a store beyond the quota is stored and the message with the lowest seq is gone', async (t) => {
  const { call } = await buildTestApp(t, DROP_OLDEST)
  for (const id of ['d1', 'd2', 'd3']) await store(call, { msg_id: id })
  const res = await post(call, newMessage({ msg_id: 'd4' }))
  t.equal(res.statusCode, 201)
  t.match(res.json(), { duplicate: false, seq: 4, msg_id: 'd4' })
  t.same(await pendingIds(call), ['d2', 'd3', 'd4'])
  t.equal((await getOne(call, 'bob', 'd1')).statusCode, 404)
  t.equal((await post(call, newMessage({ msg_id: 'd5' }))).statusCode, 201)
  t.same(await pendingIds(call), ['d3', 'd4', 'd5'])
})

t.test("under drop_oldest, the dropped message's sender shows lost_count 1 and total_pending stays at the quota", async (t) => {
  const { call } = await buildTestApp(t, DROP_OLDEST)
  for (const sender of ['alice', 'carol', 'alice', 'dave']) await store(call, { sender_uid: sender })
  const body = await summary(call)
  t.equal(body.total_pending, 3)
  t.same(rowsOf(body), [['dave', 1, 4, 0], ['alice', 1, 3, 1], ['carol', 1, 2, 0]])
})

t.test('under drop_oldest, a sender whose only message was dropped keeps a lost-only row', async (t) => {
  const { call } = await buildTestApp(t, DROP_OLDEST)
  for (const sender of ['alice', 'carol', 'carol', 'carol']) await store(call, { sender_uid: sender })
  const body = await summary(call)
  t.equal(body.total_pending, 3)
  t.same(body.senders.find((row: Record<string, unknown>) => row.sender_uid === 'alice'), {
    sender_uid: 'alice', pending_count: 0, last_seq: null, last_send_time: null, last_msg_type: null, last_content_preview: null, lost_count: 1
  })
  t.same(rowsOf(body).find((row: unknown[]) => row[0] === 'carol'), ['carol', 3, 4, 0])
})

t.test("under drop_oldest, a retry is a duplicate and drops nothing; other receivers' messages are never dropped", async (t) => {
  const { call } = await buildTestApp(t, DROP_OLDEST)
  await store(call, { receiver_uid: 'zoe', msg_id: 'zoe-oldest' })
  const bodies = [newMessage({ msg_id: 'd1' }), newMessage({ msg_id: 'd2' }), newMessage({ msg_id: 'd3' })]
  for (const body of bodies) t.equal((await post(call, body)).statusCode, 201)
  const retry = await post(call, bodies[2] as Record<string, unknown>)
  t.equal(retry.statusCode, 200)
  t.match(retry.json(), { duplicate: true, seq: 3 })
  t.same(await pendingIds(call), ['d1', 'd2', 'd3'])
  t.equal((await post(call, newMessage({ msg_id: 'd4' }))).statusCode, 201)
  t.same(await pendingIds(call), ['d2', 'd3', 'd4'])
  t.same(await pendingIds(call, 'zoe'), ['zoe-oldest'])
})

t.test('under reject, the quota holds exactly under concurrent stores', async (t) => {
  const { call } = await buildTestApp(t, REJECT)
  const answers = await Promise.all(Array.from({ length: 12 }, () => post(call, newMessage())))
  const statuses = answers.map((res) => res.statusCode).sort()
  t.same(statuses, [201, 201, 201, 429, 429, 429, 429, 429, 429, 429, 429, 429])
  for (const res of answers.filter((answer) => answer.statusCode === 429)) t.same(inboxFull(res), INBOX_FULL)
  const stored = answers.filter((res) => res.statusCode === 201).map((res) => res.json().msg_id as string)
  t.same((await pendingIds(call)).sort(), stored.sort())
  t.equal((await summary(call)).total_pending, 3)
})

t.test('under drop_oldest, concurrent stores all succeed and leave exactly the quota, the newest by seq', async (t) => {
  const { call } = await buildTestApp(t, DROP_OLDEST)
  const answers = await Promise.all(Array.from({ length: 12 }, (_, index) => post(call, newMessage({ sender_uid: `s${index % 2}` }))))
  t.same(answers.map((res) => res.statusCode), Array(12).fill(201))
  const bySeq = answers.map((res) => res.json()).sort((a, b) => a.seq - b.seq)
  t.same(bySeq.map((message) => message.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
  t.same(await pendingIds(call), bySeq.slice(9).map((message) => message.msg_id))
  const body = await summary(call)
  t.equal(body.total_pending, 3)
  const lost = body.senders.reduce((sum: number, row: Record<string, any>) => sum + (row.lost_count as number), 0)
  t.equal(lost, 9, 'every dropped message is counted lost once')
})

t.test('expired messages removed by a refused ack or a device call that changes nothing free their room in the quota', async (t) => {
  const calls: Array<[string, (call: Parameters<typeof store>[0]) => Promise<{ statusCode: number }>]> = [
    ['an ack naming a device of a receiver without devices', async (call) => await postAck(call, { up_to_seq: 9, device_id: 'ghost' })],
    ['registering a device again', async (call) => await call({ method: 'PUT', url: '/v1/receivers/bob/devices/phone' })],
    ['unregistering a device that is not registered', async (call) => await call({ method: 'DELETE', url: '/v1/receivers/bob/devices/ghost' })]
  ]
  for (const [what, request] of calls) {
    const { call, clock } = await buildTestApp(t, { MAX_PENDING_PER_RECEIVER: '1', OVERFLOW_POLICY: 'reject' })
    if (what !== calls[0]?.[0]) t.equal((await call({ method: 'PUT', url: '/v1/receivers/bob/devices/phone' })).statusCode, 201)
    await store(call, { msg_id: 'm1', ttl_seconds: 10 })
    clock.advance(10 * SECOND)
    const answer = await request(call)
    t.ok(answer.statusCode < 500, `${what}: answers ${answer.statusCode}`)
    t.equal((await post(call, newMessage({ msg_id: 'm2' }))).statusCode, 201, `${what}: then the empty inbox takes a message`)
  }
})
