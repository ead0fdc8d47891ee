// Retention: tombstones of acked messages (late retries stay duplicates), TTL expiry, lost counts, and the bounded TTL sweep.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, newMessage } from '../helpers/app.js'
import { ack, getOne, pendingIds, post, rowsOf, store, summary } from '../helpers/requests.js'

const SECOND = 1000
const DAY = 86_400 * SECOND

/** msg_ids of the rows physically left in the messages table (expired or not): the store's own page query with time at zero. */
async function rowsInStore (app: FastifyInstance, receiverUid = 'bob'): Promise<string[]> {
  const rows = await app.store.page({ receiverUid, afterSeq: 0, limit: 1000, now: 0 })
  return rows.map((row) => row.msgId)
}

// Tombstones

t.test('after an ack a retry of the store is a duplicate with the original seq and does not come back as pending', async (t) => {
  const { call, clock } = await buildTestApp(t)
  const original = await store(call, { msg_id: 'late-retry', sender_uid: 'alice', content: 'hello once' })
  t.equal(await ack(call, { msg_ids: ['late-retry'] }), 1)
  clock.advance(5 * SECOND)
  const retry = await post(call, { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'late-retry', msg_type: 1, content: 'hello once' })
  t.equal(retry.statusCode, 200)
  t.same(retry.json(), { ...original, duplicate: true }, 'the message as it was stored: same seq, stored_at and expires_at')
  t.same(await pendingIds(call), [])
  t.same(await summary(call), { receiver_uid: 'bob', total_pending: 0, senders: [], next_cursor: null })
  t.equal((await getOne(call, 'bob', 'late-retry')).statusCode, 404)
})

t.test('every kind of ack leaves a tombstone: by msg_ids, by up_to_seq, by sender, and by DELETE', async (t) => {
  const { call, clock } = await buildTestApp(t)
  const bodies = ['by-ids', 'by-up-to', 'by-sender', 'by-delete'].map((id) => newMessage({ msg_id: id, sender_uid: id === 'by-sender' ? 'carol' : 'alice' }))
  const originals: Array<Record<string, any>> = []
  for (const body of bodies) originals.push((await post(call, body)).json())
  t.equal(await ack(call, { msg_ids: ['by-ids'] }), 1)
  t.equal(await ack(call, { up_to_seq: 2 }), 1)
  t.equal(await ack(call, { up_to_seq: 3, sender_uid: 'carol' }), 1)
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/by-delete' })).statusCode, 204)
  clock.advance(3600 * SECOND)
  for (const [index, body] of bodies.entries()) {
    const retry = await post(call, body)
    t.equal(retry.statusCode, 200, String(body.msg_id))
    t.same(retry.json(), { ...originals[index], duplicate: true }, String(body.msg_id))
  }
  t.same(await pendingIds(call), [])
  t.equal((await summary(call)).total_pending, 0)
})

t.test('after an ack a retry with another payload answers 409 MSG_ID_CONFLICT', async (t) => {
  const { call } = await buildTestApp(t)
  const body = { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'acked', msg_type: 1, content: 'original' }
  t.equal((await post(call, body)).statusCode, 201)
  t.equal(await ack(call, { up_to_seq: 1 }), 1)
  for (const change of [{ content: 'changed' }, { msg_type: 2 }, { sender_uid: 'mallory' }]) {
    const res = await post(call, { ...body, ...change })
    t.equal(res.statusCode, 409, JSON.stringify(change))
    t.match(res.json(), { statusCode: 409, code: 'MSG_ID_CONFLICT', error: 'Conflict' })
  }
  t.same(await pendingIds(call), [])
})

t.test('once DEDUP_WINDOW_SECONDS have passed since the ack the same msg_id is stored as a new message', async (t) => {
  const { call, clock } = await buildTestApp(t, { DEDUP_WINDOW_SECONDS: '60' })
  const body = newMessage({ msg_id: 'window' })
  t.equal((await post(call, body)).statusCode, 201)
  clock.advance(10 * SECOND)
  t.equal(await ack(call, { msg_ids: ['window'] }), 1)
  clock.advance(60 * SECOND - 1)
  const inside = await post(call, body)
  t.equal(inside.statusCode, 200, 'still a duplicate inside the window')
  t.match(inside.json(), { duplicate: true, seq: 1 })
  clock.advance(2)
  const after = await post(call, body)
  t.equal(after.statusCode, 201)
  t.match(after.json(), { duplicate: false, seq: 2, msg_id: 'window' })
  t.same(await pendingIds(call), ['window'])
})

