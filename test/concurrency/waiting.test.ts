// Long-poll across real instances on one database: a store through one instance wakes a request held by another
// (PostgreSQL's LISTEN/NOTIFY; on SQLite, one process wakes its own), a cut listener connection is reopened and the
// held requests read again, and SIGTERM answers a thousand held requests at once.
import pg from 'pg'
import t from 'tap'
import { AUTH } from '../helpers/app.js'
import { createTestDatabase, PG_ADMIN_URL, TEST_STORE } from '../helpers/database.js'
import { startService } from '../helpers/process.js'
import { createClient, pause, startCluster } from './load.js'

interface Page { messages: Array<{ msg_id: string }>, has_more: boolean }

async function held (url: string, receiverUid: string, waitSeconds: number): Promise<{ status: number, body: Page, ms: number }> {
  const started = Date.now()
  const response = await fetch(`${url}/v1/receivers/${receiverUid}/messages?wait_seconds=${waitSeconds}`, { headers: AUTH.gateway })
  return { status: response.status, body: await response.json() as Page, ms: Date.now() - started }
}

async function waiters (url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(/^offline_messages_waiters (\d+)/m.exec(text)?.[1] ?? NaN)
}

async function untilWaiters (url: string, count: number): Promise<void> {
  for (let i = 0; i < 1000 && await waiters(url) !== count; i++) await pause(20)
  if (await waiters(url) !== count) throw new Error(`${url} never held ${count} requests`)
}

t.test('a store through one instance wakes a request held by another', async (t) => {
  const { urls } = await startCluster(t)
  const holder = urls[urls.length - 1] as string
  const client = createClient([urls[0] as string])
  const answers = Promise.all(['x-1', 'x-2', 'x-3'].map((receiverUid) => held(holder, receiverUid, 20)))
  await untilWaiters(holder, 3)
  for (const receiverUid of ['x-1', 'x-2', 'x-3']) {
    t.equal((await client.request('POST', '/v1/messages', 'router', { receiver_uid: receiverUid, sender_uid: 'alice', msg_id: `to-${receiverUid}`, msg_type: 1, content: 'hi' })).status, 201)
  }
  for (const [i, answer] of (await answers).entries()) {
    t.equal(answer.status, 200)
    t.strictSame(answer.body.messages.map((m) => m.msg_id), [`to-x-${i + 1}`])
    t.ok(answer.ms < 15_000, `woken, not timed out (${answer.ms} ms)`)
  }
  t.equal(await waiters(holder), 0)
})

t.test('when the listener connection is cut, the instance listens again and its held requests read again', async (t) => {
  if (TEST_STORE !== 'postgres') {
    t.comment('SQLite has no listener connection: one process wakes its own waiters (see the test above)')
    t.pass('nothing to cut on SQLite')
    return
  }
  const { urls, databaseUrl } = await startCluster(t)
  const [writer, holder] = urls as [string, string]
  const answer = held(holder, 'cut-1', 25)
  await untilWaiters(holder, 1)
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
  await admin.connect()
  t.teardown(() => admin.end())
  const database = new URL(databaseUrl).pathname.slice(1)
  const cut = await admin.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'offline-messages-listener' AND datname = $1", [database])
  t.equal(cut.rowCount, urls.length, 'every instance\'s listener connection is cut')
  // Stored while the holder cannot hear it: only reading again after the reconnect finds it.
  const stored = await createClient([writer]).request('POST', '/v1/messages', 'router', { receiver_uid: 'cut-1', sender_uid: 'alice', msg_id: 'while-cut', msg_type: 1, content: 'hi' })
  t.equal(stored.status, 201)
  const { status, body, ms } = await answer
  t.equal(status, 200)
  t.strictSame(body.messages.map((m) => m.msg_id), ['while-cut'])
  t.ok(ms < 20_000, `answered after the reconnect, not at the deadline (${ms} ms)`)
  // The held request may be answered by the first instance back: the others reconnect on their own schedule, within seconds.
  const countListeners = async () => (await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'offline-messages-listener' AND datname = $1", [database])).rows[0].n
  let listening = await countListeners()
  for (const deadline = Date.now() + 10_000; listening !== urls.length && Date.now() < deadline; listening = await countListeners()) await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(listening, urls.length, 'each instance listens again')
})

t.test('SIGTERM answers a thousand held requests at once, each with its empty page, and the process exits in time', async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  const service = await startService(t, { DATABASE_URL: databaseUrl, SHUTDOWN_TIMEOUT_MS: '10000' })
  const HELD = 1000
  const answers = Array.from({ length: HELD }, (_, i) => held(service.url, `many-${i}`, 30).catch((error: unknown) => ({ status: 0, body: { messages: [], has_more: false }, ms: 0, error })))
  await untilWaiters(service.url, HELD)
  const started = Date.now()
  service.signal('SIGTERM')
  const results = await Promise.all(answers)
  const exit = await service.exited
  const ms = Date.now() - started
  t.equal(results.filter((r) => r.status === 200 && r.body.messages.length === 0 && !r.body.has_more).length, HELD, 'every held request got its empty page')
  t.equal(exit, 0, 'exit code 0')
  t.ok(ms < 10_000, `within SHUTDOWN_TIMEOUT_MS (${ms} ms)`)
})
