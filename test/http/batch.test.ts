// POST /v1/messages/batch: results in input order, all-or-nothing validation, duplicates and conflicts inside one batch, quota, fan-out.
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp, newMessage } from '../helpers/app.js'
import { pending, post, type Call } from '../helpers/requests.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const storeBatch = (call: Call, messages: unknown[]) =>
  call({ method: 'POST', url: '/v1/messages/batch', payload: { messages } })

function expectValidationError (t: Test, res: LightMyRequestResponse, field: RegExp): void {
  t.equal(res.statusCode, 400)
  const body = res.json()
  t.strictSame(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
  t.equal(body.code, 'FST_ERR_VALIDATION')
  t.match(body.message, field)
}

t.test('results come in input order, each with status, msg_id and seq', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await storeBatch(call, [
    newMessage({ receiver_uid: 'bob', msg_id: 'b1' }),
    newMessage({ receiver_uid: 'carol', msg_id: 'c1' }),
    newMessage({ receiver_uid: 'bob', msg_id: 'b2' }),
    newMessage({ receiver_uid: 'alice', msg_id: 'a1' }),
    newMessage({ receiver_uid: 'carol', msg_id: 'c2' })
  ])
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), {
    results: [
      { status: 'stored', msg_id: 'b1', seq: 1 },
      { status: 'stored', msg_id: 'c1', seq: 1 },
      { status: 'stored', msg_id: 'b2', seq: 2 },
      { status: 'stored', msg_id: 'a1', seq: 1 },
      { status: 'stored', msg_id: 'c2', seq: 2 }
    ]
  })
  t.strictSame((await pending(call, 'bob')).map((message) => [message.msg_id, message.seq]), [['b1', 1], ['b2', 2]])
  t.strictSame((await pending(call, 'carol')).map((message) => [message.msg_id, message.seq]), [['c1', 1], ['c2', 2]])
})

t.test('batch messages are stored with the same shape and times as single stores', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await storeBatch(call, [
    { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'x', msg_type: 3, content: 'voice', send_time: '2026-11-27T06:00:00.5+02:00', ttl_seconds: 60 }
  ])
  t.equal(res.statusCode, 200)
  t.strictSame(await pending(call, 'bob'), [{
    msg_id: 'x',
    receiver_uid: 'bob',
    sender_uid: 'alice',
    msg_type: 3,
    content: 'voice',
    send_time: '2026-11-27T04:00:00.500Z',
    collapse_key: null,
    seq: 1,
    stored_at: '2026-11-27T04:36:55.123Z',
    expires_at: '2026-11-27T04:37:55.123Z'
  }])
})

t.test('an item without msg_id gets a server-made UUIDv7, reported in its result', async (t) => {
  const { call } = await buildTestApp(t)
  const { msg_id: _omitted, ...body } = newMessage()
  const res = await storeBatch(call, [body])
  t.equal(res.statusCode, 200)
  const [result] = res.json().results
  t.equal(result.status, 'stored')
  t.match(result.msg_id, UUID_V7)
  t.strictSame((await pending(call, 'bob')).map((message) => message.msg_id), [result.msg_id])
})

t.test('a batch of 0 messages is 400', async (t) => {
  const { call } = await buildTestApp(t)
  expectValidationError(t, await storeBatch(call, []), /messages/)
})

t.test('a batch of 501 messages is 400 and stores nothing', async (t) => {
  const { call } = await buildTestApp(t)
  expectValidationError(t, await storeBatch(call, Array.from({ length: 501 }, () => newMessage())), /messages/)
  t.equal((await pending(call, 'bob')).length, 0)
})

t.test('a batch of exactly 500 messages is stored', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await storeBatch(call, Array.from({ length: 500 }, () => newMessage()))
  t.equal(res.statusCode, 200)
  const results = res.json().results as Array<{ status: string, seq: number }>
  t.equal(results.length, 500)
  t.ok(results.every((result, index) => result.status === 'stored' && result.seq === index + 1), 'seq 1..500 in order')
  t.equal((await pending(call, 'bob', 1000)).length, 500)
})

t.test('a body without messages, or with an unknown field, is 400', async (t) => {
  const { call } = await buildTestApp(t)
  expectValidationError(t, await call({ method: 'POST', url: '/v1/messages/batch', payload: {} }), /messages/)
  expectValidationError(t, await call({ method: 'POST', url: '/v1/messages/batch', payload: { messages: [newMessage()], dry_run: true } }), /dry_run/)
  t.equal((await pending(call, 'bob')).length, 0)
})

const INVALID_ITEMS: Array<[string, Record<string, unknown>, RegExp]> = [
  ['a schema error (msg_type "1")', { msg_type: '1' }, /messages\/1\/msg_type/],
  ['an unknown field', { contnet: 'x' }, /contnet/],
  ['content with U+0000', { content: 'a\u0000b' }, /messages\/1\/content/],
  ['a send_time without a zone', { send_time: '2026-11-27T04:36:55' }, /messages\/1\/send_time/],
  ['a send_time on February 30', { send_time: '2026-02-30T04:36:55Z' }, /messages\/1\/send_time/]
]
for (const [label, change, field] of INVALID_ITEMS) {
  t.test(`one item with ${label} rejects the whole batch and stores nothing`, async (t) => {
    const { call } = await buildTestApp(t)
    const res = await storeBatch(call, [
      newMessage({ receiver_uid: 'bob' }),
      newMessage({ receiver_uid: 'carol', ...change }),
      newMessage({ receiver_uid: 'dave' })
    ])
    expectValidationError(t, res, field)
    for (const receiverUid of ['bob', 'carol', 'dave']) t.equal((await pending(call, receiverUid)).length, 0, receiverUid)
  })
}

