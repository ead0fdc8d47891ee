// The real process over HTTP: it starts, stores, and refuses to start when misconfigured.
import t from 'tap'
import { startExpectingFailure, startService } from './helpers/process.js'
import { AUTH } from './helpers/app.js'
import { createTestDatabase } from './helpers/database.js'

t.test('the real process stores a message and serves it back over HTTP', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const stored = await fetch(`${service.url}/v1/messages`, {
    method: 'POST',
    headers: { ...AUTH.router, 'content-type': 'application/json' },
    body: JSON.stringify({ receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'x1', msg_type: 1, content: 'hi' })
  })
  t.equal(stored.status, 201)
  const page = await fetch(`${service.url}/v1/receivers/bob/messages`, { headers: AUTH.gateway })
  t.equal(page.status, 200)
  t.match(await page.json(), { messages: [{ msg_id: 'x1', content: 'hi' }], has_more: false })
  t.equal(await service.stop(), 0, 'SIGTERM closes with exit code 0')
})

t.test('without API_KEYS the service refuses to listen on a non-loopback address, naming the variable', async (t) => {
  const { code, output } = await startExpectingFailure({ HOST: '0.0.0.0', API_KEYS: '' })
  t.not(code, 0)
  t.match(output, /API_KEYS/)
})
