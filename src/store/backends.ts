// The table of backends: for each database the service can run on, how DATABASE_URL names it, its knex driver
// configuration, how it migrates, its store factory and the error codes that mean "unreachable". A new backend is one
// entry here and its folder; the migrations ask for its dialect through knex's userParams, and the test helpers run the
// suite once per entry.
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import knexFactory, { type Knex } from 'knex'
import { knexLog, migrate, type DatabaseOptions } from './database.js'
import { refusalOf } from './postgres/refusals.js'
import type { Store } from './types.js'

/** The migration's outcome, for `npm run migrate` and the start log: what it applied, and lines worth saying. */
export interface MigrationOutcome { applied: string[], notes: string[] }

export interface Backend {
  readonly name: Dialect
  /** How DATABASE_URL names this backend, for the error of a URL that names none. */
  readonly urlForm: string
  matches (databaseUrl: string): boolean
  /** What is wrong with a URL that this backend matches, or null. */
  problemWith (databaseUrl: string): string | null
  knexConfig (options: DatabaseOptions): Knex.Config
  openStore (options: DatabaseOptions): Promise<Store>
  /** Brings the database to the latest schema, as the service does at start (`npm run migrate`). */
  migrate (options: DatabaseOptions): Promise<MigrationOutcome>
  /** Driver error codes (and messages of errors without one) that mean the database is unreachable or too slow. */
  readonly unavailableCodes: RegExp
  readonly unavailableMessages?: RegExp
  /** Driver error codes that mean the database is out of disk space (507 STORE_FULL). */
  readonly fullCodes: RegExp
  /**
   * When the server refused DATABASE_URL itself (no such database, a role that may not log in): what is wrong and
   * what to do, in one line without the URL's password; null for any other failure.
   */
  refusal? (error: unknown, databaseUrl: string): string | null
}

/** The SQL dialects of the backends: what a migration branches on where their DDL differs. */
export type Dialect = 'sqlite' | 'postgres'

/** What a migration may ask of the backend it runs on, through knex's userParams. */
export interface MigrationParams {
  dialect: Dialect
  /** Appended to every CREATE TABLE (SQLite: WITHOUT ROWID, so rows are stored in primary-key order). */
  tableOptions?: string
}

export function sqliteFilename (databaseUrl: string): string {
  const path = databaseUrl.replace(/^sqlite:(\/\/)?/, '')
  return path === ':memory:' ? path : resolve(path)
}

interface SqliteConnection { pragma (source: string): unknown }

const sqlite: Backend = {
  name: 'sqlite',
  urlForm: 'sqlite: (a file path, or :memory:)',
  matches: (url) => /^sqlite:.+/.test(url),
  problemWith: () => null,
  knexConfig (options) {
    const filename = sqliteFilename(options.databaseUrl)
    if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true })
    const userParams: MigrationParams = { dialect: 'sqlite', tableOptions: 'WITHOUT ROWID' }
    return {
      client: 'better-sqlite3',
      connection: { filename },
      useNullAsDefault: true,
      userParams,
      // better-sqlite3 is synchronous: one connection serialises every statement, and an in-memory database needs it.
      pool: {
        min: 1,
        max: 1,
        afterCreate (connection: SqliteConnection, done: (error: Error | null, connection: SqliteConnection) => void) {
          try {
            // WAL with synchronous=FULL: a COMMIT returns only after the WAL is fsynced. The serving store switches to
            // NORMAL and does that fsync itself, off the event loop, before each answer (sqlite/store.ts, sqlite/wal-sync.ts).
            connection.pragma('journal_mode = WAL')
            connection.pragma('synchronous = FULL')
            connection.pragma('foreign_keys = ON')
            connection.pragma(`busy_timeout = ${options.statementTimeoutMs}`)
            done(null, connection)
          } catch (error) {
            done(error as Error, connection)
          }
        }
      },
      acquireConnectionTimeout: options.connectTimeoutMs,
      log: knexLog(options)
    }
  },
  openStore: async (options) => await (await import('./sqlite/store.js')).createSqliteStore(options),
  async migrate (options) {
    const db = createKnex(options)
    try {
      return { applied: await migrate(db), notes: [] }
    } finally {
      await db.destroy()
    }
  },
  // better-sqlite3's codes, extended ones included (SQLITE_IOERR_FSYNC, SQLITE_BUSY_TIMEOUT, ...).
  unavailableCodes: /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|READONLY)/,
  fullCodes: /^SQLITE_FULL/
}