t.test('one item with a lone surrogate rejects the whole batch and stores nothing', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await call({
    method: 'POST',
    url: '/v1/messages/batch',
    headers: { 'content-type': 'application/json' },
    payload: '{"messages":[{"receiver_uid":"bob","sender_uid":"alice","msg_id":"ok","msg_type":1,"content":"fine"},' +
      '{"receiver_uid":"bob","sender_uid":"alice","msg_id":"bad","msg_type":1,"content":"\\udfff"}]}'
  })
  expectValidationError(t, res, /messages\/1\/content/)
  t.equal((await pending(call, 'bob')).length, 0)
})

t.test('the same (receiver_uid, msg_id) twice with the same payload is stored, then duplicate with the same seq', async (t) => {
  const { call } = await buildTestApp(t)
  const message = newMessage({ msg_id: 'twice' })
  const res = await storeBatch(call, [message, newMessage({ msg_id: 'between' }), message])
  t.equal(res.statusCode, 200)
  t.strictSame(res.json().results, [
    { status: 'stored', msg_id: 'twice', seq: 1 },
    { status: 'stored', msg_id: 'between', seq: 2 },
    { status: 'duplicate', msg_id: 'twice', seq: 1 }
  ])
  t.strictSame((await pending(call, 'bob')).map((pendingMessage) => pendingMessage.msg_id), ['twice', 'between'])
})

t.test('the same (receiver_uid, msg_id) twice with another payload is stored, then conflict with seq null', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await storeBatch(call, [
    newMessage({ msg_id: 'twice', content: 'first' }),
    newMessage({ msg_id: 'twice', content: 'second' })
  ])
  t.equal(res.statusCode, 200)
  t.strictSame(res.json().results, [
    { status: 'stored', msg_id: 'twice', seq: 1 },
    { status: 'conflict', msg_id: 'twice', seq: null }
  ])
  t.strictSame((await pending(call, 'bob')).map((message) => message.content), ['first'], 'the first payload is kept')
})

t.test('a batch item that repeats an already stored message is duplicate; another payload is conflict', async (t) => {
  const { call } = await buildTestApp(t)
  const earlier = newMessage({ msg_id: 'earlier', content: 'kept' })
  t.equal((await post(call, earlier)).statusCode, 201)
  const res = await storeBatch(call, [earlier, { ...earlier, content: 'changed' }, newMessage({ msg_id: 'new' })])
  t.strictSame(res.json().results, [
    { status: 'duplicate', msg_id: 'earlier', seq: 1 },
    { status: 'conflict', msg_id: 'earlier', seq: null },
    { status: 'stored', msg_id: 'new', seq: 2 }
  ])
})

t.test('a full inbox under the reject policy gives inbox_full with seq null, and other receivers are still stored', async (t) => {
  const { call } = await buildTestApp(t, { MAX_PENDING_PER_RECEIVER: '2', OVERFLOW_POLICY: 'reject' })
  const res = await storeBatch(call, [
    newMessage({ receiver_uid: 'bob', msg_id: 'b1' }),
    newMessage({ receiver_uid: 'bob', msg_id: 'b2' }),
    newMessage({ receiver_uid: 'bob', msg_id: 'b3' }),
    newMessage({ receiver_uid: 'carol', msg_id: 'c1' }),
    newMessage({ receiver_uid: 'bob', msg_id: 'b4' })
  ])
  t.equal(res.statusCode, 200)
  t.strictSame(res.json().results, [
    { status: 'stored', msg_id: 'b1', seq: 1 },
    { status: 'stored', msg_id: 'b2', seq: 2 },
    { status: 'inbox_full', msg_id: 'b3', seq: null },
    { status: 'stored', msg_id: 'c1', seq: 1 },
    { status: 'inbox_full', msg_id: 'b4', seq: null }
  ])
  t.strictSame((await pending(call, 'bob')).map((message) => message.msg_id), ['b1', 'b2'])
  t.strictSame((await pending(call, 'carol')).map((message) => message.msg_id), ['c1'])
})

t.test('a group message fanned out to many receivers gives each receiver its own seq 1', async (t) => {
  const { call } = await buildTestApp(t)
  const members = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']
  const res = await storeBatch(call, members.map((receiverUid) =>
    ({ receiver_uid: receiverUid, sender_uid: 'alice', msg_id: 'group-42', msg_type: 1, content: 'hi all' })))
  t.equal(res.statusCode, 200)
  t.strictSame(res.json().results, members.map(() => ({ status: 'stored', msg_id: 'group-42', seq: 1 })))
  for (const receiverUid of members) {
    t.match(await pending(call, receiverUid), [{ receiver_uid: receiverUid, msg_id: 'group-42', seq: 1, content: 'hi all' }])
  }
})

t.test('a batch over BODY_LIMIT_BYTES is 413 and stores nothing', async (t) => {
  const { call } = await buildTestApp(t, { BODY_LIMIT_BYTES: '1024' })
  const res = await storeBatch(call, Array.from({ length: 20 }, () => newMessage({ content: 'x'.repeat(60) })))
  t.equal(res.statusCode, 413)
  t.equal(res.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE')
  t.equal((await pending(call, 'bob')).length, 0)
})
