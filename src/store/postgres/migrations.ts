// PostgreSQL's schema: knex's migrations, one instance at a time under an advisory lock, and what a backend built on
// PostgreSQL does right after them (distributing the tables), under the same lock.
import pg from 'pg'
import { createKnex } from '../backends.js'
import { migrate, type DatabaseOptions } from '../database.js'
import { connectionFailure } from '../errors.js'

// The advisory lock the instances' migrations take turns under (any constant of the service's own).
const MIGRATION_LOCK_KEY = 0x6f6d6d67

/** What the migration did, for the start log. */
export interface MigrationReport {
  applied: string[]
}

/**
 * Brings the database to the latest schema. Instances that start together on a new database take turns, under one
 * advisory lock held on a connection of its own: knex's own migration lock is a row it creates when missing, and two
 * instances that both find it missing insert two, after which every later start fails with "Migration table is
 * already locked".
 */
export async function migratePostgres (options: DatabaseOptions, afterMigrations?: (client: pg.Client) => Promise<void>): Promise<MigrationReport> {
  const lock = new pg.Client({
    connectionString: options.databaseUrl,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1000,
    application_name: 'offline-messages-migrations'
  })
  // A failure of this connection reaches the query or end() that waits on it; unheard, the event would end the process.
  lock.on('error', () => {})
  // The first connection of a start and of `npm run migrate`: a database or role the server refuses stops both here.
  await lock.connect().catch((error: unknown) => { throw connectionFailure(error, options.databaseUrl) })
  const knex = createKnex(options)
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    const applied = await migrate(knex)
    await afterMigrations?.(lock)
    return { applied }
  } finally {
    await knex.destroy()
    // Ending the session releases the advisory lock.
    await lock.end()
  }
}
