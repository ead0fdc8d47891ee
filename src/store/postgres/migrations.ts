// PostgreSQL's schema: knex's migrations, one instance at a time under an advisory lock, and on a database with the
// citus extension the tables distributed by receiver_uid right after them, under the same lock.
import pg from 'pg'
import { createKnex } from '../backends.js'
import { migrate, type DatabaseOptions } from '../database.js'
import { connectionFailure } from '../errors.js'

// The advisory lock the instances' migrations take turns under (any constant of the service's own).
const MIGRATION_LOCK_KEY = 0x6f6d6d67

/**
 * The service's tables, all distributed by receiver_uid and colocated with `messages` (first, so that the others can
 * join its colocation group): a receiver's rows of every table live in shards on one node. A table added by a later
 * migration must be added here. knex's own tables (schema_migrations, schema_migrations_lock) stay ordinary tables on
 * the coordinator: only the migrations, which run there, read them, and as reference tables they would be copied to
 * every worker and written with two-phase commit for nothing.
 */
export const DISTRIBUTED_TABLES = ['messages', 'receivers', 'tombstones', 'conversations', 'devices'] as const
export const DISTRIBUTION_COLUMN = 'receiver_uid'

/** What the migration did, for the start log. */
export interface MigrationReport {
  applied: string[]
  /** Absent on a database without citus; else the tables distributed now and those found distributed already. */
  citus?: { version: string, distributed: string[], already: string[] }
}

interface Distribution { table: string, column: string | null, colocation: number }

/**
 * On a database with the citus extension, distributes the tables not distributed yet, and checks those that are: a
 * table distributed by another column, or outside messages' colocation group, would send a receiver's statements to
 * several nodes, so the start fails and says which. Runs after every migration, so that it is idempotent and a
 * database that gets citus later is distributed at the next start.
 */
async function distributeOnCitus (client: pg.Client): Promise<MigrationReport['citus']> {
  const { rows: [extension] } = await client.query<{ extversion: string }>("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
  if (extension === undefined) return undefined
  const found = async (): Promise<Map<string, Distribution>> => {
    const { rows } = await client.query<Distribution>(
      'SELECT logicalrelid::regclass::text AS table, column_to_column_name(logicalrelid, partkey) AS column, colocationid AS colocation ' +
      'FROM pg_dist_partition WHERE logicalrelid = ANY($1::regclass[])', [DISTRIBUTED_TABLES])
    return new Map(rows.map((row) => [row.table, row]))
  }
  const before = await found()
  const distributed: string[] = []
  for (const table of DISTRIBUTED_TABLES) {
    if (before.has(table)) continue
    await client.query(`SELECT create_distributed_table($1, '${DISTRIBUTION_COLUMN}', colocate_with => $2)`, [table, table === 'messages' ? 'default' : 'messages'])
    // The rows a table had on the coordinator are copied into its shards; the local copy is only dead weight.
    await client.query('SELECT truncate_local_data_after_distributing_table($1)', [table])
    distributed.push(table)
  }
  const after = await found()
  const colocation = after.get('messages')?.colocation
  const wrong = DISTRIBUTED_TABLES.filter((table) => after.get(table)?.column !== DISTRIBUTION_COLUMN || after.get(table)?.colocation !== colocation)
  if (wrong.length > 0) {
    throw new Error(`citus: ${wrong.join(', ')} must be distributed by ${DISTRIBUTION_COLUMN} and colocated with messages; ` +
      `found ${wrong.map((table) => `${table} by ${after.get(table)?.column ?? 'none'} in colocation group ${after.get(table)?.colocation ?? 'none'}`).join(', ')} ` +
      `(messages: ${colocation ?? 'none'})`)
  }
  return { version: extension.extversion, distributed, already: DISTRIBUTED_TABLES.filter((table) => before.has(table)) }
}

/**
 * Brings the database to the latest schema. Instances that start together on a new database take turns, under one
 * advisory lock held on a connection of its own: knex's own migration lock is a row it creates when missing, and two
 * instances that both find it missing insert two, after which every later start fails with "Migration table is
 * already locked".
 */
export async function migratePostgres (options: DatabaseOptions): Promise<MigrationReport> {
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
    const citus = await distributeOnCitus(lock)
    return citus === undefined ? { applied } : { applied, citus }
  } finally {
    await knex.destroy()
    // Ending the session releases the advisory lock.
    await lock.end()
  }
}

/** The start log's line about Citus, or null on a database without it. */
export function citusLogLine (report: MigrationReport): string | null {
  const { citus } = report
  if (citus === undefined) return null
  const tables = citus.distributed.length > 0
    ? `distributed ${citus.distributed.join(', ')}${citus.already.length > 0 ? ` (already: ${citus.already.join(', ')})` : ''}`
    : `tables already distributed (${citus.already.join(', ')})`
  return `citus ${citus.version}: ${tables} by ${DISTRIBUTION_COLUMN}, colocated with messages`
}