t.test('a tombstone removed by the sweep after the window lets the msg_id be stored as new', async (t) => {
  const { app, call, clock } = await buildTestApp(t, { DEDUP_WINDOW_SECONDS: '60' })
  const body = newMessage({ msg_id: 'swept-tombstone' })
  t.equal((await post(call, body)).statusCode, 201)
  t.equal(await ack(call, { msg_ids: ['swept-tombstone'] }), 1)
  await app.messages.sweep()
  t.equal((await post(call, body)).statusCode, 200, 'the sweep keeps a tombstone inside its window')
  clock.advance(61 * SECOND)
  await app.messages.sweep()
  const res = await post(call, body)
  t.equal(res.statusCode, 201)
  t.match(res.json(), { duplicate: false, seq: 2 })
})

t.test('with DEDUP_WINDOW_SECONDS=0 an ack leaves no tombstone', async (t) => {
  const { call } = await buildTestApp(t, { DEDUP_WINDOW_SECONDS: '0' })
  const body = newMessage({ msg_id: 'no-tombstone' })
  t.equal((await post(call, body)).statusCode, 201)
  t.equal(await ack(call, { msg_ids: ['no-tombstone'] }), 1)
  const again = await post(call, body)
  t.equal(again.statusCode, 201)
  t.match(again.json(), { duplicate: false, seq: 2 })
  t.equal(await ack(call, { msg_ids: ['no-tombstone'] }), 1)
  const other = await post(call, { ...body, content: 'another payload' })
  t.equal(other.statusCode, 201, 'another payload is not a conflict either')
  t.match(other.json(), { duplicate: false, seq: 3 })
})

// TTL

t.test('by default a message expires 30 days after it was stored', async (t) => {
  const { call } = await buildTestApp(t)
  const message = await store(call, { send_time: '2020-01-01T00:00:00.000Z' })
  t.equal(message.stored_at, '2026-11-27T04:36:55.123Z')
  t.equal(message.expires_at, '2026-12-27T04:36:55.123Z')
  t.equal(Date.parse(message.expires_at) - Date.parse(message.stored_at), 30 * DAY, 'from stored_at, not from send_time')
})

t.test('MESSAGE_TTL_SECONDS sets the default expiry', async (t) => {
  const { call } = await buildTestApp(t, { MESSAGE_TTL_SECONDS: '3600' })
  const message = await store(call)
  t.equal(Date.parse(message.expires_at) - Date.parse(message.stored_at), 3600 * SECOND)
})

t.test('ttl_seconds shortens the expiry; above MESSAGE_TTL_SECONDS or below 1 it answers 400', async (t) => {
  const { call } = await buildTestApp(t)
  const message = await store(call, { ttl_seconds: 60 })
  t.equal(message.expires_at, '2026-11-27T04:37:55.123Z')
  const longest = await store(call, { ttl_seconds: 2_592_000 })
  t.equal(longest.expires_at, '2026-12-27T04:36:55.123Z')
  for (const ttl of [2_592_001, 0, -1, 1.5]) {
    const res = await post(call, newMessage({ ttl_seconds: ttl }))
    t.equal(res.statusCode, 400, `ttl_seconds ${ttl}`)
    t.equal(res.json().code, 'FST_ERR_VALIDATION')
  }
})

t.test('once the clock passes expires_at the message is neither returned nor counted, and its sender shows lost_count before any sweep', async (t) => {
  const { call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'a-short', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', msg_id: 'a-long', content: 'still here' })
  await store(call, { sender_uid: 'alice', msg_id: 'a-short-2', ttl_seconds: 120 })
  const before = await summary(call)
  t.same(rowsOf(before), [['alice', 3, 3, 0]])
  clock.advance(60 * SECOND + 1)
  t.same(await pendingIds(call), ['a-long', 'a-short-2'])
  t.equal((await getOne(call, 'bob', 'a-short')).statusCode, 404)
  const first = await summary(call)
  t.equal(first.total_pending, 2)
  t.same(rowsOf(first), [['alice', 2, 3, 1]])
  clock.advance(60 * SECOND)
  t.same(await pendingIds(call), ['a-long'])
  const second = await summary(call)
  t.equal(second.total_pending, 1)
  t.same(second.senders, [{
    sender_uid: 'alice',
    pending_count: 1,
    last_seq: 2,
    last_send_time: '2026-11-27T04:36:55.123Z',
    last_msg_type: 1,
    last_content_preview: 'still here',
    lost_count: 2
  }], 'the row now describes the latest message still pending')
})

t.test("when a sender's latest message expires its row describes the latest one still pending and moves down", async (t) => {
  const { call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'a1', content: 'older, long-lived' })
  await store(call, { sender_uid: 'carol', msg_id: 'c1' })
  await store(call, { sender_uid: 'alice', msg_id: 'a2', ttl_seconds: 60 })
  t.same(rowsOf(await summary(call)), [['alice', 2, 3, 0], ['carol', 1, 2, 0]])
  clock.advance(61 * SECOND)
  const body = await summary(call)
  t.same(rowsOf(body), [['carol', 1, 2, 0], ['alice', 1, 1, 1]])
  t.equal(body.senders[1]?.last_content_preview, 'older, long-lived')
})