interface PgConnection {
  query: (...args: unknown[]) => unknown
  connection?: { stream?: { destroy (): void } }
}

/**
 * A server that stops answering (frozen, or cut off by a partition) never enforces its own statement_timeout, so
 * the client has a read timeout too. After one, the connection is mid-query and useless: its socket is destroyed,
 * which makes knex drop it from the pool instead of handing it to the next request.
 */
function dropConnectionOnReadTimeout (connection: PgConnection): void {
  const query = connection.query.bind(connection)
  connection.query = (...args: unknown[]) => {
    const last = args.length - 1
    const callback = args[last]
    if (typeof callback === 'function') {
      args[last] = (error: unknown, ...rest: unknown[]) => {
        if (error instanceof Error && error.message === 'Query read timeout') connection.connection?.stream?.destroy()
        return (callback as (...values: unknown[]) => unknown)(error, ...rest)
      }
    }
    return query(...args)
  }
}

const postgres: Backend = {
  name: 'postgres',
  urlForm: 'postgres://',
  matches: (url) => /^postgres(ql)?:\/\/.+/.test(url),
  problemWith (url) {
    try {
      new URL(url) // eslint-disable-line no-new
      return null
    } catch {
      return 'is not a valid postgres:// URL'
    }
  },
  knexConfig: (options) => ({
    client: 'pg',
    userParams: { dialect: 'postgres' } satisfies MigrationParams,
    connection: {
      connectionString: options.databaseUrl,
      statement_timeout: options.statementTimeoutMs,
      query_timeout: options.statementTimeoutMs + 1000,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      application_name: 'offline-messages'
    },
    pool: {
      min: 0,
      max: options.poolMax,
      afterCreate (connection: PgConnection, done: (error: Error | null, connection: PgConnection) => void) {
        dropConnectionOnReadTimeout(connection)
        done(null, connection)
      }
    },
    acquireConnectionTimeout: options.connectTimeoutMs,
    log: knexLog(options)
  }),
  // Citus's store: PostgreSQL's, routed by shard when the database turns out to have Citus.
  openStore: async (options) => await (await import('./citus/store.js')).createCitusStore(options),
  async migrate (options) {
    // Citus's distribution runs under the same lock, after the migrations, on a database that has the extension.
    const { citusLogLine, migrateCitus } = await import('./citus/migrations.js')
    const report = await migrateCitus(options)
    return { applied: report.applied, notes: [citusLogLine(report)].filter((line) => line !== null) }
  },
  // Admin shutdown, crash recovery, cannot connect now, too many connections, connection exceptions, statement timeout;
  // and, once running, the database or the role's login taken away (invalid_catalog_name, invalid_authorization_specification,
  // invalid_password): the operator's to fix, never the caller's (at start, `refusal` stops the process instead).
  unavailableCodes: /^(57P0[123]|53300|0800[01346]|57014|3D000|28000|28P01)$/,
  // disk_full: the server's own problem, answered as the SQLite store answers it.
  fullCodes: /^53100$/,
  refusal: refusalOf,
  // What pg and pg-pool throw, without a code, when the server cannot be reached or stops answering
  // ('timeout expired' is pg's connect timeout).
  unavailableMessages: new RegExp([
    'Connection terminated', 'Connection ended unexpectedly', 'timeout expired', 'timeout exceeded when trying to connect',
    'Client has encountered a connection error', 'Client was closed', 'Query read timeout'
  ].join('|'), 'i')
}

export const BACKENDS: readonly Backend[] = [sqlite, postgres]

export function backendFor (databaseUrl: string): Backend | undefined {
  return BACKENDS.find((backend) => backend.matches(databaseUrl))
}

function backendOf (databaseUrl: string): Backend {
  const backend = backendFor(databaseUrl)
  if (backend === undefined) throw new Error(`DATABASE_URL names no backend: it must start with ${BACKENDS.map((b) => b.urlForm).join(' or ')}`)
  return backend
}

export function createKnex (options: DatabaseOptions): Knex {
  return knexFactory(backendOf(options.databaseUrl).knexConfig(options))
}

/** Migrates the database that DATABASE_URL names (`npm run migrate`). */
export async function migrateDatabase (options: DatabaseOptions): Promise<MigrationOutcome> {
  return await backendOf(options.databaseUrl).migrate(options)
}

/** Opens (and migrates) the store of the backend that DATABASE_URL names. */
export async function createStore (options: DatabaseOptions): Promise<Store> {
  return await backendOf(options.databaseUrl).openStore(options)
}
