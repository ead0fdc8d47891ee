// `--fill copy`: a large database of the benchmark's preloaded messages in minutes instead of hours. One receiver is
// preloaded through the service's batch endpoint; its rows are then copied in SQL to every other receiver, message by
// message in round-robin order, as the HTTP preload stores them (and its summary rows sender by sender). What it does not
// reproduce: PostgreSQL's dead row versions of the summary rows' updates (the copy writes each row once, then VACUUM).
import Database from 'better-sqlite3'
import pg from 'pg'
import { MESSAGES_PER_RECEIVER } from './data.js'
import { FILL_BY_COPY, SERVICE_ENV } from './options.js'
import { preload, preloadRows, receiversFor, startService, stop, type Proc } from './services.js'

/** The tables whose rows of a receiver the copy repeats; every other table must hold none for the seed receiver. */
const COPIED = ['receivers', 'conversations', 'messages'] as const

/** The SQL the two stores differ in: how to run a statement, and a sequence of receiver numbers. */
interface Target {
  run (sql: string, params: unknown[]): Promise<number>
  query (sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>>
  /** The tables with a receiver_uid column, each with its columns in order. */
  tables (): Promise<Map<string, string[]>>
  /** A FROM item naming numbers 1..$2 as g(n), and the parameter marker of position i. */
  numbers: string
  param (i: number): string
  /** Ends the copy: kept when `copied`, else undone where it can be (SQLite's one transaction). */
  finish (copied: boolean): Promise<void>
}

function sqliteTarget (file: string): Target {
  const db = new Database(file)
  // Only while filling: the whole database in the page cache, no fsync. The service's own settings come back when it opens the file.
  db.pragma('cache_size = -4000000')
  db.pragma('synchronous = OFF')
  // better-sqlite3 binds `?` in order: each `?N` becomes one, given the N-th value.
  const bind = (sql: string, params: unknown[]): [string, unknown[]] => {
    const values: unknown[] = []
    return [sql.replace(/\?(\d+)/g, (_, n: string) => { values.push(params[Number(n) - 1]); return '?' }), values]
  }
  // One transaction for the whole copy: each statement dirties a page of every receiver's B-trees, which the cache keeps
  // until COMMIT; committing statement by statement would write most of the database again each time.
  db.exec('BEGIN')
  return {
    run: async (sql, params) => { const [text, values] = bind(sql, params); return db.prepare(text).run(...values).changes },
    query: async (sql, params) => { const [text, values] = bind(sql, params); return db.prepare(text).all(...values) as Array<Record<string, unknown>> },
    tables: async () => {
      const rows = db.prepare("SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' ORDER BY m.name, p.cid").all() as Array<{ t: string, c: string }>
      return withReceiverColumn(rows)
    },
    numbers: '(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?2) SELECT n FROM g) AS g',
    param: (i) => `?${i}`,
    finish: async (copied) => {
      if (db.inTransaction) db.exec(copied ? 'COMMIT' : 'ROLLBACK')
      db.pragma('wal_checkpoint(TRUNCATE)')
      db.close()
    }
  }
}

async function postgresTarget (url: string): Promise<Target> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query('SET synchronous_commit = off')
  return {
    run: async (sql, params) => (await client.query(sql, params)).rowCount ?? 0,
    query: async (sql, params) => (await client.query(sql, params)).rows,
    tables: async () => {
      const { rows } = await client.query("SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position")
      return withReceiverColumn(rows as Array<{ t: string, c: string }>)
    },
    numbers: 'generate_series(1, $2::int) AS g(n)',
    param: (i) => `$${i}`,
    finish: async (copied) => {
      if (!copied) { await client.end(); return }
      // What autovacuum would have done by then on a server in steady state: statistics and the visibility map.
      await client.query('VACUUM ANALYZE')
      await client.end()
    }
  }
}

function withReceiverColumn (rows: Array<{ t: string, c: string }>): Map<string, string[]> {
  const columns = new Map<string, string[]>()
  for (const { t, c } of rows) columns.set(t, [...(columns.get(t) ?? []), c])
  for (const [table, list] of columns) if (!list.includes('receiver_uid')) columns.delete(table)
  return columns
}

