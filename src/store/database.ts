// What every backend shares: the database options, knex's log routed to the service's logger, and the migrations.
import type { Knex } from 'knex'
import { migrations } from '../../db/migrations/index.js'

export interface DatabaseOptions {
  databaseUrl: string
  poolMax: number
  statementTimeoutMs: number
  connectTimeoutMs: number
  /** SQLite: disk space held back in a file beside the database, released when the disk fills so that acks can drain it. */
  reserveBytes?: number
  /** Where knex's own warnings go (the service's logger), instead of the console. */
  log?: (level: 'info' | 'warn' | 'error' | 'debug', message: string) => void
}

export function knexLog (options: DatabaseOptions): Knex.Config['log'] {
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
