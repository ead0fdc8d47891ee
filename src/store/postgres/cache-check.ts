// Whether PostgreSQL's shared_buffers can hold the service's tables: a receiver's pending messages lie on pages of their
// own among everyone else's, so once the tables outgrow shared_buffers a page of messages costs a system call into the
// operating system's cache for each message, and pages and summaries slow as the backlog grows
// (docs/postgresql-and-citus.md, "Memory for a large backlog"). Read at start and then every CACHE_CHECK_EVERY_MS, in
// the background; never on a request's path.
import type { Row } from './pool.js'
import { sql } from './sql-parts.js'

type Log = (level: 'info' | 'warn', message: string) => void

/**
 * shared_buffers (as set, and in bytes) against the tables a read touches, with their indexes and TOAST. Not in SQL:
 * the store's upkeep, on DATABASE_URL's database only, never on a shard's tables.
 */
export const CACHE_FIT = sql('cache_fit',
  "SELECT current_setting('shared_buffers') AS shared_buffers, " +
  "(SELECT setting::bigint * current_setting('block_size')::bigint FROM pg_settings WHERE name = 'shared_buffers') AS shared_buffers_bytes, " +
  "pg_total_relation_size('messages') + pg_total_relation_size('conversations') + pg_total_relation_size('receivers') AS tables_bytes")

/** How often the sizes are read again after the start. */
export const CACHE_CHECK_EVERY_MS = 10 * 60_000

const mb = (bytes: number): string => `${Math.round(bytes / 2 ** 20).toLocaleString('en-US')} MB`

/** The verdict of a row of CACHE_FIT: whether the tables fit, and the warning when they do not. */
export function cacheFit (row: Row): { fits: boolean, warning: string } {
  const buffers = Number(row.shared_buffers_bytes)
  const tables = Number(row.tables_bytes)
  return {
    fits: !(tables > buffers),
    warning: `PostgreSQL's shared_buffers (${String(row.shared_buffers)}) is smaller than the messages, conversations and receivers ` +
      `tables with their indexes (${mb(tables)}): pages and summaries now read them through the operating system's cache and ` +
      'slow down as the backlog grows; size shared_buffers for them (docs/postgresql-and-citus.md#memory-for-a-large-backlog)'
  }
}

/**
 * `read` answers CACHE_FIT's row; `log` takes a warning when the tables outgrow shared_buffers, and a line when they
 * fit again (nothing while nothing changes). A failed reading is skipped: the next one tries again.
 */
export function createCacheCheck (read: () => Promise<Row>, log: Log | undefined): { check: () => Promise<void>, close: () => void } {
  let fits: boolean | undefined
  const check = async (): Promise<void> => {
    let verdict: ReturnType<typeof cacheFit>
    try {
      verdict = cacheFit(await read())
    } catch {
      return
    }
    if (verdict.fits === fits) return
    if (!verdict.fits) log?.('warn', verdict.warning)
    else if (fits === false) log?.('info', 'the messages, conversations and receivers tables fit in PostgreSQL\'s shared_buffers again')
    fits = verdict.fits
  }
  const timer = setInterval(() => { void check() }, CACHE_CHECK_EVERY_MS)
  timer.unref()
  return { check, close: () => { clearInterval(timer) } }
}
