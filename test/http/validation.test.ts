// Strict input: every invalid body, content type, path or query answers 400 (415, 413) with a message naming the field, and stores nothing.
import t, { type Test } from 'tap'
import { buildTestApp, newMessage, type TestApp } from '../helpers/app.js'
import { expectErrorShape, pending } from '../helpers/requests.js'

const JSON_TYPE = { 'content-type': 'application/json' }

/** Pending messages over all receivers, as /metrics reports them: also covers a receiver the test cannot list. */
async function totalPending (call: TestApp['call']): Promise<number> {
  const text = (await call({ method: 'GET', url: '/metrics' })).body
  const match = /^offline_messages_pending (\d+)$/m.exec(text)
  if (match?.[1] === undefined) throw new Error('no offline_messages_pending in /metrics')
  return Number(match[1])
}

// Rejections store nothing, so most tests share one app (one database); each uses a receiver of its own.
const shared = await buildTestApp(t)
let receivers = 0
const freshReceiver = () => `rcv-${++receivers}`

/**
 * POSTs a store body to a fresh receiver, `change` applied to a valid one (or raw JSON text made for that receiver),
 * and expects 400 FST_ERR_VALIDATION naming `field`, with nothing stored for that receiver nor anywhere else.
 */
async function expectInvalidStore (
  t: Test, change: Record<string, unknown> | ((receiverUid: string) => string), field: RegExp, app: TestApp = shared
): Promise<void> {
  const receiverUid = freshReceiver()
  const before = await totalPending(app.call)
  const res = typeof change === 'function'
    ? await app.call({ method: 'POST', url: '/v1/messages', payload: change(receiverUid), headers: JSON_TYPE })
    : await app.call({ method: 'POST', url: '/v1/messages', payload: newMessage({ receiver_uid: receiverUid, ...change }) })
  const { message } = expectErrorShape(t, res, 400, 'FST_ERR_VALIDATION')
  t.match(message, field, 'the message names the field')
  t.equal((await pending(app.call, receiverUid)).length, 0, 'nothing stored for the receiver')
  t.equal(await totalPending(app.call), before, 'nothing stored at all')
}

t.test('a valid store body is accepted, so the rejections below are about their one bad field', async (t) => {
  const { call } = await buildTestApp(t)
  const res = await call({ method: 'POST', url: '/v1/messages', payload: newMessage({ send_time: '2026-11-27T04:36:55.123Z', ttl_seconds: 60 }) })
  t.equal(res.statusCode, 201)
  t.equal((await pending(call, 'bob')).length, 1)
  t.equal(await totalPending(call), 1, 'the pending gauge the rejections rely on counts it')
})

for (const [label, value] of [['the string "1"', '1'], ['65536', 65536], ['-1', -1], ['1.5', 1.5], ['null', null]] as const) {
  t.test(`msg_type ${label} is rejected: no coercion, an integer 0-65535`, async (t) => {
    await expectInvalidStore(t, { msg_type: value }, /msg_type/)
  })
}

t.test('msg_type 0 and 65535 are the accepted bounds', async (t) => {
  const { call } = shared
  for (const msgType of [0, 65535]) {
    const res = await call({ method: 'POST', url: '/v1/messages', payload: newMessage({ receiver_uid: freshReceiver(), msg_type: msgType }) })
    t.equal(res.statusCode, 201)
    t.equal(res.json().msg_type, msgType)
  }
})

t.test('content that is not a string is rejected, not coerced', async (t) => {
  await expectInvalidStore(t, { content: 12 }, /content/)
})

t.test('an unknown field such as "contnet" is rejected and named', async (t) => {
  await expectInvalidStore(t, { contnet: 'typo' }, /contnet/)
})

for (const field of ['receiver_uid', 'sender_uid', 'msg_type', 'content']) {
  t.test(`a body without the required ${field} is rejected and names it`, async (t) => {
    await expectInvalidStore(t, { [field]: undefined }, new RegExp(field))
  })
}

t.test('a body that is not a JSON object is rejected', async (t) => {
  await expectInvalidStore(t, () => '[]', /body/)
})

const BAD_UIDS: Array<[string, string]> = [
  ['empty', ''],
  ['with a space', 'bob smith'],
  ['with a slash', 'bob/x'],
  ['with a non-ASCII letter', 'bøb'],
  ['with a trailing newline', 'bob\n'],
  ['51 characters long', 'u'.repeat(51)]
]
for (const field of ['receiver_uid', 'sender_uid']) {
  for (const [label, value] of BAD_UIDS) {
    t.test(`${field} ${label} is rejected`, async (t) => {
      await expectInvalidStore(t, { [field]: value }, new RegExp(field))
    })
  }
}

