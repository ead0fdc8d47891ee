// A fresh database for each test file: an in-memory or temporary SQLite file, or a PostgreSQL database created and dropped here.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { BACKENDS, migrateDatabase, type Dialect } from '../../src/store/backends.js'
import { citusWorkers, createCitusDatabase } from './citus.js'

export type TestStore = Dialect

/** The stores the suite runs on: one per entry of the backends table (scripts/run-tests.ts runs it once per store). */
export const TEST_STORES: readonly TestStore[] = BACKENDS.map((backend) => backend.name)

/** Which store this run of the suite targets (TEST_STORE; the embedded default, SQLite, unless it names another). */
export const TEST_STORE: TestStore = TEST_STORES.find((store) => store === process.env.TEST_STORE) ?? 'sqlite'

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/**
 * A migrated PostgreSQL database that scripts/run-tests.ts makes once per run (createPostgresTemplate) and names here:
 * `{ migrated: true }` copies it instead of migrating a new database. Unset (a file run by tap directly), nothing is copied.
 */
const PG_TEMPLATE = process.env.TEST_PG_TEMPLATE

interface Teardown { teardown (fn: () => unknown): void }

function uniqueName (): string {
  return `om_test_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
}

async function withAdmin<T> (fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

function urlOf (name: string): string {
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

// DROP DATABASE waits for a checkpoint (PostgreSQL 15), about a second on a busy machine. So a file's databases are
// dropped together when the file ends, after every test's teardown has closed its app, and their drops share the
// checkpoints; a failed drop fails the file. tap is imported here, not above: scripts/run-tests.ts imports this
// module and must not start a tap test of its own.
const toDrop: string[] = []
let dropAtEnd: Promise<void> | undefined
async function dropAtEndOfFile (name: string): Promise<void> {
  toDrop.push(name)
  dropAtEnd ??= import('tap').then(({ default: tap }) => {
    tap.teardown(async () => {
      await Promise.all(toDrop.map((database) => withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))))
    })
  })
  await dropAtEnd
}

/** Makes the migrated database that `createPostgresDatabase(t, { migrated: true })` copies; resolves with its name. */
export async function createPostgresTemplate (): Promise<string> {
  const name = `om_template_${process.pid}_${Date.now().toString(36)}`
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`))
  // Every connection of the migration ends before the first copy: CREATE DATABASE refuses a template in use.
  await migrateDatabase({ databaseUrl: urlOf(name), poolMax: 1, statementTimeoutMs: 60_000, connectTimeoutMs: 5000 })
  return name
}

export async function dropPostgresTemplate (name: string): Promise<void> {
  await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}

// With TEST_PG_ADMIN_URL naming a Citus coordinator, each test database is a Citus database of that cluster.
let citus: ReturnType<typeof citusWorkers> | undefined
/** The workers of TEST_PG_ADMIN_URL's cluster, asked once; null when it has no Citus. */
const clusterWorkers = (): ReturnType<typeof citusWorkers> => (citus ??= citusWorkers(PG_ADMIN_URL))

/** Whether the test databases are Citus databases (TEST_STORE=postgres with TEST_PG_ADMIN_URL naming a coordinator). */
export async function onCitus (): Promise<boolean> {
  return TEST_STORE === 'postgres' && await clusterWorkers() !== null
}

/** `migrated: true`: already at the latest schema (a copy of the run's template), for a test that never sees a migration run. */
export async function createPostgresDatabase (t: Teardown, options: { migrated?: boolean } = {}): Promise<string> {
  const name = uniqueName()
  const workers = await clusterWorkers()
  if (workers === null) {
    const template = options.migrated === true && PG_TEMPLATE !== undefined && PG_TEMPLATE !== '' ? ` TEMPLATE ${PG_TEMPLATE}` : ''
    await dropAtEndOfFile(name)
    await withAdmin((client) => client.query(`CREATE DATABASE ${name}${template}`))
  } else {
    // 8 shards, not the default 32: a test database is made in half the time, and its receivers still spread over both workers.
    t.teardown(await createCitusDatabase(PG_ADMIN_URL, workers, name, 8))
  }
  return urlOf(name)
}

/**
 * A DATABASE_URL for a new database of the store under test: empty, or with `migrated: true` possibly already migrated
 * (for a test that does not care: the service migrates it at start either way).
 * `file: true` asks for an SQLite file (needed when several processes or connections open it).
 */
export async function createTestDatabase (t: Teardown, options: { file?: boolean, migrated?: boolean } = {}): Promise<string> {
  if (TEST_STORE === 'postgres') return await createPostgresDatabase(t, { migrated: options.migrated === true })
  if (options.file !== true) return 'sqlite::memory:'
  const dir = mkdtempSync(join(tmpdir(), 'om-test-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return `sqlite:${join(dir, 'messages.db')}`
}

/**
 * On PostgreSQL, waits until every transaction that held an xid when it was called has ended. The event feed serves
 * only events below that horizon (src/store/postgres/event-statements.ts), and the horizon is the cluster's: another
 * test file's transaction running at that moment holds a test's events back for as long as it lasts. Once it has
 * passed, every event of what the caller committed before is served. On SQLite, at once.
 */
export async function horizonPassed (databaseUrl: string): Promise<void> {
  if (!databaseUrl.startsWith('postgres')) return
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows: [taken] } = await client.query<{ xmax: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax')
    const deadline = Date.now() + 10_000
    for (;;) {
      const { rows: [horizon] } = await client.query<{ passed: boolean }>('SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::xid8 AS passed', [taken?.xmax])
      if (horizon?.passed === true) return
      if (Date.now() > deadline) throw new Error('the event feed\'s horizon did not pass the transactions before it within 10 s')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  } finally {
    await client.end()
  }
}
