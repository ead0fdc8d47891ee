// The two sides of a side-by-side run: a label, the checkout whose service runs, and how its database is made and dropped.
import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import pg from 'pg'
import { citusWorkers, createCitusDatabase } from '../test/helpers/citus.js'
import { onUndo } from './undo.js'

export interface Checkout { dir: string, commit: string, uncommittedChanges: boolean }

export interface Side {
  label: string
  checkout: Checkout
  store: 'sqlite' | 'postgres'
  /** Makes the side's database (`dir`: a temporary directory of the run); answers its DATABASE_URL. */
  database: (dir: string) => Promise<string>
  /** Devices registered for each receiver before any message is stored (--devices); none when absent. */
  devices?: number
  /** The node binary that runs the side's service (--baseline-node); this process's when absent. */
  node?: string
  /** Configuration of the side's service beyond the benchmark's (--events: EVENTS=on); none when absent. */
  env?: Record<string, string>
}

export function checkout (dir: string): Checkout {
  const git = (...command: string[]) => execFileSync('git', ['-C', dir, ...command], { encoding: 'utf8' }).trim()
  return { dir, commit: git('rev-parse', 'HEAD'), uncommittedChanges: git('status', '--porcelain', '--untracked-files=no') !== '' }
}

export const describe = (c: Checkout): string => `${c.dir} at ${c.commit}${c.uncommittedChanges ? ' with uncommitted changes' : ''}`

const exists = (path: string): boolean => { try { lstatSync(path); return true } catch { return false } }

/**
 * Builds the baseline checkout's dist/ unless this function built it already at the checkout's HEAD (its stamp,
 * dist/.bench-built-at): a dist/ built at another commit (the checkout moved since) or by hand, or a checkout with
 * uncommitted changes, is built again, so that the baseline runs the code of the commit it names. With its own
 * node_modules or, lacking them, a link to this checkout's.
 */
export function buildCheckout (dir: string): void {
  const { commit, uncommittedChanges } = checkout(dir)
  const stamp = join(dir, 'dist', '.bench-built-at')
  const builtAt = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : undefined
  if (!uncommittedChanges && builtAt === commit && existsSync(join(dir, 'dist/src/server.js'))) return
  if (!exists(join(dir, 'node_modules'))) {
    symlinkSync(resolve('node_modules'), join(dir, 'node_modules'), 'dir')
    process.stderr.write(`${dir}: ${join(dir, 'node_modules')} now links to ${resolve('node_modules')}\n`)
  }
  process.stderr.write(`${dir}: building ${join(dir, 'dist')} at ${commit}${uncommittedChanges ? ' with uncommitted changes' : ''} (npx tsc -p tsconfig.build.json)\n`)
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' })
  if (!uncommittedChanges) writeFileSync(stamp, `${commit}\n`)
}

/** A SQLite file named after the label in the run's directory (or `sqlite::memory:` kept as it is). */
export const sqliteDatabase = (label: string, memory = false) => async (dir: string): Promise<string> =>
  memory ? 'sqlite::memory:' : `sqlite:${join(dir, `${label}.db`)}`

/** On `serverUrl`'s PostgreSQL server, in `database` (its maintenance database `postgres` by default); answers the rows. */
async function onServer (serverUrl: string, sql: string, database = 'postgres'): Promise<Array<Record<string, unknown>>> {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try { return (await client.query(sql)).rows } finally { await client.end() }
}

/** The database name of a side: the URL's (om_bench for the maintenance database) with the label and this process's id. */
function databaseName (label: string, serverUrl: string): string {
  const suffix = `_${label}_${process.pid}`
  const named = new URL(serverUrl).pathname.slice(1).toLowerCase().replace(/\W/g, '_')
  return (named === '' || named === 'postgres' ? 'om_bench' : named).slice(0, 63 - suffix.length) + suffix
}

const inDatabase = (serverUrl: string, name: string): string => {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** A database of its own on `serverUrl`'s server (named by databaseName), dropped at the end of the run. */
export const postgresDatabase = (label: string, serverUrl: string) => async (): Promise<string> => {
  const name = databaseName(label, serverUrl)
  await onServer(serverUrl, `CREATE DATABASE "${name}"`)
  onUndo(async () => { await onServer(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) })
  return inDatabase(serverUrl, name)
}

/** What the results say of analyze. */
export const ANALYZED = 'each PostgreSQL database analyzed (ANALYZE) before each round, as autovacuum keeps a server in steady state (bench/sides.ts)'

/**
 * Brings a PostgreSQL database's planner statistics up to date, as autovacuum does within its minute on a server in
 * steady state. On a fresh database, a connection's named statements keep the generic plans made while the tables
 * were empty (sequential scans) until the tables are analyzed: without this, a few seconds' run measures those plans.
 * A SQLite URL is left alone: SQLite keeps no plans across statements' runs and has no statistics unless asked.
 */
export async function analyze (databaseUrl: string): Promise<void> {
  if (!databaseUrl.startsWith('postgres')) return
  const url = new URL(databaseUrl)
  await onServer(databaseUrl, 'ANALYZE', url.pathname.slice(1))
}

/**
 * A database of its own on the Citus cluster whose coordinator `coordinatorUrl` names (named by databaseName): on the
 * coordinator and every worker, as the tests make theirs (test/helpers/citus.ts), with `shardCount` shards (Citus's
 * default, 32, without it); dropped from every node at the end of the run.
 */
export const citusDatabase = (label: string, coordinatorUrl: string, shardCount?: number) => async (): Promise<string> => {
  const maintenance = inDatabase(coordinatorUrl, 'postgres')
  const workers = await citusWorkers(maintenance)
  if (workers === null || workers.length === 0) throw new Error(`${new URL(coordinatorUrl).host}: not a Citus coordinator with active workers`)
  const name = databaseName(label, coordinatorUrl)
  onUndo(await createCitusDatabase(maintenance, workers, name, shardCount))
  return inDatabase(coordinatorUrl, name)
}

/** How the service left its tables on a Citus database: each with its Citus type, distribution column and shard count. */
export async function citusTables (databaseUrl: string): Promise<Array<Record<string, unknown>>> {
  return await onServer(databaseUrl, 'SELECT table_name::text, citus_table_type, distribution_column, shard_count FROM citus_tables ORDER BY 1',
    new URL(databaseUrl).pathname.slice(1))
}