t.test('a sender with only lost messages still has a row: pending_count 0, last_* null', async (t) => {
  const { call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'carol', ttl_seconds: 60 })
  await store(call, { sender_uid: 'carol', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice' })
  clock.advance(61 * SECOND)
  const body = await summary(call)
  t.equal(body.total_pending, 1)
  const carol = body.senders.find((row: Record<string, unknown>) => row.sender_uid === 'carol')
  t.same(carol, {
    sender_uid: 'carol',
    pending_count: 0,
    last_seq: null,
    last_send_time: null,
    last_msg_type: null,
    last_content_preview: null,
    lost_count: 2
  })
  t.equal(body.senders.length, 2)
})

t.test('the sweep deletes expired messages and the counts stay right', async (t) => {
  const { app, call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'a1', ttl_seconds: 60 })
  await store(call, { sender_uid: 'carol', msg_id: 'c1', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', msg_id: 'a2' })
  await store(call, { receiver_uid: 'zoe', sender_uid: 'alice', msg_id: 'z1', ttl_seconds: 60 })
  clock.advance(61 * SECOND)
  t.same(await rowsInStore(app), ['a1', 'c1', 'a2'], 'nothing is deleted before the sweep')
  await app.messages.sweep()
  t.same(await rowsInStore(app), ['a2'])
  t.same(await rowsInStore(app, 'zoe'), [])
  const bob = await summary(call)
  t.equal(bob.total_pending, 1)
  t.same(rowsOf(bob), [['alice', 1, 3, 1], ['carol', 0, null, 1]])
  const zoe = await summary(call, 'zoe')
  t.equal(zoe.total_pending, 0)
  t.same(rowsOf(zoe), [['alice', 0, null, 1]])
})

t.test('lost counts read before the sweep stay the same after it: an expired message is counted once', async (t) => {
  const { app, call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice' })
  clock.advance(61 * SECOND)
  const before = await summary(call)
  t.same(rowsOf(before), [['alice', 1, 3, 2]])
  await app.messages.sweep()
  t.same(await summary(call), before)
  t.same(await rowsInStore(app), (await pendingIds(call)))
})

t.test('an expired message leaves no tombstone: its msg_id can be stored again as new', async (t) => {
  const { app, call, clock } = await buildTestApp(t)
  const body = newMessage({ msg_id: 'expired-id', ttl_seconds: 60 })
  const swept = newMessage({ msg_id: 'swept-id', ttl_seconds: 60 })
  t.equal((await post(call, body)).statusCode, 201)
  t.equal((await post(call, swept)).statusCode, 201)
  clock.advance(61 * SECOND)
  const again = await post(call, { ...body, content: 'a different payload is no conflict' })
  t.equal(again.statusCode, 201, 'before any sweep')
  t.match(again.json(), { duplicate: false, seq: 3, msg_id: 'expired-id' })
  await app.messages.sweep()
  const afterSweep = await post(call, swept)
  t.equal(afterSweep.statusCode, 201, 'after the sweep')
  t.match(afterSweep.json(), { duplicate: false, seq: 4 })
  t.same(await pendingIds(call), ['expired-id', 'swept-id'])
})

t.test('lost_count resets when the receiver acks a message from that sender, and only for that sender', async (t) => {
  const { call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'a1', ttl_seconds: 60 })
  await store(call, { sender_uid: 'carol', msg_id: 'c1', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', msg_id: 'a2' })
  await store(call, { sender_uid: 'carol', msg_id: 'c2' })
  await store(call, { sender_uid: 'alice', msg_id: 'a3' })
  clock.advance(61 * SECOND)
  t.same(rowsOf(await summary(call)), [['alice', 2, 5, 1], ['carol', 1, 4, 1]])
  t.equal(await ack(call, { msg_ids: ['a2'] }), 1)
  t.same(rowsOf(await summary(call)), [['alice', 1, 5, 0], ['carol', 1, 4, 1]])
  t.equal((await call({ method: 'DELETE', url: '/v1/receivers/bob/messages/c2' })).statusCode, 204)
  t.same(rowsOf(await summary(call)), [['alice', 1, 5, 0]], 'an ack by DELETE resets it too, and the emptied row goes')
})

t.test('a message lost after the last ack of its sender is counted again', async (t) => {
  const { call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'a1', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', msg_id: 'a2' })
  clock.advance(61 * SECOND)
  t.equal(await ack(call, { msg_ids: ['a2'] }), 1)
  t.same(rowsOf(await summary(call)), [])
  await store(call, { sender_uid: 'alice', msg_id: 'a3', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', msg_id: 'a4' })
  clock.advance(61 * SECOND)
  t.same(rowsOf(await summary(call)), [['alice', 1, 4, 1]])
})

t.test('an up_to_seq ack covering the lost messages clears a lost-only row', async (t) => {
  const { call, clock } = await buildTestApp(t)
  await store(call, { receiver_uid: 'zoe', sender_uid: 'carol', ttl_seconds: 60 })
  await store(call, { sender_uid: 'carol', ttl_seconds: 60 })
  await store(call, { sender_uid: 'carol', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice' })
  clock.advance(61 * SECOND)
  t.same(rowsOf(await summary(call)), [['alice', 1, 3, 0], ['carol', 0, null, 2]])
  t.equal(await ack(call, { up_to_seq: 1 }), 0)
  t.same(rowsOf(await summary(call)), [['alice', 1, 3, 0], ['carol', 0, null, 2]], 'an ack that covers only part of the losses keeps the row')
  t.equal(await ack(call, { up_to_seq: 2, sender_uid: 'alice' }), 0)
  t.same(rowsOf(await summary(call)), [['alice', 1, 3, 0], ['carol', 0, null, 2]], "an ack scoped to another sender keeps the row")
  t.equal(await ack(call, { up_to_seq: 2 }), 0)
  const body = await summary(call)
  t.same(rowsOf(body), [['alice', 1, 3, 0]])
  t.equal(body.total_pending, 1)
  t.same(rowsOf(await summary(call, 'zoe')), [['carol', 0, null, 1]], "another receiver's lost row is untouched")
})

t.test('an up_to_seq ack scoped to the sender clears its lost-only row', async (t) => {
  const { call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'carol', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice' })
  clock.advance(61 * SECOND)
  t.equal(await ack(call, { up_to_seq: 2, sender_uid: 'carol' }), 0)
  t.same(rowsOf(await summary(call)), [['alice', 1, 2, 0]])
})

t.test('the sweep works in bounded batches of SWEEP_BATCH_SIZE until every expired message is gone', async (t) => {
  const { app, call, clock } = await buildTestApp(t, { SWEEP_BATCH_SIZE: '2' })
  for (let i = 1; i <= 5; i++) await store(call, { sender_uid: i % 2 === 0 ? 'carol' : 'alice', msg_id: `old-${i}`, ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', msg_id: 'live' })
  clock.advance(61 * SECOND)
  const left: number[] = []
  for (let round = 0; round < 5; round++) {
    await app.messages.sweep()
    left.push((await rowsInStore(app)).length)
    t.same(await pendingIds(call), ['live'], `round ${round + 1}: only the live message is returned`)
  }
  t.same(left, [4, 2, 1, 1, 1], 'two expired messages per round, then nothing more to do')
  const body = await summary(call)
  t.equal(body.total_pending, 1)
  t.same(rowsOf(body), [['alice', 1, 6, 3], ['carol', 0, null, 2]])
})

t.test('the summary is right between bounded sweep rounds', async (t) => {
  const { app, call, clock } = await buildTestApp(t, { SWEEP_BATCH_SIZE: '2' })
  for (let i = 1; i <= 5; i++) await store(call, { sender_uid: i % 2 === 0 ? 'carol' : 'alice', msg_id: `old-${i}`, ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', msg_id: 'live' })
  clock.advance(61 * SECOND)
  const expected = [['alice', 1, 6, 3], ['carol', 0, null, 2]]
  await app.messages.sweep()
  t.same(rowsOf(await summary(call)), expected, 'after one round')
  t.equal((await summary(call)).total_pending, 1)
  for (let round = 0; round < 3; round++) {
    await app.messages.sweep()
    const body = await summary(call)
    t.same(rowsOf(body), expected, `after round ${round + 2}`)
    t.equal(body.total_pending, 1)
  }
  t.same(await rowsInStore(app), ['live'])
})
