// A fresh database for each test file: an in-memory or temporary SQLite file, or a PostgreSQL database created and dropped here.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { BACKENDS, type Dialect } from '../../src/store/backends.js'
import { citusWorkers, createCitusDatabase } from './citus.js'

export type TestStore = Dialect

/** The stores the suite runs on: one per entry of the backends table (scripts/run-tests.ts runs it once per store). */
export const TEST_STORES: readonly TestStore[] = BACKENDS.map((backend) => backend.name)

/** Which store this run of the suite targets (TEST_STORE; the embedded default, SQLite, unless it names another). */
export const TEST_STORE: TestStore = TEST_STORES.find((store) => store === process.env.TEST_STORE) ?? 'sqlite'

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

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

// With TEST_PG_ADMIN_URL naming a Citus coordinator, each test database is a Citus database of that cluster.
let citus: ReturnType<typeof citusWorkers> | undefined

export async function createPostgresDatabase (t: Teardown): Promise<string> {
  const name = uniqueName()
  citus ??= citusWorkers(PG_ADMIN_URL)
  const workers = await citus
  if (workers === null) {
    await withAdmin((client) => client.query(`CREATE DATABASE ${name}`))
    t.teardown(() => withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
  } else {
    // 8 shards, not the default 32: a test database is made in half the time, and its receivers still spread over both workers.
    t.teardown(await createCitusDatabase(PG_ADMIN_URL, workers, name, 8))
  }
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return url.toString()
}

/**
 * A DATABASE_URL for a new, empty database of the store under test.
 * `file: true` asks for an SQLite file (needed when several processes or connections open it).
 */
export async function createTestDatabase (t: Teardown, options: { file?: boolean } = {}): Promise<string> {
  if (TEST_STORE === 'postgres') return await createPostgresDatabase(t)
  if (options.file !== true) return 'sqlite::memory:'
  const dir = mkdtempSync(join(tmpdir(), 'om-test-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return `sqlite:${join(dir, 'messages.db')}`
}
