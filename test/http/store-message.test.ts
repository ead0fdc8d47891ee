// POST /v1/messages: the stored shape, retries and conflicts, server-made ids and times, seq, TTL and the content limit.
import t from 'tap'
import { buildTestApp, newMessage } from '../helpers/app.js'
import { pending, post } from '../helpers/requests.js'

const START = '2026-11-27T04:36:55.123Z'
const THIRTY_DAYS_LATER = '2026-12-27T04:36:55.123Z'
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('a new message answers 201 with the full message shape and duplicate false', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await post(call, {
    receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'first', msg_type: 2, content: 'https://img.example/1.png', send_time: '2026-11-27T04:30:00.000Z'
  })
  t.equal(res.statusCode, 201)
  t.strictSame(res.json(), {
    msg_id: 'first',
    receiver_uid: 'bob',
    sender_uid: 'alice',
    msg_type: 2,
    content: 'https://img.example/1.png',
    send_time: '2026-11-27T04:30:00.000Z',
    collapse_key: null,
    seq: 1,
    stored_at: START,
    expires_at: THIRTY_DAYS_LATER,
    duplicate: false
  })
})

t.test('a stored message is pending for its receiver exactly as answered', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await post(call, newMessage({ msg_id: 'kept' }))
  const { duplicate, ...message } = res.json()
  t.equal(duplicate, false)
  t.strictSame(await pending(call, 'bob'), [message])
  const one = await call({ method: 'GET', url: '/v1/receivers/bob/messages/kept' })
  t.equal(one.statusCode, 200)
  t.strictSame(one.json(), message)
})

t.test('a retry with the same sender_uid, msg_type and content is 200 duplicate with the original seq and stored_at', async (t) => {
  const { call, clock } = await buildTestApp(t)
  const body = newMessage({ msg_id: 'retry-me', send_time: '2026-11-27T04:00:00.000Z' })
  const first = await post(call, body)
  t.equal(first.statusCode, 201)
  clock.advance(60_000)
  const retry = await post(call, { ...body, send_time: '2026-11-27T04:00:30.000Z' })
  t.equal(retry.statusCode, 200)
  t.strictSame(retry.json(), { ...first.json(), duplicate: true }, 'the original message, send_time included')
  t.equal(retry.json().stored_at, START)
  t.equal((await pending(call, 'bob')).length, 1, 'nothing new is stored')
})

t.test('a retry without send_time is still a duplicate of the original', async (t) => {
  const { call, clock } = await buildTestApp(t)
  const body = newMessage({ msg_id: 'no-time-retry', send_time: '2026-11-27T04:00:00.000Z' })
  const first = await post(call, body)
  clock.advance(5_000)
  const { send_time: _omitted, ...withoutTime } = body
  const retry = await post(call, withoutTime)
  t.equal(retry.statusCode, 200)
  t.strictSame(retry.json(), { ...first.json(), duplicate: true })
})

t.test('the same msg_id with another sender_uid, msg_type or content is 409 MSG_ID_CONFLICT and changes nothing', async (t) => {
  const { call } = await buildTestApp(t)
  const body = newMessage({ msg_id: 'taken', content: 'original' })
  const first = await post(call, body)
  t.equal(first.statusCode, 201)
  const { duplicate: _duplicate, ...original } = first.json()
  for (const change of [{ sender_uid: 'mallory' }, { msg_type: 3 }, { content: 'rewritten' }]) {
    const res = await post(call, { ...body, ...change })
    t.equal(res.statusCode, 409, JSON.stringify(change))
    t.strictSame(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'])
    t.equal(res.json().code, 'MSG_ID_CONFLICT')
    t.match(res.json().message, /taken/)
  }
  t.strictSame(await pending(call, 'bob'), [original], 'still only the original, unchanged')
})

t.test('the same msg_id for two different receivers stores two messages', async (t) => {
  const { call } = await buildTestApp(t)
  const toBob = await post(call, newMessage({ receiver_uid: 'bob', msg_id: 'shared' }))
  const toCarol = await post(call, newMessage({ receiver_uid: 'carol', msg_id: 'shared' }))
  t.equal(toBob.statusCode, 201)
  t.equal(toCarol.statusCode, 201)
  t.match(toBob.json(), { receiver_uid: 'bob', msg_id: 'shared', seq: 1, duplicate: false })
  t.match(toCarol.json(), { receiver_uid: 'carol', msg_id: 'shared', seq: 1, duplicate: false })
  t.equal((await pending(call, 'bob')).length, 1)
  t.equal((await pending(call, 'carol')).length, 1)
})

t.test('an omitted msg_id gets a server-made UUIDv7 that is stored and can be fetched', async (t) => {
  const { call } = await buildTestApp(t)
  const { msg_id: _omitted, ...body } = newMessage()
  const res = await post(call, body)
  t.equal(res.statusCode, 201)
  const msgId = res.json().msg_id
  t.match(msgId, UUID_V7)
  const one = await call({ method: 'GET', url: `/v1/receivers/bob/messages/${msgId}` })
  t.equal(one.statusCode, 200)
  t.equal(one.json().msg_id, msgId)
})

t.test('server-made msg_ids are time-ordered: each later id sorts after the earlier ones', async (t) => {
  const { call } = await buildTestApp(t)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    const { msg_id: _omitted, ...body } = newMessage()
    const res = await post(call, body)
    t.equal(res.statusCode, 201)
    ids.push(res.json().msg_id)
  }
  t.equal(new Set(ids).size, 5, 'all different')
  t.strictSame([...ids].sort(), ids, 'sorted in the order they were made')
})

