// GET /v1/receivers/{receiver_uid}/messages: pages of pending messages in seq order, cursors, has_more, limits; fetching never deletes.
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { TEST_STORE } from '../helpers/database.js'
import { ack, getOne, page, pageBody, store, TIME } from '../helpers/requests.js'

const ids = (body: Record<string, any>): string[] => body.messages.map((message: Record<string, string>) => message.msg_id)

/** The store answer as a page returns it: the same message without the duplicate flag. */
function asListed (stored: Record<string, any>): Record<string, unknown> {
  const { duplicate, ...message } = stored
  void duplicate
  return message
}

t.test('a page lists the pending messages of all senders in seq ascending order', async (t) => {
  const { call } = await buildTestApp(t)
  const a1 = await store(call, { sender_uid: 'alice', msg_id: 'a1' })
  const c1 = await store(call, { sender_uid: 'carol', msg_id: 'c1' })
  const a2 = await store(call, { sender_uid: 'alice', msg_id: 'a2' })
  const body = await pageBody(call)
  t.same(body, { messages: [asListed(a1), asListed(c1), asListed(a2)], next_cursor: body.next_cursor, has_more: false })
  t.same(body.messages.map((message: Record<string, number>) => message.seq), [1, 2, 3])
})

t.test("with sender_uid a page lists only that sender's messages, in seq order", async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'a1' })
  await store(call, { sender_uid: 'carol', msg_id: 'c1' })
  await store(call, { sender_uid: 'alice', msg_id: 'a2' })
  await store(call, { sender_uid: 'carol', msg_id: 'c2' })
  const alice = await pageBody(call, { sender_uid: 'alice' })
  t.same(ids(alice), ['a1', 'a2'])
  t.ok(alice.messages.every((message: Record<string, string>) => message.sender_uid === 'alice'))
  t.equal(alice.has_more, false)
  t.same(ids(await pageBody(call, { sender_uid: 'carol' })), ['c1', 'c2'])
  t.same(await pageBody(call, { sender_uid: 'nobody' }).then((body) => [body.messages, body.has_more]), [[], false])
  const one = await pageBody(call, { sender_uid: 'alice', limit: 1 })
  t.same(ids(one), ['a1'])
  t.equal(one.has_more, true)
  const last = await pageBody(call, { sender_uid: 'alice', limit: 1, cursor: one.next_cursor })
  t.same(ids(last), ['a2'])
  t.equal(last.has_more, false, "other senders' later messages do not make has_more true")
})

t.test('a sender_uid that breaks the id rules answers 400', async (t) => {
  const { call } = await buildTestApp(t)
  for (const senderUid of ['has space', 's'.repeat(51), '']) {
    const res = await page(call, { sender_uid: senderUid })
    t.equal(res.statusCode, 400, JSON.stringify(senderUid))
    t.equal(res.json().code, 'FST_ERR_VALIDATION')
  }
})

t.test('paging with limit and next_cursor over many messages sees every message exactly once', async (t) => {
  const { call } = await buildTestApp(t)
  const stored: string[] = []
  for (let i = 0; i < 25; i++) stored.push((await store(call, { sender_uid: ['alice', 'carol', 'dave'][i % 3] })).msg_id)
  const seen: string[] = []
  const hasMore: boolean[] = []
  let cursor: string | undefined
  for (let round = 0; round < 10; round++) {
    const body = await pageBody(call, cursor === undefined ? { limit: 7 } : { limit: 7, cursor })
    seen.push(...ids(body))
    hasMore.push(body.has_more)
    cursor = body.next_cursor
    if (!body.has_more) break
  }
  t.same(seen, stored)
  t.same(hasMore, [true, true, true, false])
  const after = await pageBody(call, { limit: 7, cursor: cursor as string })
  t.same(after.messages, [], 'resuming after the last page finds nothing more')
  t.equal(after.has_more, false)
})

t.test("paging one sender's messages with a cursor sees each of them exactly once", async (t) => {
  const { call } = await buildTestApp(t)
  const alice: string[] = []
  for (let i = 0; i < 9; i++) {
    const message = await store(call, { sender_uid: i % 2 === 0 ? 'alice' : 'carol' })
    if (message.sender_uid === 'alice') alice.push(message.msg_id)
  }
  const seen: string[] = []
  let cursor: string | undefined
  for (let round = 0; round < 10; round++) {
    const body = await pageBody(call, cursor === undefined ? { sender_uid: 'alice', limit: 2 } : { sender_uid: 'alice', limit: 2, cursor })
    seen.push(...ids(body))
    cursor = body.next_cursor
    if (!body.has_more) break
  }
  t.same(seen, alice)
})