for (const [label, value] of [['empty', ''], ['with a space', 'id 1'], ['with a slash', 'a/b'], ['with a question mark', 'a?b'], ['71 characters long', 'm'.repeat(71)]]) {
  t.test(`msg_id ${label} is rejected`, async (t) => {
    await expectInvalidStore(t, { msg_id: value }, /msg_id/)
  })
}

t.test('ids at their longest (uid 50, msg_id 70) and with every allowed punctuation are accepted', async (t) => {
  const { call } = shared
  const receiverUid = 'r'.repeat(50)
  const bodies = [
    newMessage({ receiver_uid: receiverUid, sender_uid: 's'.repeat(50), msg_id: 'm'.repeat(70) }),
    newMessage({ receiver_uid: receiverUid, sender_uid: 'a.b_c-d:e@f+g', msg_id: 'A.z_0-9:x@y+z' })
  ]
  for (const body of bodies) {
    const res = await call({ method: 'POST', url: '/v1/messages', payload: body })
    t.equal(res.statusCode, 201, JSON.stringify(body))
  }
  t.equal((await pending(call, receiverUid)).length, 2)
})

t.test('content with U+0000 is rejected (PostgreSQL cannot store it)', async (t) => {
  await expectInvalidStore(t, { content: 'a\u0000b' }, /content/)
})

t.test('content with a lone surrogate is rejected', async (t) => {
  await expectInvalidStore(t, (receiverUid) => `{"receiver_uid":"${receiverUid}","sender_uid":"alice","msg_id":"lone","msg_type":1,"content":"a\\ud800b"}`, /content/)
})

t.test('content with a lone low surrogate at the end is rejected', async (t) => {
  await expectInvalidStore(t, (receiverUid) => `{"receiver_uid":"${receiverUid}","sender_uid":"alice","msg_id":"lone","msg_type":1,"content":"ab\\udc00"}`, /content/)
})

t.test('content with an escaped surrogate pair is a valid emoji and accepted', async (t) => {
  const { call } = shared
  const res = await call({
    method: 'POST',
    url: '/v1/messages',
    payload: `{"receiver_uid":"${freshReceiver()}","sender_uid":"alice","msg_id":"pair","msg_type":1,"content":"\\ud83d\\ude00"}`,
    headers: JSON_TYPE
  })
  t.equal(res.statusCode, 201)
  t.equal(res.json().content, '😀')
})

t.test('a body with invalid UTF-8 bytes is 400 FST_ERR_CTP_INVALID_JSON_BODY and stores nothing', async (t) => {
  const { call } = shared
  const receiverUid = freshReceiver()
  const payload = Buffer.concat([
    Buffer.from(`{"receiver_uid":"${receiverUid}","sender_uid":"alice","msg_id":"bytes","msg_type":1,"content":"a`),
    Buffer.from([0xff, 0xfe, 0xc3]),
    Buffer.from('"}')
  ])
  const res = await call({ method: 'POST', url: '/v1/messages', payload, headers: JSON_TYPE })
  expectErrorShape(t, res, 400, 'FST_ERR_CTP_INVALID_JSON_BODY')
  t.equal((await pending(call, receiverUid)).length, 0)
})

const BAD_SEND_TIMES: Array<[string, unknown]> = [
  ['a date only', '2026-11-27'],
  ['an epoch number', 1795754215123],
  ['an epoch number as a string', '1795754215123'],
  ['an RFC 1123 string', 'Fri, 27 Nov 2026 04:36:55 GMT'],
  ['a date-time without a zone', '2026-11-27T04:36:55.123'],
  ['February 30', '2026-02-30T00:00:00Z'],
  ['hour 24', '2026-11-27T24:00:00Z'],
  ['an empty string', '']
]
for (const [label, value] of BAD_SEND_TIMES) {
  t.test(`send_time as ${label} is rejected`, async (t) => {
    await expectInvalidStore(t, { send_time: value }, /send_time/)
  })
}

t.test('ttl_seconds 0 is rejected', async (t) => {
  await expectInvalidStore(t, { ttl_seconds: 0 }, /ttl_seconds/)
})

