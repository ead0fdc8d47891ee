// Database outage: with its PostgreSQL stopped, frozen, down at start or its database dropped, the real service answers 503 STORE_UNAVAILABLE in bounded time (and recovers without a restart where the database comes back).
import t, { type Test } from 'tap'
import pg from 'pg'
import { createTestDatabase, PG_ADMIN_URL, TEST_STORE } from '../helpers/database.js'
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js'
import { startService, type ServiceProcess } from '../helpers/process.js'
import { ANSWER_BOUND_MS, call, type Answer } from '../helpers/service-calls.js'

const RECOVERY_BOUND_MS = 30_000
const DB_ENV = { DB_CONNECT_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '2000' }
const RECEIVER = 'outage-bob'
const SENDER = 'outage-alice'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const store = (service: ServiceProcess, msgId: string) =>
  call(service, 'POST', '/v1/messages', { receiver_uid: RECEIVER, sender_uid: SENDER, msg_id: msgId, msg_type: 1, content: `content of ${msgId}` })

const UNAVAILABLE = {
  statusCode: 503,
  code: 'STORE_UNAVAILABLE',
  error: 'Service Unavailable',
  message: String
}

/** Store, page, summary and ack while the database is out: each answers 503 STORE_UNAVAILABLE within the bound. */
async function checkUnavailable (t: Test, service: ServiceProcess, label: string): Promise<number> {
  const calls: Array<[string, () => Promise<Answer>]> = [
    ['a store', () => store(service, `${label}-during`)],
    ['a page fetch', () => call(service, 'GET', `/v1/receivers/${RECEIVER}/messages?limit=10`)],
    ['the summary', () => call(service, 'GET', `/v1/receivers/${RECEIVER}/senders`)],
    ['an ack', () => call(service, 'POST', `/v1/receivers/${RECEIVER}/acks`, { msg_ids: [`${label}-before`] })],
    ['/readyz', () => call(service, 'GET', '/readyz')]
  ]
  let slowest = 0
  for (const [name, run] of calls) {
    const answer = await run()
    slowest = Math.max(slowest, answer.ms)
    if (answer.status !== 503) await sleep(300)
    t.equal(answer.status, 503, `${label}: ${name} answers 503 (${answer.ms} ms)`,
      answer.status === 503 ? {} : { serviceLog: service.output().split('\n').slice(-14) })
    t.ok(answer.ms < ANSWER_BOUND_MS, `${label}: ${name} answers within ${ANSWER_BOUND_MS} ms`)
    if (answer.status === 503) t.match(answer.body, UNAVAILABLE, `${label}: ${name} says STORE_UNAVAILABLE with the error shape`)
    if (answer.status === 503) t.notOk(/stack|select|insert|ECONN/i.test(JSON.stringify(answer.body)), `${label}: ${name} leaks no stack, SQL or socket detail`)
  }
  const health = await call(service, 'GET', '/healthz')
  t.equal(health.status, 200, `${label}: /healthz stays 200`)
  return slowest
}

/** Polls /readyz until 200, then stores; resolves with the milliseconds it took, or null. */
async function awaitRecovery (service: ServiceProcess): Promise<number | null> {
  const started = Date.now()
  while (Date.now() - started < RECOVERY_BOUND_MS) {
    const ready = await call(service, 'GET', '/readyz')
    if (ready.status === 200) return Date.now() - started
    await sleep(250)
  }
  return null
}

async function checkRecovered (t: Test, service: ServiceProcess, label: string, pid: number | undefined, storedBefore = true): Promise<void> {
  const recoveredMs = await awaitRecovery(service)
  t.not(recoveredMs, null, `${label}: /readyz returns to 200 within ${RECOVERY_BOUND_MS} ms (${String(recoveredMs)} ms)`)
  const after = await store(service, `${label}-after`)
  t.equal(after.status, 201, `${label}: a store works again`)
  const page = await call(service, 'GET', `/v1/receivers/${RECEIVER}/messages?limit=1000`)
  t.equal(page.status, 200, `${label}: a page fetch works again`)
  const ids = ((page.body as { messages?: Array<{ msg_id: string, content: string }> }).messages ?? [])
  if (storedBefore) t.match(ids, [{ msg_id: `${label}-before`, content: `content of ${label}-before` }], `${label}: the message stored before the outage is still there`)
  t.ok(ids.some((message) => message.msg_id === `${label}-after`), `${label}: and the one stored after it`)
  t.equal(service.child.pid, pid, `${label}: the same process recovered, with no restart`)
  t.equal(service.child.exitCode, null, `${label}: the process never exited`)
  t.comment(`${TEST_STORE}: ${label}: recovered ${String(recoveredMs)} ms after the database came back`)
}