t.test('has_more is true exactly when more messages are pending beyond the page', async (t) => {
  const { call } = await buildTestApp(t)
  for (let i = 0; i < 3; i++) await store(call)
  t.equal((await pageBody(call, { limit: 3 })).has_more, false, 'a page that holds them all')
  t.equal((await pageBody(call, { limit: 4 })).has_more, false)
  const first = await pageBody(call, { limit: 2 })
  t.equal(first.has_more, true)
  const second = await pageBody(call, { limit: 2, cursor: first.next_cursor })
  t.equal(second.messages.length, 1)
  t.equal(second.has_more, false)
  t.equal((await pageBody(call, {}, 'nobody')).has_more, false, 'an unknown receiver')
})

t.test('an empty page answers the cursor it started from, and resuming with it finds messages stored later', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { msg_id: 'early-1' })
  await store(call, { msg_id: 'early-2' })
  const full = await pageBody(call)
  t.same(ids(full), ['early-1', 'early-2'])
  const empty = await pageBody(call, { cursor: full.next_cursor })
  t.same(empty.messages, [])
  t.equal(empty.has_more, false)
  t.equal(empty.next_cursor, full.next_cursor)
  await store(call, { msg_id: 'later-1' })
  const later = await pageBody(call, { cursor: empty.next_cursor })
  t.same(ids(later), ['later-1'])
  t.equal(later.has_more, false)
})

t.test('with no messages at all next_cursor is still a valid cursor to resume from', async (t) => {
  const { call } = await buildTestApp(t)
  const empty = await pageBody(call, {}, 'bob')
  t.same(empty.messages, [])
  t.equal(empty.has_more, false)
  t.type(empty.next_cursor, 'string')
  t.ok(empty.next_cursor.length > 0)
  await store(call, { msg_id: 'first-ever' })
  const resumed = await page(call, { cursor: empty.next_cursor })
  t.equal(resumed.statusCode, 200)
  t.same(ids(resumed.json()), ['first-ever'])
  const bySender = await pageBody(call, { sender_uid: 'alice' }, 'nobody-yet')
  t.same(bySender.messages, [])
  t.equal((await page(call, { cursor: bySender.next_cursor }, 'nobody-yet')).statusCode, 200)
})

t.test('a cursor stays valid after the messages before it, and the one it points at, are acked', async (t) => {
  const { call } = await buildTestApp(t)
  for (const id of ['m1', 'm2', 'm3', 'm4', 'm5']) await store(call, { msg_id: id })
  const first = await pageBody(call, { limit: 2 })
  t.same(ids(first), ['m1', 'm2'])
  t.equal(await ack(call, { msg_ids: ['m1', 'm2', 'm3'] }), 3)
  const resumed = await page(call, { limit: 2, cursor: first.next_cursor })
  t.equal(resumed.statusCode, 200)
  t.same(ids(resumed.json()), ['m4', 'm5'])
  t.equal(resumed.json().has_more, false)
})

t.test('fetching never deletes: the same page twice gives the same answer and the summary is unchanged', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice' })
  await store(call, { sender_uid: 'carol' })
  await store(call, { sender_uid: 'alice' })
  const summaryBefore = (await call({ method: 'GET', url: '/v1/receivers/bob/senders' })).json()
  const once = await pageBody(call)
  const twice = await pageBody(call)
  t.equal(once.messages.length, 3)
  t.same(twice, once)
  await getOne(call, 'bob', once.messages[0].msg_id as string)
  t.same(await pageBody(call), once, 'nor does fetching one message')
  t.same((await call({ method: 'GET', url: '/v1/receivers/bob/senders' })).json(), summaryBefore)
  t.equal(summaryBefore.total_pending, 3)
})

t.test('limit defaults to 100 messages', async (t) => {
  const { call } = await buildTestApp(t)
  const stored: string[] = []
  for (let i = 0; i < 101; i++) stored.push((await store(call)).msg_id)
  const first = await pageBody(call)
  t.equal(first.messages.length, 100)
  t.equal(first.has_more, true)
  t.same(ids(first), stored.slice(0, 100))
  const second = await pageBody(call, { cursor: first.next_cursor })
  t.same(ids(second), stored.slice(100))
  t.equal(second.has_more, false)
})