t.test('ttl_seconds as the string "60" is rejected: no coercion', async (t) => {
  await expectInvalidStore(t, { ttl_seconds: '60' }, /ttl_seconds/)
})

t.test('ttl_seconds above MESSAGE_TTL_SECONDS is rejected', async (t) => {
  await expectInvalidStore(t, { ttl_seconds: 3601 }, /ttl_seconds/, await buildTestApp(t, { MESSAGE_TTL_SECONDS: '3600' }))
})

t.test('ttl_seconds equal to MESSAGE_TTL_SECONDS is accepted', async (t) => {
  const { call } = await buildTestApp(t, { MESSAGE_TTL_SECONDS: '3600' })
  const res = await call({ method: 'POST', url: '/v1/messages', payload: newMessage({ ttl_seconds: 3600 }) })
  t.equal(res.statusCode, 201)
  t.equal(res.json().expires_at, '2026-11-27T05:36:55.123Z')
})

t.test('malformed JSON is 400 FST_ERR_CTP_INVALID_JSON_BODY and stores nothing', async (t) => {
  const { call } = shared
  const before = await totalPending(call)
  const valid = JSON.stringify(newMessage({ receiver_uid: freshReceiver() }))
  for (const payload of [valid.slice(0, -1), valid.replace('"receiver_uid"', 'receiver_uid'), `${valid},`, 'hello']) {
    const res = await call({ method: 'POST', url: '/v1/messages', payload, headers: JSON_TYPE })
    expectErrorShape(t, res, 400, 'FST_ERR_CTP_INVALID_JSON_BODY')
  }
  t.equal(await totalPending(call), before)
})

for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
  t.test(`a body sent as ${contentType} is 415 and stores nothing`, async (t) => {
    const { call } = shared
    const receiverUid = freshReceiver()
    const res = await call({ method: 'POST', url: '/v1/messages', payload: JSON.stringify(newMessage({ receiver_uid: receiverUid })), headers: { 'content-type': contentType } })
    expectErrorShape(t, res, 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    t.equal((await pending(call, receiverUid)).length, 0)
  })
}

t.test('a JSON body with a charset parameter is accepted', async (t) => {
  const { call } = shared
  const res = await call({ method: 'POST', url: '/v1/messages', payload: JSON.stringify(newMessage({ receiver_uid: freshReceiver() })), headers: { 'content-type': 'application/json; charset=utf-8' } })
  t.equal(res.statusCode, 201)
})

t.test('a body over BODY_LIMIT_BYTES is 413 and stores nothing', async (t) => {
  const { call } = await buildTestApp(t, { BODY_LIMIT_BYTES: '1024' })
  const res = await call({ method: 'POST', url: '/v1/messages', payload: newMessage({ content: 'x'.repeat(1100) }) })
  expectErrorShape(t, res, 413, 'FST_ERR_CTP_BODY_TOO_LARGE')
  t.equal((await pending(call, 'bob')).length, 0)
})

t.test('a body just under BODY_LIMIT_BYTES is accepted', async (t) => {
  const { call } = await buildTestApp(t, { BODY_LIMIT_BYTES: '1024' })
  const body = newMessage({ content: '' })
  const room = 1024 - Buffer.byteLength(JSON.stringify(body))
  const res = await call({ method: 'POST', url: '/v1/messages', payload: newMessage({ ...body, content: 'x'.repeat(room) }) })
  t.equal(res.statusCode, 201)
})

const BAD_PATH_UIDS = ['bad%20uid', 'b%C3%B8b', 'a%2Fb', 'u'.repeat(51)]
for (const receiverUid of BAD_PATH_UIDS) {
  t.test(`a receiver_uid "${receiverUid.slice(0, 12)}" in the path is 400 on every receiver route`, async (t) => {
    const { call } = shared
    const requests = [
      { method: 'GET' as const, url: `/v1/receivers/${receiverUid}/senders` },
      { method: 'GET' as const, url: `/v1/receivers/${receiverUid}/messages` },
      { method: 'GET' as const, url: `/v1/receivers/${receiverUid}/messages/m1` },
      { method: 'POST' as const, url: `/v1/receivers/${receiverUid}/acks`, payload: { up_to_seq: 10 } },
      { method: 'DELETE' as const, url: `/v1/receivers/${receiverUid}/messages/m1` }
    ]
    for (const request of requests) {
      const { message } = expectErrorShape(t, await call(request), 400, 'FST_ERR_VALIDATION')
      t.match(message, /receiver_uid/, `${request.method} ${request.url}`)
    }
  })
}