async function startOn (t: Test, database: PrivatePostgres): Promise<ServiceProcess> {
  return await startService(t, { DATABASE_URL: database.url(), ...DB_ENV })
}

if (TEST_STORE === 'sqlite') {
  t.test('on SQLite the store is embedded: /readyz and /healthz answer 200 and stores work (no outage to simulate)', async (t) => {
    const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }), ...DB_ENV })
    const ready = await call(service, 'GET', '/readyz')
    t.equal(ready.status, 200)
    t.same(ready.body, { status: 'ready', durable: true })
    t.equal((await call(service, 'GET', '/healthz')).status, 200)
    t.equal((await store(service, 'sqlite-1')).status, 201)
    t.equal(await service.stop(), 0)
  })
} else {
  t.test('PostgreSQL stopped: every request answers 503 STORE_UNAVAILABLE in bounded time, and the service recovers by itself when it returns', async (t) => {
    const database = await startPrivatePostgres(t)
    const service = await startOn(t, database)
    const pid = service.child.pid
    t.equal((await store(service, 'stopped-before')).status, 201, 'a store works while the database is up')
    t.equal((await call(service, 'GET', '/readyz')).status, 200, '/readyz is 200 while the database is up')

    await database.stop()
    const slowest = await checkUnavailable(t, service, 'stopped')
    t.comment(`${TEST_STORE}: stopped: slowest 503 took ${slowest} ms`)

    await database.start()
    await checkRecovered(t, service, 'stopped', pid)
    t.equal(await service.stop(), 0, 'it still closes cleanly')
  })

  t.test('PostgreSQL frozen (sockets open, nothing answers, as in a network partition): requests answer 503 in bounded time, and the service recovers', async (t) => {
    const database = await startPrivatePostgres(t)
    const service = await startOn(t, database)
    const pid = service.child.pid
    t.equal((await store(service, 'frozen-before')).status, 201, 'a store works while the database is up (and leaves a pooled connection)')

    database.freeze()
    let slowest: number
    try {
      slowest = await checkUnavailable(t, service, 'frozen')
    } finally {
      database.thaw()
    }
    t.comment(`${TEST_STORE}: frozen: slowest answer took ${slowest} ms`)
    await checkRecovered(t, service, 'frozen', pid)
    t.equal(await service.stop(), 0, 'it still closes cleanly')
  })

  t.test('its database dropped while it runs: every request answers 503 STORE_UNAVAILABLE, never 500', async (t) => {
    const url = await createTestDatabase(t)
    const service = await startService(t, { DATABASE_URL: url, ...DB_ENV })
    t.equal((await store(service, 'dropped-before')).status, 201, 'a store works while the database exists')
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL })
    await admin.connect()
    try {
      await admin.query(`DROP DATABASE ${new URL(url).pathname.slice(1)} WITH (FORCE)`)
    } finally {
      await admin.end()
    }
    await checkUnavailable(t, service, 'dropped')
    t.equal(service.child.exitCode, null, 'the process keeps running (the operator decides)')
    t.equal(await service.stop(), 0, 'it still closes cleanly')
  })

  t.test('PostgreSQL unreachable at start: the service starts anyway, answers 503 STORE_UNAVAILABLE, and migrates and serves once the database comes', async (t) => {
    const database = await startPrivatePostgres(t)
    await database.stop()
    const started = Date.now()
    const service = await startOn(t, database)
    const startMs = Date.now() - started
    t.pass(`it listens although its database is down (${startMs} ms to listen)`)
    const pid = service.child.pid
    const slowest = await checkUnavailable(t, service, 'absent')
    t.comment(`${TEST_STORE}: absent at start: listening after ${startMs} ms; slowest 503 took ${slowest} ms`)

    await database.start()
    await checkRecovered(t, service, 'absent', pid, false)
    t.equal(await service.stop(), 0, 'it still closes cleanly')
  })
}
