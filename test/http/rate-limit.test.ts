// The per-key rate limit: off by default, 429 RATE_LIMITED with Retry-After when on, counted per API key.
import t from 'tap'
import { AUTH, buildTestApp } from '../helpers/app.js'

const summary = { method: 'GET' as const, url: '/v1/receivers/bob/senders' }

t.test('with RATE_LIMIT_PER_MINUTE=2 the third request of a key answers 429 RATE_LIMITED with Retry-After', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_PER_MINUTE: '2' })
  t.equal((await app.inject({ ...summary, headers: AUTH.gateway })).statusCode, 200)
  t.equal((await app.inject({ ...summary, headers: AUTH.gateway })).statusCode, 200)
  const limited = await app.inject({ ...summary, headers: AUTH.gateway })
  t.equal(limited.statusCode, 429)
  t.same(Object.keys(limited.json()).sort(), ['code', 'error', 'message', 'statusCode'])
  t.equal(limited.json().code, 'RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After names a number of seconds')
})

t.test('the rate limit counts each API key on its own', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_PER_MINUTE: '1' })
  t.equal((await app.inject({ ...summary, headers: AUTH.gateway })).statusCode, 200)
  t.equal((await app.inject({ ...summary, headers: AUTH.gateway })).statusCode, 429)
  t.equal((await app.inject({ ...summary, headers: AUTH.reader })).statusCode, 200, 'another key still has its budget')
})

t.test('the rate limit applies after authentication: a request without a key is 401, not 429', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_PER_MINUTE: '1' })
  t.equal((await app.inject(summary)).statusCode, 401)
  t.equal((await app.inject(summary)).statusCode, 401)
  t.equal((await app.inject({ ...summary, headers: AUTH.gateway })).statusCode, 200)
})

t.test('health, readiness and metrics are never rate limited', async (t) => {
  const { app } = await buildTestApp(t, { RATE_LIMIT_PER_MINUTE: '1' })
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  }
})

t.test('without RATE_LIMIT_PER_MINUTE there is no limit', async (t) => {
  const { app } = await buildTestApp(t)
  const statuses = new Set<number>()
  for (let i = 0; i < 50; i++) statuses.add((await app.inject({ ...summary, headers: AUTH.gateway })).statusCode)
  t.same([...statuses], [200])
})