for (const msgId of ['bad!id', 'a%20b', 'm'.repeat(71)]) {
  t.test(`a msg_id "${msgId.slice(0, 12)}" in the path is 400 on fetch and delete`, async (t) => {
    const { call } = shared
    for (const method of ['GET', 'DELETE'] as const) {
      const { message } = expectErrorShape(t, await call({ method, url: `/v1/receivers/bob/messages/${msgId}` }), 400, 'FST_ERR_VALIDATION')
      t.match(message, /msg_id/, method)
    }
  })
}

t.test('query string values are coerced: limit=10 returns ten messages', async (t) => {
  const { call } = shared
  const receiverUid = freshReceiver()
  const messages = Array.from({ length: 12 }, (_, i) => newMessage({ receiver_uid: receiverUid, sender_uid: `s${i % 2}` }))
  t.equal((await call({ method: 'POST', url: '/v1/messages/batch', payload: { messages } })).statusCode, 200)
  const page = await call({ method: 'GET', url: `/v1/receivers/${receiverUid}/messages?limit=10` })
  t.equal(page.statusCode, 200)
  t.equal(page.json().messages.length, 10)
  t.equal(page.json().has_more, true)
  const summary = await call({ method: 'GET', url: `/v1/receivers/${receiverUid}/senders?limit=1` })
  t.equal(summary.statusCode, 200)
  t.equal(summary.json().senders.length, 1)
})

for (const [route, max] of [['messages', 1000], ['senders', 500]] as const) {
  for (const limit of ['0', 'abc', '1.5', '-1', String(max + 1)]) {
    t.test(`limit=${limit} on /${route} is 400`, async (t) => {
      const { call } = shared
      const { message } = expectErrorShape(t, await call({ method: 'GET', url: `/v1/receivers/bob/${route}?limit=${limit}` }), 400, 'FST_ERR_VALIDATION')
      t.match(message, /limit/)
    })
  }
  t.test(`limit=${max} on /${route} is the accepted maximum`, async (t) => {
    const { call } = shared
    t.equal((await call({ method: 'GET', url: `/v1/receivers/bob/${route}?limit=${max}` })).statusCode, 200)
  })
  t.test(`an unknown query parameter on /${route} is 400 and named`, async (t) => {
    const { call } = shared
    const { message } = expectErrorShape(t, await call({ method: 'GET', url: `/v1/receivers/bob/${route}?limt=10` }), 400, 'FST_ERR_VALIDATION')
    t.match(message, /limt/)
  })
}

t.test('an invalid sender_uid in the query is 400', async (t) => {
  const { call } = shared
  const { message } = expectErrorShape(t, await call({ method: 'GET', url: '/v1/receivers/bob/messages?sender_uid=a%20b' }), 400, 'FST_ERR_VALIDATION')
  t.match(message, /sender_uid/)
})

t.test('an unknown query parameter is 400 also on routes that take no query, so a misplaced ack filter cannot widen an ack', async (t) => {
  const { call } = await buildTestApp(t)
  const stored = await call({ method: 'POST', url: '/v1/messages', payload: newMessage({ sender_uid: 'carol', msg_id: 'from-carol' }) })
  t.equal(stored.statusCode, 201)
  const requests = [
    { method: 'POST' as const, url: '/v1/messages?dry_run=1', payload: newMessage({ msg_id: 'dry' }) },
    { method: 'POST' as const, url: '/v1/messages/batch?dry_run=1', payload: { messages: [newMessage({ msg_id: 'dry-batch' })] } },
    { method: 'GET' as const, url: '/v1/receivers/bob/messages/from-carol?fields=content' },
    { method: 'POST' as const, url: '/v1/receivers/bob/acks?sender_uid=alice', payload: { up_to_seq: 100 } },
    { method: 'DELETE' as const, url: '/v1/receivers/bob/messages/another?force=1' }
  ]
  for (const request of requests) {
    const res = await call(request)
    t.equal(res.statusCode, 400, `${request.method} ${request.url}`)
    t.equal(res.body === '' ? undefined : res.json().code, 'FST_ERR_VALIDATION', `${request.method} ${request.url}`)
  }
  const left = await call({ method: 'GET', url: '/v1/receivers/bob/messages' })
  t.strictSame(left.json().messages.map((message: { msg_id: string }) => message.msg_id), ['from-carol'], 'nothing stored, nothing acked')
})
