// The table of backends: for each database the service can run on, how DATABASE_URL names it, its knex driver
// configuration, its store factory and the error codes that mean "unreachable". A new backend is one entry here
// and its store file; nothing else in the service asks which database it runs on.
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import knexFactory, { type Knex } from 'knex'
import { knexLog, type DatabaseOptions } from './database.js'
import type { Store } from './types.js'

export interface Backend {
  readonly name: string
  /** How DATABASE_URL names this backend, for the error of a URL that names none. */
  readonly urlForm: string
  matches (databaseUrl: string): boolean
  /** What is wrong with a URL that this backend matches, or null. */
  problemWith (databaseUrl: string): string | null
  knexConfig (options: DatabaseOptions): Knex.Config
  openStore (options: DatabaseOptions): Promise<Store>
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

/** What a migration may ask of the backend it runs on, through knex's userParams. */
export interface MigrationParams {
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
    const userParams: MigrationParams = { tableOptions: 'WITHOUT ROWID' }
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

/** Where DATABASE_URL points, in the words of a refusal: never its password. */
interface Target { host: string, port: string, database: string, role: string }

function targetOf (databaseUrl: string, serverMessage: string): Target {
  const url = new URL(databaseUrl)
  const decoded = (part: string): string => {
    try {
      return decodeURIComponent(part)
    } catch {
      return part
    }
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: url.port || '5432',
    database: decoded(url.pathname.replace(/^\//, '')) || decoded(url.username),
    // The server names the role it refused (pg's default, the OS user, when the URL names none).
    role: /role "([^"]+)"/.exec(serverMessage)?.[1] ?? decoded(url.username)
  }
}

/** PostgreSQL's refusals of a connection, by SQLSTATE: what the server said, and what the operator can do. */
const REFUSALS: Record<string, (target: Target, serverMessage: string) => string> = {
  // invalid_catalog_name
  '3D000': ({ host, port, database }) => `database "${database}" does not exist on ${host}:${port}; ` +
    `create it (createdb -h ${host} -p ${port} -U postgres ${database}) or point DATABASE_URL at an existing database`,
  // invalid_authorization_specification: no such role, a role without LOGIN, or no pg_hba.conf line for it
  '28000': ({ host, port, database, role }, serverMessage) => {
    if (/does not exist/.test(serverMessage)) {
      return `role "${role}" does not exist on ${host}:${port}; create it (createuser -h ${host} -p ${port} -U postgres --login ${role}) ` +
        'or point DATABASE_URL at an existing role'
    }
    if (/not permitted to log in/.test(serverMessage)) {
      return `role "${role}" cannot log in on ${host}:${port}; grant it LOGIN (ALTER ROLE "${role}" LOGIN) or point DATABASE_URL at a role that can`
    }
    return `role "${role}" may not connect to database "${database}" on ${host}:${port} (${serverMessage}); ` +
      'allow it in pg_hba.conf or point DATABASE_URL at a role that may'
  },
  // invalid_password
  '28P01': ({ host, port, role }) => `password authentication failed for role "${role}" on ${host}:${port}; ` +
    'correct the password in DATABASE_URL (not shown here) or the role\'s password on the server'
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
  // Admin shutdown, crash recovery, cannot connect now, too many connections, connection exceptions, statement timeout.
  unavailableCodes: /^(57P0[123]|53300|0800[01346]|57014)$/,
  // disk_full: the server's own problem, answered as the SQLite store answers it.
  fullCodes: /^53100$/,
  refusal (error, databaseUrl) {
    const code = (error as { code?: unknown } | null)?.code
    const refused = typeof code === 'string' ? REFUSALS[code] : undefined
    if (refused === undefined) return null
    const serverMessage = error instanceof Error ? error.message : ''
    return refused(targetOf(databaseUrl, serverMessage), serverMessage)
  },
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

/** Opens (and migrates) the store of the backend that DATABASE_URL names. */
export async function createStore (options: DatabaseOptions): Promise<Store> {
  return await backendOf(options.databaseUrl).openStore(options)
}