t.test('an omitted send_time is the server clock at the store', async (t) => {
  const { call, clock } = await buildTestApp(t)
  const first = await post(call, newMessage())
  t.equal(first.json().send_time, START)
  clock.advance(90_500)
  const later = await post(call, newMessage())
  t.equal(later.json().send_time, '2026-11-27T04:38:25.623Z')
  t.equal(later.json().stored_at, '2026-11-27T04:38:25.623Z')
})

t.test('send_time with an offset or any fraction is returned in UTC with milliseconds', async (t) => {
  const { call } = await buildTestApp(t)
  const cases: Array<[string, string]> = [
    ['2026-11-27T06:36:55.1+02:00', '2026-11-27T04:36:55.100Z'],
    ['2026-11-26T23:36:55.123456-05:00', '2026-11-27T04:36:55.123Z'],
    ['2026-11-27T04:36:55Z', '2026-11-27T04:36:55.000Z'],
    ['2026-11-27T10:06:55.5+05:30', '2026-11-27T04:36:55.500Z'],
    ['2026-11-27t04:36:55.120z', '2026-11-27T04:36:55.120Z']
  ]
  for (const [sent, expected] of cases) {
    const res = await post(call, newMessage({ send_time: sent }))
    t.equal(res.statusCode, 201, sent)
    t.equal(res.json().send_time, expected, sent)
  }
  t.strictSame((await pending(call, 'bob')).map((message) => message.send_time), cases.map(([, expected]) => expected))
})

t.test('seq strictly increases per receiver and is independent between receivers', async (t) => {
  const { call } = await buildTestApp(t)
  const order = ['bob', 'carol', 'bob', 'bob', 'carol', 'dave', 'bob']
  const seqs: Array<[string, number]> = []
  for (const receiverUid of order) {
    const res = await post(call, newMessage({ receiver_uid: receiverUid }))
    t.equal(res.statusCode, 201)
    seqs.push([receiverUid, res.json().seq])
  }
  t.strictSame(seqs, [['bob', 1], ['carol', 1], ['bob', 2], ['bob', 3], ['carol', 2], ['dave', 1], ['bob', 4]])
  t.strictSame((await pending(call, 'bob')).map((message) => message.seq), [1, 2, 3, 4])
  t.strictSame((await pending(call, 'carol')).map((message) => message.seq), [1, 2])
})

t.test('concurrent stores to one receiver get distinct seqs 1..N', async (t) => {
  const { call } = await buildTestApp(t)
  const answers = await Promise.all(Array.from({ length: 20 }, () => post(call, newMessage({ receiver_uid: 'busy' }))))
  t.strictSame(answers.map((res) => res.statusCode), answers.map(() => 201))
  t.strictSame(answers.map((res) => res.json().seq).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1))
  t.strictSame((await pending(call, 'busy')).map((message) => message.seq), Array.from({ length: 20 }, (_, i) => i + 1))
})

t.test('the same message stored three times at once is stored once: one 201, two 200 duplicates with its seq', async (t) => {
  const { call } = await buildTestApp(t)
  const body = newMessage({ msg_id: 'racing' })
  const answers = await Promise.all([1, 2, 3].map(() => post(call, body)))
  t.strictSame(answers.map((res) => res.statusCode).sort(), [200, 200, 201])
  t.strictSame(answers.map((res) => res.json().seq), [1, 1, 1])
  t.equal((await pending(call, 'bob')).length, 1)
})

t.test('ttl_seconds sets expires_at that many seconds after stored_at', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await post(call, newMessage({ ttl_seconds: 90 }))
  t.equal(res.statusCode, 201)
  t.equal(res.json().stored_at, START)
  t.equal(res.json().expires_at, '2026-11-27T04:38:25.123Z')
})

t.test('without ttl_seconds a message expires MESSAGE_TTL_SECONDS after it was stored', async (t) => {
  const { call } = await buildTestApp(t, { MESSAGE_TTL_SECONDS: '3600' })
  const res = await post(call, newMessage())
  t.equal(res.json().expires_at, '2026-11-27T05:36:55.123Z')
})

t.test('content of exactly MAX_CONTENT_LENGTH code points is accepted, an emoji counting as one', async (t) => {
  const { call } = await buildTestApp(t, { MAX_CONTENT_LENGTH: '5' })
  for (const content of ['😀😀😀😀😀', 'a😀é中👍', 'abcde']) {
    const res = await post(call, newMessage({ content }))
    t.equal(res.statusCode, 201, content)
    t.equal(res.json().content, content)
  }
  t.strictSame((await pending(call, 'bob')).map((message) => message.content), ['😀😀😀😀😀', 'a😀é中👍', 'abcde'])
})

t.test('content one code point over MAX_CONTENT_LENGTH is 400 and not stored', async (t) => {
  const { call } = await buildTestApp(t, { MAX_CONTENT_LENGTH: '5' })
  for (const content of ['😀😀😀😀😀😀', 'abcdef']) {
    const res = await post(call, newMessage({ content }))
    t.equal(res.statusCode, 400, content)
    t.equal(res.json().code, 'FST_ERR_VALIDATION')
    t.match(res.json().message, /content/)
  }
  t.strictSame(await pending(call, 'bob'), [])
})

t.test('empty content is a valid message', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await post(call, newMessage({ content: '' }))
  t.equal(res.statusCode, 201)
  t.equal(res.json().content, '')
})
