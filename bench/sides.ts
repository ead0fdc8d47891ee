// The two sides of a side-by-side run: a label, the checkout whose service runs, and how its database is made and dropped.
import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, symlinkSync } from 'node:fs'
import { join, resolve } from 'node:path'
import pg from 'pg'
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
}

export function checkout (dir: string): Checkout {
  const git = (...command: string[]) => execFileSync('git', ['-C', dir, ...command], { encoding: 'utf8' }).trim()
  return { dir, commit: git('rev-parse', 'HEAD'), uncommittedChanges: git('status', '--porcelain', '--untracked-files=no') !== '' }
}

export const describe = (c: Checkout): string => `${c.dir} at ${c.commit}${c.uncommittedChanges ? ' with uncommitted changes' : ''}`

const exists = (path: string): boolean => { try { lstatSync(path); return true } catch { return false } }

/** Builds a checkout's dist/ if it has none, with its own node_modules or, lacking them, a link to this checkout's. */
export function buildCheckout (dir: string): void {
  if (existsSync(join(dir, 'dist/src/server.js'))) return
  if (!exists(join(dir, 'node_modules'))) {
    symlinkSync(resolve('node_modules'), join(dir, 'node_modules'), 'dir')
    process.stderr.write(`${dir}: ${join(dir, 'node_modules')} now links to ${resolve('node_modules')}\n`)
  }
  process.stderr.write(`${dir}: building ${join(dir, 'dist')} (npx tsc -p tsconfig.build.json)\n`)
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' })
}

/** A SQLite file named after the label in the run's directory (or `sqlite::memory:` kept as it is). */
export const sqliteDatabase = (label: string, memory = false) => async (dir: string): Promise<string> =>
  memory ? 'sqlite::memory:' : `sqlite:${join(dir, `${label}.db`)}`

/** On `serverUrl`'s PostgreSQL server, through its maintenance database `postgres`. */
async function onServer (serverUrl: string, sql: string): Promise<void> {
  const url = new URL(serverUrl)
  url.pathname = '/postgres'
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try { await client.query(sql) } finally { await client.end() }
}

/**
 * A database of its own on `serverUrl`'s server, named after the URL's (om_bench for the maintenance database) with the
 * label and this process's id, dropped at the end of the run.
 */
export const postgresDatabase = (label: string, serverUrl: string) => async (): Promise<string> => {
  const url = new URL(serverUrl)
  const suffix = `_${label}_${process.pid}`
  const named = url.pathname.slice(1).toLowerCase().replace(/\W/g, '_')
  const name = (named === '' || named === 'postgres' ? 'om_bench' : named).slice(0, 63 - suffix.length) + suffix
  await onServer(serverUrl, `CREATE DATABASE "${name}"`)
  onUndo(async () => { await onServer(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) })
  url.pathname = `/${name}`
  return url.toString()
}