t.test('limit must be 1 to 1000: 0 and 1001 answer 400, 1 and 1000 are accepted', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call)
  await store(call)
  for (const limit of ['0', '1001', '-5', 'all']) {
    const res = await page(call, { limit })
    t.equal(res.statusCode, 400, `limit=${limit}`)
    t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'])
    t.match(res.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request' })
  }
  const one = await pageBody(call, { limit: 1 })
  t.equal(one.messages.length, 1)
  t.equal(one.has_more, true)
  const max = await pageBody(call, { limit: 1000 })
  t.equal(max.messages.length, 2)
  t.equal(max.has_more, false)
})

t.test('a bad cursor answers 400 INVALID_CURSOR: garbage, empty, tampered, or a cursor from the summary', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice' })
  await store(call, { sender_uid: 'carol' })
  const summaryCursor = (await call({ method: 'GET', url: '/v1/receivers/bob/senders?limit=1' })).json().next_cursor as string
  t.type(summaryCursor, 'string')
  const valid = (await pageBody(call, { limit: 1 })).next_cursor as string
  const cases: Record<string, string> = {
    garbage: 'not-a-cursor',
    'not base64url': '***',
    empty: '',
    'from the summary': summaryCursor,
    tampered: `${valid}AAAA`,
    'too long': 'A'.repeat(200)
  }
  for (const [name, cursor] of Object.entries(cases)) {
    const res = await page(call, { cursor })
    t.equal(res.statusCode, 400, name)
    t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'], name)
    t.match(res.json(), { statusCode: 400, code: 'INVALID_CURSOR', error: 'Bad Request' }, name)
  }
  const bySender = await page(call, { sender_uid: 'alice', cursor: summaryCursor })
  t.equal(bySender.statusCode, 400)
  t.equal(bySender.json().code, 'INVALID_CURSOR')
})

t.test("another receiver's messages never appear in a page", async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'for-bob' })
  await store(call, { receiver_uid: 'zoe', sender_uid: 'alice', msg_id: 'for-zoe' })
  await store(call, { receiver_uid: 'zoe', sender_uid: 'alice', msg_id: 'shared-id' })
  await store(call, { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'shared-id' })
  const bob = await pageBody(call, {}, 'bob')
  t.same(ids(bob), ['for-bob', 'shared-id'])
  t.ok(bob.messages.every((message: Record<string, string>) => message.receiver_uid === 'bob'))
  t.same(ids(await pageBody(call, { sender_uid: 'alice' }, 'zoe')), ['for-zoe', 'shared-id'])
  t.same((await pageBody(call, {}, 'carol')).messages, [])
})

t.test('expired messages are never returned in a page', async (t) => {
  const { call, clock } = await buildTestApp(t)
  await store(call, { sender_uid: 'alice', msg_id: 'short-lived', ttl_seconds: 60 })
  await store(call, { sender_uid: 'alice', msg_id: 'long-lived' })
  await store(call, { sender_uid: 'carol', msg_id: 'carol-short', ttl_seconds: 30 })
  t.same(ids(await pageBody(call)), ['short-lived', 'long-lived', 'carol-short'])
  clock.advance(61_000)
  const all = await pageBody(call)
  t.same(ids(all), ['long-lived'])
  t.equal(all.has_more, false)
  t.same(ids(await pageBody(call, { sender_uid: 'alice' })), ['long-lived'])
  t.same(ids(await pageBody(call, { sender_uid: 'carol' })), [])
  const limited = await pageBody(call, { limit: 1 })
  t.same(ids(limited), ['long-lived'])
  t.equal(limited.has_more, false, 'expired messages do not make has_more true')
})

t.test('messages in a page have JSON numbers and RFC 3339 UTC times with milliseconds', async (t) => {
  const { call } = await buildTestApp(t)
  await store(call, {
    msg_id: 'typed', sender_uid: 'alice', msg_type: 2, content: 'https://cdn.example/a.png', send_time: '2026-11-26T23:00:00-05:00'
  })
  const [message] = (await pageBody(call)).messages
  t.same(message, {
    msg_id: 'typed',
    receiver_uid: 'bob',
    sender_uid: 'alice',
    msg_type: 2,
    content: 'https://cdn.example/a.png',
    send_time: '2026-11-27T04:00:00.000Z',
    collapse_key: null,
    seq: 1,
    stored_at: '2026-11-27T04:36:55.123Z',
    expires_at: '2026-12-27T04:36:55.123Z'
  })
  t.type(message.seq, 'number')
  t.type(message.msg_type, 'number')
  for (const field of ['send_time', 'stored_at', 'expires_at']) t.match(message[field], TIME, field)
})

