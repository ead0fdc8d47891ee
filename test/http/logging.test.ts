// Logs: pino JSON with a request id on every request line, echoed to the caller; no content and no keys at info.
import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { API_KEYS, AUTH, KEYS } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

const CONTENT = 'very-private-content-7f3a'

async function appWithCapturedLogs (t: { teardown (fn: () => unknown): void }) {
  const lines: string[] = []
  const sink = new Writable({
    write (chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''))
      done()
    }
  })
  const config = loadConfig({ API_KEYS, LOG_LEVEL: 'info', DATABASE_URL: await createTestDatabase(t) })
  const app = await buildApp(config, { sweep: false, logger: pino({ level: 'info' }, sink) })
  t.teardown(() => app.close())
  await app.ready()
  return { app, lines }
}

const secrets = Object.values(KEYS).map((entry) => entry.split(':')[1] ?? '')

t.test('a caller\'s x-request-id is echoed in the response and carried by every log line of that request', async (t) => {
  const { app, lines } = await appWithCapturedLogs(t)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { ...AUTH.router, 'x-request-id': 'trace-abc-123' },
    payload: { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'l1', msg_type: 1, content: CONTENT }
  })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['x-request-id'], 'trace-abc-123')
  const mine = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.reqId === 'trace-abc-123')
  t.match(mine, [{ msg: 'request completed', req: { method: 'POST', url: '/v1/messages' }, res: { statusCode: 201 }, responseTime: Number }],
    'one access line per request, with the request id, method, URL, status and time')
  t.equal(mine.length, 1, 'and no other line for a request that went well')
  t.ok(mine.every((entry) => typeof entry.time === 'number' && typeof entry.level === 'number'), 'lines are pino JSON')
})

t.test('without x-request-id the service makes one and returns it; an unsafe one is replaced', async (t) => {
  const { app } = await appWithCapturedLogs(t)
  const made = await app.inject({ method: 'GET', url: '/healthz' })
  t.match(made.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const unsafe = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id with spaces\u00e9' } })
  t.match(unsafe.headers['x-request-id'], /^[0-9a-f-]{36}$/)
})

t.test('no message content and no API key appears in the logs at info, on success and on errors', async (t) => {
  const { app, lines } = await appWithCapturedLogs(t)
  const body = { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'l2', msg_type: 1, content: CONTENT }
  await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH.router, payload: body })
  await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH.router, payload: { ...body, content: `${CONTENT}-other` } })
  await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH.router, payload: { ...body, contnet: CONTENT } })
  await app.inject({ method: 'POST', url: '/v1/messages', headers: { authorization: `Bearer ${secrets[0] ?? ''}-wrong` }, payload: body })
  await app.inject({ method: 'GET', url: '/v1/receivers/bob/messages', headers: AUTH.gateway })
  await app.inject({ method: 'POST', url: '/v1/receivers/bob/acks', headers: AUTH.gateway, payload: { msg_ids: ['l2'] } })
  t.equal(lines.filter((line) => line.includes('"msg":"request completed"')).length, 6, 'each of the six requests was logged')
  const text = lines.join('\n')
  t.notMatch(text, CONTENT, 'content never logged')
  for (const secret of secrets) t.notMatch(text, secret, 'no API key secret in the logs')
  t.notMatch(text, /"authorization"\s*:/i, 'no Authorization header in the logs')
})

t.test('the real process logs JSON lines without the keys it was started with', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  await fetch(`${service.url}/v1/messages`, {
    method: 'POST',
    headers: { ...AUTH.router, 'content-type': 'application/json', 'x-request-id': 'bb-1' },
    body: JSON.stringify({ receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'l3', msg_type: 1, content: CONTENT })
  })
  await fetch(`${service.url}/v1/receivers/bob/messages`, { headers: { authorization: 'Bearer not-a-key-at-all' } })
  t.equal(await service.stop(), 0)
  const output = service.output()
  const lines = output.split('\n').filter((line) => line.trim() !== '')
  t.ok(lines.length > 3)
  t.same(lines.filter((line) => { try { JSON.parse(line); return false } catch { return true } }), [], 'every line is JSON')
  t.ok(lines.some((line) => line.includes('"reqId":"bb-1"')))
  for (const secret of [...secrets, 'not-a-key-at-all', CONTENT]) t.notMatch(output, secret)
})
