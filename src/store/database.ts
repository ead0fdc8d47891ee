// Opens the database named by DATABASE_URL (SQLite file or memory, or PostgreSQL) and migrates its schema.
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import knexFactory, { type Knex } from 'knex'
import { migrations } from '../../db/migrations/index.js'
import type { Config } from '../config.js'

export type Dialect = 'sqlite' | 'postgres'

export interface DatabaseOptions {
  databaseUrl: string
  poolMax: number
  statementTimeoutMs: number
  connectTimeoutMs: number
  /** Where knex's own warnings go (the service's logger), instead of the console. */
  log?: (level: 'warn' | 'error' | 'debug', message: string) => void
}

/** The database settings of the service's configuration. */
export function databaseOptions (config: Config, log?: DatabaseOptions['log']): DatabaseOptions {
  return {
    databaseUrl: config.databaseUrl,
    poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs,
    connectTimeoutMs: config.dbConnectTimeoutMs,
    ...(log === undefined ? {} : { log })
  }
}

function knexLog (options: DatabaseOptions): Knex.Config['log'] {
  const log = options.log
  if (log === undefined) return undefined
  // Only the first line: knex appends stacks, which do not belong in a service log.
  const first = (message: unknown) => String(message).split('\n')[0] ?? ''
  return {
    warn: (message: unknown) => { log('warn', first(message)) },
    error: (message: unknown) => { log('error', first(message)) },
    deprecate: (method: string, alternative: string) => { log('warn', `knex: ${method} is deprecated, use ${alternative}`) },
    debug: (message: unknown) => { log('debug', first(message)) }
  }
}

export function dialectOf (databaseUrl: string): Dialect {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? 'postgres' : 'sqlite'
}

export function sqliteFilename (databaseUrl: string): string {
  const path = databaseUrl.replace(/^sqlite:(\/\/)?/, '')
  return path === ':memory:' ? path : resolve(path)
}

interface SqliteConnection {
  pragma (source: string): unknown
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

export function createKnex (options: DatabaseOptions): Knex {
  if (dialectOf(options.databaseUrl) === 'postgres') {
    return knexFactory({
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
    })
  }
  const filename = sqliteFilename(options.databaseUrl)
  if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true })
  return knexFactory({
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    // better-sqlite3 is synchronous: one connection serialises every statement, and an in-memory database needs it.
    pool: {
      min: 1,
      max: 1,
      afterCreate (connection: SqliteConnection, done: (error: Error | null, connection: SqliteConnection) => void) {
        try {
          // WAL with synchronous=FULL: a COMMIT returns only after the WAL is fsynced. The serving store switches to
          // NORMAL and does that fsync itself, off the event loop, before each answer (sqlite-store.ts, wal-sync.ts).
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
  })
}

const migrationSource: Knex.MigrationSource<(typeof migrations)[number]> = {
  getMigrations: async () => [...migrations],
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration
}

// Instances that start together race for knex's migration lock (or to create its tables): the losers wait and retry.
const RACE = /MigrationLocked|already locked|already exists|duplicate key/i
const MIGRATION_ATTEMPTS = 40

export async function migrate (db: Knex): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const [, applied] = await db.migrate.latest({ migrationSource, tableName: 'schema_migrations' }) as [number, string[]]
      return applied
    } catch (error) {
      const text = error instanceof Error ? `${error.name} ${error.message}` : String(error)
      if (attempt >= MIGRATION_ATTEMPTS || !RACE.test(text)) throw error
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200))
    }
  }
}