t.test('waiting pages asked at the same moment answer each as it would alone: receivers, devices, cursors, limits, expired messages and unknown ones mixed', async (t) => {
  // DB_POOL_MAX=3: one read connection on PostgreSQL, so that pages asked together wait for it and share a statement
  // (those of requests that wait, wait_seconds: 1 here, where an empty page waits a second and answers empty).
  const { app, call, clock } = await buildTestApp(t, { DB_POOL_MAX: '3' })
  for (let i = 0; i < 7; i++) await store(call, { receiver_uid: 'bob', sender_uid: `s${i % 3}`, msg_id: `b${i}`, ttl_seconds: i === 2 ? 30 : 3600 })
  for (const device of ['phone', 'laptop']) t.equal((await call({ method: 'PUT', url: `/v1/receivers/dee/devices/${device}` })).statusCode, 201)
  for (let i = 0; i < 5; i++) await store(call, { receiver_uid: 'dee', sender_uid: `s${i}`, msg_id: `d${i}` })
  t.equal(await ack(call, { device_id: 'phone', up_to_seq: 2 }, 'dee'), 2, 'the phone has acked two: its page differs from the laptop\'s')
  clock.advance(31_000)
  const cursor = String((await pageBody(call, { limit: 2 })).next_cursor)
  const queries: Array<[string, Record<string, string | number>]> = [
    ['bob', {}], ['bob', { limit: 2 }], ['bob', { limit: 2, cursor }], ['bob', { sender_uid: 's1' }], ['dee', { device_id: 'phone' }],
    ['dee', { device_id: 'laptop', limit: 2 }], ['dee', { device_id: 'tablet' }], ['dee', {}], ['nobody', {}], ['nobody', { device_id: 'phone' }]
  ]
  const answer = async ([receiver, query]: [string, Record<string, string | number>]): Promise<[number, unknown]> => {
    const res = await page(call, { ...query, wait_seconds: 1 }, receiver)
    return [res.statusCode, res.json()]
  }
  const alone: Array<[number, unknown]> = []
  for (const query of queries) alone.push(await answer(query))
  const listed = (i: number): string[] => ids(alone[i]?.[1] as Record<string, any>)
  t.strictSame(listed(0), ['b0', 'b1', 'b3', 'b4', 'b5', 'b6'], 'bob\'s expired b2 is left out')
  t.strictSame([listed(1), listed(2), listed(3)], [['b0', 'b1'], ['b3', 'b4'], ['b1', 'b4']], 'pages of 2, from a cursor, of one sender')
  t.strictSame([listed(4), listed(5)], [['d2', 'd3', 'd4'], ['d0', 'd1']], 'the phone\'s three, the laptop\'s first two')
  t.strictSame([alone[6]?.[0], alone[7]?.[0], alone[9]?.[0]], [404, 400, 404], 'an unknown device, no device where there are some, a device of an unknown receiver')
  t.strictSame(alone[8], [200, { messages: [], next_cursor: (alone[8]?.[1] as Record<string, unknown>).next_cursor, has_more: false }])
  const before = app.store.statementCounts().statements
  const rounds = 4
  const together = await Promise.all(Array.from({ length: rounds }, () => queries).flat().map(answer))
  t.strictSame(together, Array.from({ length: rounds }, () => alone).flat(), 'each the same as alone')
  const sent = app.store.statementCounts().statements - before
  // Alone, a page is one statement, and an empty one reads the devices too: 56 here. On Citus together only with the
  // pages of receivers of the same shard, on its node.
  if (TEST_STORE === 'postgres') t.ok(sent < 40, `fewer statements than pages: ${sent} for ${rounds * queries.length} pages`)
  // Without wait_seconds each page goes alone.
  const beforeAlone = app.store.statementCounts().statements
  await Promise.all(queries.map(async ([receiver, query]) => await page(call, query, receiver)))
  if (TEST_STORE === 'postgres') t.equal(app.store.statementCounts().statements - beforeAlone, 14, 'pages that do not wait: one statement each, and the devices of the 4 empty ones')
})
