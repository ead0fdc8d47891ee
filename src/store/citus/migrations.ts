// Citus's schema: PostgreSQL's migrations (postgres/migrations.ts), then on a database with the citus extension the
// tables distributed by receiver_uid, under the same lock.
import type pg from 'pg'
import type { DatabaseOptions } from '../database.js'
import { migratePostgres, type MigrationReport } from '../postgres/migrations.js'

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
export interface CitusMigrationReport extends MigrationReport {
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
async function distributeOnCitus (client: pg.Client): Promise<CitusMigrationReport['citus']> {
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

/** Brings the database to the latest schema as migratePostgres does, then distributes its tables when it has citus. */
export async function migrateCitus (options: DatabaseOptions): Promise<CitusMigrationReport> {
  let citus: CitusMigrationReport['citus']
  const { applied } = await migratePostgres(options, async (client) => { citus = await distributeOnCitus(client) })
  return citus === undefined ? { applied } : { applied, citus }
}

/** The start log's line about Citus, or null on a database without it. */
export function citusLogLine (report: CitusMigrationReport): string | null {
  const { citus } = report
  if (citus === undefined) return null
  const tables = citus.distributed.length > 0
    ? `distributed ${citus.distributed.join(', ')}${citus.already.length > 0 ? ` (already: ${citus.already.join(', ')})` : ''}`
    : `tables already distributed (${citus.already.join(', ')})`
  return `citus ${citus.version}: ${tables} by ${DISTRIBUTION_COLUMN}, colocated with messages`
}