/**
 * Copies receiver `${prefix}-0`'s rows to `${prefix}-1` .. `${prefix}-(receivers - 1)`: the receiver rows at once, the
 * summary rows one sender at a time and the messages one seq at a time over every receiver, in receiver order (the
 * HTTP preload's round-robin).
 * The service must be stopped: it caches nothing of these receivers then. Answers the seconds it took.
 */
export async function copyReceiver (databaseUrl: string, prefix: string, receivers: number): Promise<number> {
  const started = Date.now()
  const target = databaseUrl.startsWith('postgres') ? await postgresTarget(databaseUrl) : sqliteTarget(databaseUrl.replace(/^sqlite:/, ''))
  const seed = `${prefix}-0`
  let copied = false
  try {
    const tables = await target.tables()
    for (const [table] of tables) {
      if ((COPIED as readonly string[]).includes(table)) continue
      const [row] = await target.query(`SELECT count(*) AS n FROM ${table} WHERE receiver_uid = ${target.param(1)}`, [seed])
      if (Number(row?.n) !== 0) throw new Error(`${table} holds rows of ${seed}: the copy would leave them out`)
    }
    const copy = (table: string, where = '') => {
      const columns = tables.get(table)
      if (columns === undefined) throw new Error(`no table ${table}`)
      const values = columns.map((c) => c === 'receiver_uid' ? `${target.param(3)} || g.n` : `t.${c}`)
      return `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${values.join(', ')} FROM ${table} AS t, ${target.numbers} ` +
        `WHERE t.receiver_uid = ${target.param(1)}${where} ORDER BY g.n`
    }
    const others = receivers - 1
    if (others <= 0) { copied = true; return 0 }
    const prefixed = `${prefix}-`
    await target.run(copy('receivers'), [seed, others, prefixed])
    // Summary rows one sender at a time, in the order of each sender's first message, as the preload creates them:
    // a receiver's rows lie apart, not side by side (on PostgreSQL the live updates scatter them further).
    const senders = await target.query(`SELECT sender_uid FROM messages WHERE receiver_uid = ${target.param(1)} GROUP BY sender_uid ORDER BY min(seq)`, [seed])
    for (const { sender_uid: sender } of senders) await target.run(copy('conversations', ` AND t.sender_uid = ${target.param(4)}`), [seed, others, prefixed, sender])
    const seqs = await target.query(`SELECT seq FROM messages WHERE receiver_uid = ${target.param(1)} ORDER BY seq`, [seed])
    for (const [i, { seq }] of seqs.entries()) {
      const copied = await target.run(copy('messages', ` AND t.seq = ${target.param(4)}`), [seed, others, prefixed, seq])
      if (copied !== others) throw new Error(`messages: seq ${String(seq)} copied to ${copied} receivers, not ${others}`)
      if (i % 20 === 19) process.stderr.write(`  copied ${(i + 1) * receivers} messages in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
    }
    copied = true
  } finally {
    await target.finish(copied)
  }
  return (Date.now() - started) / 1000
}

/**
 * The service on `databaseUrl` with about `rows` messages for the scenarios (receivers `load-*`, 200 each): through the
 * batch endpoint, or with --fill copy one receiver through it, the service stopped, the copy, and the service started
 * again on the filled database. Answers the running service and how many receivers it holds.
 */
export async function startFilled (databaseUrl: string, rows: number): Promise<{ proc: Proc, receivers: number }> {
  const proc = await startService('.', databaseUrl, [], undefined, SERVICE_ENV)
  if (!FILL_BY_COPY) return { proc, receivers: await preloadRows(proc.url, rows) }
  await preload(proc.url, 'load', 1, MESSAGES_PER_RECEIVER)
  await stop(proc)
  const receivers = receiversFor(rows)
  const seconds = await copyReceiver(databaseUrl, 'load', receivers)
  process.stderr.write(`rows=${rows}: copied one receiver's ${MESSAGES_PER_RECEIVER} messages to ${receivers - 1} more in ${seconds.toFixed(1)} s\n`)
  return { proc: await startService('.', databaseUrl, [], undefined, SERVICE_ENV), receivers }
}
