// The error shape: every error answer is JSON with exactly {statusCode, code, error, message}, and none carries a stack trace or SQL.
import t, { type Test } from 'tap'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { createKnex } from '../../src/store/backends.js'
import { AUTH, buildTestApp, newMessage } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'
import { expectErrorShape } from '../helpers/requests.js'

const STACK = /\n\s+at |\.ts:\d+|\.js:\d+|node_modules/
const SQL = /\bselect\b|\binsert into\b|\bupdate `|\bfrom [`"]|sqlite|knex|\brelation\b|\bpg\b|messages_gone/i

/** The error shape, plus what every error answer here must also be: a code identifier, a message for a person, nothing internal. */
function expectSafeErrorShape (t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  const body = expectErrorShape(t, res, status, code)
  t.match(body.code, /^[A-Z][A-Z0-9_]*$/, 'an upper-case identifier')
  t.type(body.message, 'string')
  t.ok(body.message.length > 0, 'a message for a person')
  t.notMatch(res.body, STACK, 'no stack trace')
  t.notMatch(res.body, SQL, 'no SQL')
}

const JSON_TYPE = { 'content-type': 'application/json' }

interface ErrorCase {
  rule: string
  env?: Record<string, string>
  before?: InjectOptions[]
  request: InjectOptions
  status: number
  code: string
}

const CASES: ErrorCase[] = [
  { rule: 'an invalid body', request: { method: 'POST', url: '/v1/messages', payload: newMessage({ msg_type: '1' }) }, status: 400, code: 'FST_ERR_VALIDATION' },
  { rule: 'an unknown body field', request: { method: 'POST', url: '/v1/messages', payload: newMessage({ contnet: 'x' }) }, status: 400, code: 'FST_ERR_VALIDATION' },
  { rule: 'content with U+0000', request: { method: 'POST', url: '/v1/messages', payload: newMessage({ content: '\u0000' }) }, status: 400, code: 'FST_ERR_VALIDATION' },
  { rule: 'an invalid batch item', request: { method: 'POST', url: '/v1/messages/batch', payload: { messages: [newMessage({ send_time: '2026-11-27' })] } }, status: 400, code: 'FST_ERR_VALIDATION' },
  { rule: 'an invalid query', request: { method: 'GET', url: '/v1/receivers/bob/messages?limit=0' }, status: 400, code: 'FST_ERR_VALIDATION' },
  { rule: 'an invalid path', request: { method: 'GET', url: '/v1/receivers/bad%20uid/senders' }, status: 400, code: 'FST_ERR_VALIDATION' },
  { rule: 'an ack with both msg_ids and up_to_seq', request: { method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['a'], up_to_seq: 1 } }, status: 400, code: 'FST_ERR_VALIDATION' },
  { rule: 'malformed JSON', request: { method: 'POST', url: '/v1/messages', payload: '{"a":', headers: JSON_TYPE }, status: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' },
  { rule: 'invalid UTF-8', request: { method: 'POST', url: '/v1/messages', payload: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), headers: JSON_TYPE }, status: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' },
  { rule: 'a prototype-poisoning body', request: { method: 'POST', url: '/v1/messages', payload: '{"__proto__":{"admin":true}}', headers: JSON_TYPE }, status: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' },
  { rule: 'a bad cursor', request: { method: 'GET', url: '/v1/receivers/bob/messages?cursor=bm90LWEtY3Vyc29y' }, status: 400, code: 'INVALID_CURSOR' },
  { rule: 'a missing key', request: { method: 'GET', url: '/v1/receivers/bob/senders', headers: { authorization: '' } }, status: 401, code: 'UNAUTHORIZED' },
  { rule: 'an unknown key', request: { method: 'GET', url: '/v1/receivers/bob/senders', headers: { authorization: 'Bearer nobody-knows-me' } }, status: 401, code: 'UNAUTHORIZED' },
  { rule: 'a key without the scope', request: { method: 'GET', url: '/v1/receivers/bob/senders', headers: AUTH.router }, status: 403, code: 'FORBIDDEN' },
  { rule: 'an unknown route', request: { method: 'GET', url: '/v1/unknown' }, status: 404, code: 'ROUTE_NOT_FOUND' },
  { rule: 'an unknown route without a key', request: { method: 'GET', url: '/unknown', headers: { authorization: '' } }, status: 404, code: 'ROUTE_NOT_FOUND' },
  { rule: 'an unsupported method on a known path', request: { method: 'PUT', url: '/v1/messages', payload: {} }, status: 404, code: 'ROUTE_NOT_FOUND' },
  { rule: 'a message that is not pending', request: { method: 'GET', url: '/v1/receivers/bob/messages/missing' }, status: 404, code: 'MESSAGE_NOT_FOUND' },
  {
    rule: 'a msg_id conflict',
    before: [{ method: 'POST', url: '/v1/messages', payload: newMessage({ msg_id: 'dup', content: 'one' }) }],
    request: { method: 'POST', url: '/v1/messages', payload: newMessage({ msg_id: 'dup', content: 'two' }) },
    status: 409,
    code: 'MSG_ID_CONFLICT'
  },
  { rule: 'a body too large', env: { BODY_LIMIT_BYTES: '1024' }, request: { method: 'POST', url: '/v1/messages', payload: newMessage({ content: 'x'.repeat(1500) }) }, status: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' },
  { rule: 'another content type', request: { method: 'POST', url: '/v1/messages', payload: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, status: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' },
  {
    rule: 'a full inbox',
    env: { MAX_PENDING_PER_RECEIVER: '1' },
    before: [{ method: 'POST', url: '/v1/messages', payload: newMessage() }],
    request: { method: 'POST', url: '/v1/messages', payload: newMessage() },
    status: 429,
    code: 'INBOX_FULL'
  }
]

for (const errorCase of CASES) {
  t.test(`${errorCase.rule} answers ${errorCase.status} ${errorCase.code} with exactly statusCode, code, error, message`, async (t) => {
    const { call } = await buildTestApp(t, errorCase.env)
    for (const setup of errorCase.before ?? []) {
      const res = await call(setup)
      if (res.statusCode >= 300) throw new Error(`setup answered ${res.statusCode}: ${res.body}`)
    }
    expectSafeErrorShape(t, await call(errorCase.request), errorCase.status, errorCase.code)
  })
}

t.test('a database failure answers 500 INTERNAL_ERROR without SQL, table names or a stack trace', async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  const { call } = await buildTestApp(t, { DATABASE_URL: databaseUrl })
  t.equal((await call({ method: 'POST', url: '/v1/messages', payload: newMessage() })).statusCode, 201)

  // Another connection renames the table under the running service: its next SQL statement fails.
  const other = createKnex({ databaseUrl, poolMax: 1, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })
  try {
    await other.schema.renameTable('messages', 'messages_gone')
  } finally {
    await other.destroy()
  }

  for (const request of [
    { method: 'POST' as const, url: '/v1/messages', payload: newMessage() },
    { method: 'GET' as const, url: '/v1/receivers/bob/messages' }
  ]) {
    expectSafeErrorShape(t, await call(request), 500, 'INTERNAL_ERROR')
  }
})
