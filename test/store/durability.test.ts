// Durability as the service's role sees it: fsync, synchronous_commit and full_page_writes read on a session of the
// store's pool at start and after a reconnect; any of them off is a warning in the log, offline_messages_store_durable 0
// and /readyz durable: false (still 200 ready). SQLite, which fsyncs its WAL itself, is always durable.
import pg from 'pg'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { API_KEYS, newMessage } from '../helpers/app.js'
import { createPostgresDatabase, createTestDatabase, PG_ADMIN_URL, TEST_STORE } from '../helpers/database.js'

interface LoggedApp { app: FastifyInstance, lines: Array<{ level: number, msg: string }> }

/** The app on this database, its log (info and up) kept as parsed lines. */
async function appWithLog (t: Test, databaseUrl: string): Promise<LoggedApp> {
  const lines: LoggedApp['lines'] = []
  const stream = { write (line: string) { lines.push(JSON.parse(line) as { level: number, msg: string }) } }
  const config = loadConfig({ API_KEYS, DATABASE_URL: databaseUrl })
  const app = await buildApp(config, { sweep: false, logger: { level: 'info', stream } })
  t.teardown(() => app.close())
  await app.ready()
  return { app, lines }
}

async function durableGauge (app: FastifyInstance): Promise<number | undefined> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  const match = /^offline_messages_store_durable (\S+)$/m.exec(res.body)
  return match?.[1] === undefined ? undefined : Number(match[1])
}

async function readiness (app: FastifyInstance): Promise<{ status: number, body: unknown }> {
  const res = await app.inject({ method: 'GET', url: '/readyz' })
  return { status: res.statusCode, body: res.json() }
}

const warnings = (lines: LoggedApp['lines']) => lines.filter((line) => line.level === 40).map((line) => line.msg)
const SYNCHRONOUS_COMMIT_OFF = /^synchronous_commit is off for this role: a 201 may be lost if PostgreSQL crashes within ~3x wal_writer_delay of it/

async function admin<T> (sql: string, fn?: (result: pg.QueryResult) => T, databaseUrl = PG_ADMIN_URL): Promise<T | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const result = await client.query(sql)
    return fn?.(result)
  } finally {
    await client.end()
  }
}

/** A new role with LOGIN that owns a new database: DATABASE_URL as that role. Both dropped at the end. */
async function databaseOfNewRole (t: Test): Promise<{ role: string, url: string }> {
  const adminUrl = await createPostgresDatabase(t)
  const database = new URL(adminUrl).pathname.slice(1)
  const role = `om_role_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  await admin(`CREATE ROLE ${role} LOGIN`)
  await admin(`ALTER DATABASE ${database} OWNER TO ${role}`)
  // The database first (its own teardown then finds it gone): a role that owns one cannot be dropped.
  t.teardown(async () => {
    await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    await admin(`DROP ROLE IF EXISTS ${role}`)
  })
  const url = new URL(adminUrl)
  url.username = role
  return { role, url: url.toString() }
}

/** Ends every session of the role (the store's pool included), as a restart of PostgreSQL or a network cut would. */
async function cutSessions (role: string): Promise<void> {
  await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`)
}

/** Stores through the app (so that its pool connects again) until the gauge reads `value`, or gives up after 10 s. */
async function gaugeAfterReconnect (app: FastifyInstance, value: number): Promise<number | undefined> {
  const deadline = Date.now() + 10_000
  let seen: number | undefined
  while (Date.now() < deadline) {
    await app.inject({ method: 'POST', url: '/v1/messages', headers: { authorization: `Bearer ${API_KEYS.split(',')[0]?.split(':')[1] ?? ''}` }, payload: newMessage() })
    seen = await durableGauge(app)
    if (seen === value) return seen
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return seen
}

if (TEST_STORE === 'sqlite') {
  t.test('on SQLite the store is durable: offline_messages_store_durable 1, /readyz durable: true, no warning', async (t) => {
    const { app, lines } = await appWithLog(t, await createTestDatabase(t, { file: true }))
    t.equal(await durableGauge(app), 1)
    t.strictSame(await readiness(app), { status: 200, body: { status: 'ready', durable: true } })
    t.strictSame(warnings(lines), [])
  })
} else {
  t.test('on PostgreSQL with fsync, synchronous_commit and full_page_writes on: offline_messages_store_durable 1, /readyz durable: true, no warning', async (t) => {
    const { app, lines } = await appWithLog(t, await createTestDatabase(t))
    t.equal(await durableGauge(app), 1)
    t.strictSame(await readiness(app), { status: 200, body: { status: 'ready', durable: true } })
    t.strictSame(warnings(lines).filter((msg) => /fsync|synchronous_commit|full_page_writes/.test(msg)), [])
  })

  t.test('synchronous_commit off for the service\'s role (ALTER ROLE ... SET): a warning naming it at start, offline_messages_store_durable 0, /readyz 200 ready with durable: false', async (t) => {
    const { role, url } = await databaseOfNewRole(t)
    await admin(`ALTER ROLE ${role} SET synchronous_commit = off`)
    const { app, lines } = await appWithLog(t, url)
    const found = warnings(lines).filter((msg) => SYNCHRONOUS_COMMIT_OFF.test(msg))
    t.equal(found.length, 1, 'one warning, at start, naming synchronous_commit and what it risks', { warnings: warnings(lines) })
    t.notOk(warnings(lines).some((msg) => /^(fsync|full_page_writes) is off/.test(msg)), 'and none for the settings that are on')
    t.equal(await durableGauge(app), 0)
    t.strictSame(await readiness(app), { status: 200, body: { status: 'ready', durable: false } })
    const stored = await app.inject({ method: 'POST', url: '/v1/messages', headers: { authorization: `Bearer ${API_KEYS.split(',')[0]?.split(':')[1] ?? ''}` }, payload: newMessage() })
    t.equal(stored.statusCode, 201, 'it still stores')
    t.equal(await admin('SHOW synchronous_commit', (result) => (result.rows[0] as { synchronous_commit: string }).synchronous_commit), 'on',
      'the admin\'s own sessions, another role, commit synchronously: the check read the service\'s role')
  })

  t.test('after a reconnect the settings are read again: the gauge and /readyz follow a change of the role\'s settings, with a warning, and back', async (t) => {
    const { role, url } = await databaseOfNewRole(t)
    const { app, lines } = await appWithLog(t, url)
    t.equal(await durableGauge(app), 1, 'durable at start')

    await admin(`ALTER ROLE ${role} SET synchronous_commit = off`)
    await cutSessions(role)
    t.equal(await gaugeAfterReconnect(app, 0), 0, 'after the store connects again: 0')
    t.strictSame(await readiness(app), { status: 200, body: { status: 'ready', durable: false } })
    t.equal(warnings(lines).filter((msg) => SYNCHRONOUS_COMMIT_OFF.test(msg)).length, 1, 'with the warning')

    await admin(`ALTER ROLE ${role} RESET synchronous_commit`)
    await cutSessions(role)
    t.equal(await gaugeAfterReconnect(app, 1), 1, 'and back to 1 once it is on again')
    t.strictSame(await readiness(app), { status: 200, body: { status: 'ready', durable: true } })
    t.ok(lines.some((line) => line.level === 30 && /are on again: the store is durable/.test(line.msg)), 'which the log says')
  })
}
