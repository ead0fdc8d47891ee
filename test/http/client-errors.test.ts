// Requests Node's HTTP parser refuses are answered in the contract's error shape with Connection: close, and a
// keep-alive pool that sent one goes on working: its next request gets a fresh connection, not a reset.
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
import t from 'tap'
import { AUTH } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

interface Answer { status: number, headers: IncomingHttpHeaders, body: string }

function send (agent: Agent, url: string, options: { method?: string, path: string, headers?: Record<string, string> }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, method: options.method ?? 'GET', path: options.path, headers: { ...AUTH.admin, ...options.headers } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const CASES = [
  { kind: 'a request line over the size limit', path: `/v1/receivers/${'b'.repeat(20_000)}/senders`, status: 414, code: 'URI_TOO_LONG' },
  { kind: 'headers over the size limit', path: '/v1/receivers/bob/senders', headers: { 'x-padding': 'p'.repeat(20_000) }, status: 431, code: 'REQUEST_HEADER_TOO_LARGE' },
  // Node's client writes the head as latin1: U+00E9 goes out as the raw byte 0xE9.
  { kind: 'a raw non-ASCII byte in the path', path: '/v1/receivers/b\u00e9b/senders', status: 400, code: 'BAD_REQUEST' },
  { kind: 'an unknown method', method: 'FETCH', path: '/v1/receivers/bob/senders', status: 400, code: 'BAD_REQUEST' }
]

t.test('a refused request answers in the error shape, closes its connection, and the pool goes on', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  for (const { kind, status, code, ...options } of CASES) {
    await t.test(kind, async (t) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      t.teardown(() => { agent.destroy() })
      const warm = await send(agent, service.url, { path: '/v1/receivers/bob/senders' })
      t.equal(warm.status, 200, 'a normal request first, so that the pool holds a kept-alive socket')

      const refused = await send(agent, service.url, options)
      t.equal(refused.status, status)
      t.equal(refused.headers.connection, 'close', 'Connection: close, so the pool does not reuse the socket')
      t.match(refused.headers['content-type'], /^application\/json/)
      let body: unknown
      t.doesNotThrow(() => { body = JSON.parse(refused.body) }, 'a JSON body')
      t.same(Object.keys(body as object).sort(), ['code', 'error', 'message', 'statusCode'], 'the contract\'s error shape')
      t.match(body, { statusCode: status, code })

      const next = await send(agent, service.url, { path: '/v1/receivers/bob/senders' })
      t.equal(next.status, 200, 'the next request through the same pool is served, with no reset')
    })
  }
  t.equal(await service.stop(), 0)
})
