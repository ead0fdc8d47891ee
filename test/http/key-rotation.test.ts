// Rotating an API key without downtime, as docs/operations.md describes it: the new key beside the old (a name of its
// own, the same scope), both accepted at once, callers moved, the old one removed and refused with 401.
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { buildTestApp } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'

const OLD = 'router-2026-11:old-router-secret-1:write'
const NEW = 'router-2026-12:new-router-secret-2:write'
const GATEWAY = 'gateway:gateway-secret-1:read+ack'
const bearer = (entry: string) => ({ authorization: `Bearer ${entry.split(':')[1] ?? ''}` })

const message = (msgId: string) => ({ receiver_uid: 'bob', sender_uid: 'alice', msg_id: msgId, msg_type: 1, content: `hello ${msgId}` })

t.test('two keys may not share a name or a secret, so the new key gets a name of its own', async (t) => {
  t.throws(() => loadConfig({ API_KEYS: `${OLD},router-2026-11:new-router-secret-2:write` }), /API_KEYS.*key name "router-2026-11" appears twice/)
  t.throws(() => loadConfig({ API_KEYS: `${OLD},router-2026-12:old-router-secret-1:write` }), /API_KEYS.*reuses another key's secret/)
  t.strictSame(loadConfig({ API_KEYS: `${OLD},${NEW}` }).apiKeys.map((key) => [key.name, key.scopes]),
    [['router-2026-11', ['write']], ['router-2026-12', ['write']]], 'two names with the same scope are accepted')
})

t.test('the old and the new key with the same scope are both accepted at once, and the old one is refused once removed', async (t) => {
  // One database across the steps, as the instances of a rolling restart share theirs.
  const DATABASE_URL = await createTestDatabase(t, { file: true })

  await t.test('before: the old key only', async (t) => {
    const { app } = await buildTestApp(t, { DATABASE_URL, API_KEYS: `${OLD},${GATEWAY}` })
    const old = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(OLD), payload: message('r-1') })
    t.equal(old.statusCode, 201, 'the old key stores')
    const early = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(NEW), payload: message('r-0') })
    t.equal(early.statusCode, 401, 'the new key is not valid before it is added')
  })

  await t.test('during: both keys, the same scope', async (t) => {
    const { app } = await buildTestApp(t, { DATABASE_URL, API_KEYS: `${OLD},${NEW},${GATEWAY}` })
    const old = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(OLD), payload: message('r-2') })
    const fresh = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(NEW), payload: message('r-3') })
    t.equal(old.statusCode, 201, 'the old key still stores')
    t.equal(fresh.statusCode, 201, 'the new key stores')
    const retry = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(NEW), payload: message('r-2') })
    t.equal(retry.statusCode, 200, "a caller moved to the new key mid-retry gets the old key's message as a duplicate")
    t.equal(retry.json().duplicate, true)
    const forbidden = await app.inject({ method: 'GET', url: '/v1/receivers/bob/senders', headers: bearer(NEW) })
    t.equal(forbidden.statusCode, 403, 'the new key has only its own scope')
  })

  await t.test('after: the new key only', async (t) => {
    const { app } = await buildTestApp(t, { DATABASE_URL, API_KEYS: `${NEW},${GATEWAY}` })
    const old = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(OLD), payload: message('r-4') })
    t.equal(old.statusCode, 401, 'the removed key is refused')
    t.equal(old.json().code, 'UNAUTHORIZED')
    t.equal(old.headers['www-authenticate'], 'Bearer')
    const fresh = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(NEW), payload: message('r-5') })
    t.equal(fresh.statusCode, 201, 'the new key stores')
    const page = await app.inject({ method: 'GET', url: '/v1/receivers/bob/messages', headers: bearer(GATEWAY) })
    t.strictSame(page.json().messages.map((m: { msg_id: string }) => m.msg_id), ['r-1', 'r-2', 'r-3', 'r-5'],
      'what either key stored is there; nothing the removed key sent after its removal')
  })
})
