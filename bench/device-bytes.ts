// `npm run bench -- --device-bytes` (or `npx tsx bench/device-bytes.ts` after a build): on-disk bytes per message
// with receivers of no device, 1 device and 3 devices, on SQLite and on PostgreSQL. Each configuration fills a fresh
// database through the service's own batch endpoint (1,000 receivers x 100 messages, 10 senders each, by default),
// stops the service, and measures the tables with their indexes: SQLite through the dbstat virtual table, PostgreSQL
// through pg_total_relation_size.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import { args, machine, POSTGRES_URL, writeResults } from './options.js'
import { preload, registerDevices, startService, stop } from './services.js'
import { checkout, describe, postgresDatabase, sqliteDatabase } from './sides.js'
import { onUndo, undoAll, undoOnSignals } from './undo.js'

const DEVICE_COUNTS = [0, 1, 3]
const SENDERS = 10
const PREFIX = 'bytes'
/** The tables a message's storage is made of, each with its indexes; the rest of the schema goes to `other`. */
const TABLES = ['messages', 'conversations', 'devices', 'receivers'] as const

type Sizes = Record<(typeof TABLES)[number] | 'other', number>

interface Measured {
  store: 'sqlite' | 'postgres'
  devices: number
  messages: number
  rows: Record<string, number>
  /** Bytes of each table with its indexes (and, on PostgreSQL, its TOAST), as the service left them, and compacted. */
  live: Sizes
  compacted: Sizes
  /** SQLite: the database file after a checkpoint, before VACUUM, and after it. */
  fileBytes?: { live: number, compacted: number }
  preloadSeconds: number
}

const emptySizes = (): Sizes => ({ messages: 0, conversations: 0, devices: 0, receivers: 0, other: 0 })
const into = (sizes: Sizes, table: string, bytes: number) => {
  const key = (TABLES as readonly string[]).includes(table) ? table as (typeof TABLES)[number] : 'other'
  sizes[key] += bytes
}

function sqliteSizes (db: Database.Database): Sizes {
  // Each b-tree by name, indexes (the primary keys' sqlite_autoindex_* among them) counted with their table.
  const tableOf = new Map((db.prepare("SELECT name, tbl_name FROM sqlite_schema WHERE type IN ('table', 'index')").all() as Array<{ name: string, tbl_name: string }>)
    .map((row) => [row.name, row.tbl_name]))
  const sizes = emptySizes()
  for (const { name, bytes } of db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as Array<{ name: string, bytes: number }>) {
    into(sizes, tableOf.get(name) ?? name, bytes)
  }
  return sizes
}

function measureSqlite (file: string): Pick<Measured, 'rows' | 'live' | 'compacted' | 'fileBytes'> {
  const db = new Database(file)
  try {
    db.pragma('wal_checkpoint(TRUNCATE)')
    const rows = Object.fromEntries(TABLES.map((table) => [table, (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n]))
    const live = sqliteSizes(db)
    const liveFile = statSync(file).size
    db.exec('VACUUM')
    db.pragma('wal_checkpoint(TRUNCATE)')
    return { rows, live, compacted: sqliteSizes(db), fileBytes: { live: liveFile, compacted: statSync(file).size } }
  } finally {
    db.close()
  }
}

async function postgresSizes (client: pg.Client): Promise<Sizes> {
  const sizes = emptySizes()
  const { rows } = await client.query<{ name: string, bytes: string }>(
    "SELECT c.relname AS name, pg_total_relation_size(c.oid) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
    "WHERE n.nspname = current_schema() AND c.relkind = 'r'")
  for (const { name, bytes } of rows) into(sizes, name, Number(bytes))
  return sizes
}

async function measurePostgres (url: string): Promise<Pick<Measured, 'rows' | 'live' | 'compacted'>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const rows: Record<string, number> = {}
    for (const table of TABLES) rows[table] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0)
    // As autovacuum would leave it: dead row versions (the summary rows are updated by every message) made reusable, not returned.
    await client.query('VACUUM ANALYZE')
    const live = await postgresSizes(client)
    await client.query('VACUUM FULL ANALYZE')
    return { rows, live, compacted: await postgresSizes(client) }
  } finally {
    await client.end()
  }
}

async function build (store: 'sqlite' | 'postgres', devices: number, receivers: number, perReceiver: number, dir: string): Promise<Measured> {
  const label = `bytes${devices}`
  const databaseUrl = store === 'sqlite' ? await sqliteDatabase(label)(dir) : await postgresDatabase(label, POSTGRES_URL)()
  const proc = await startService(process.cwd(), databaseUrl)
  let preloadSeconds: number
  try {
    if (devices > 0) await registerDevices(proc.url, PREFIX, receivers, devices)
    preloadSeconds = await preload(proc.url, PREFIX, receivers, perReceiver, SENDERS)
  } finally {
    await stop(proc)
  }
  const measured = store === 'sqlite' ? measureSqlite(databaseUrl.slice('sqlite:'.length)) : await measurePostgres(databaseUrl)
  const result = { store, devices, messages: receivers * perReceiver, preloadSeconds, ...measured }
  if (result.rows.messages !== result.messages) throw new Error(`${store}, ${devices} devices: ${result.rows.messages} messages stored of ${result.messages}`)
  process.stderr.write(`${store}, ${devices} devices: ${result.messages} messages in ${preloadSeconds.toFixed(1)} s, ` +
    `${(total(result.live) / result.messages).toFixed(0)} bytes per message as left, ${(total(result.compacted) / result.messages).toFixed(0)} compacted\n`)
  return result
}

const total = (sizes: Sizes) => sizes.messages + sizes.conversations + sizes.devices

function table (results: Measured[], pick: 'live' | 'compacted'): string {
  const lines = [
    '| store | devices per receiver | messages | summary rows | messages table B/msg | summary rows (conversations) B/msg | devices B/msg | ' +
      'total B/msg (these three) | total vs no devices | receivers B/msg (not in total) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const r of results) {
    const sizes = r[pick]
    const per = (bytes: number) => (bytes / r.messages).toFixed(1)
    const none = results.find((other) => other.store === r.store && other.devices === 0)
    lines.push(`| ${r.store === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${r.devices} | ${r.messages} | ${r.rows.conversations ?? '-'} | ${per(sizes.messages)} | ` +
      `${per(sizes.conversations)} | ${per(sizes.devices)} | ${per(total(sizes))} | ` +
      `${none === undefined ? '-' : (total(sizes) / total(none[pick])).toFixed(2)} | ${per(sizes.receivers)} |`)
  }
  return lines.join('\n')
}

export async function deviceBytes (): Promise<void> {
  undoOnSignals()
  const receivers = Number(args['device-bytes-receivers'])
  const perReceiver = Number(args['device-bytes-messages'])
  const here = checkout(process.cwd())
  const dir = mkdtempSync(join(tmpdir(), 'om-device-bytes-'))
  onUndo(async () => { rmSync(dir, { recursive: true, force: true }) })
  const results: Measured[] = []
  try {
    for (const store of ['sqlite', 'postgres'] as const) {
      for (const devices of DEVICE_COUNTS) results.push(await build(store, devices, receivers, perReceiver, dir))
    }
  } finally {
    await undoAll()
  }
  const server = new URL(POSTGRES_URL)
  server.password = ''
  const command = `npm run bench -- --device-bytes --device-bytes-receivers ${receivers} --device-bytes-messages ${perReceiver}`
  const sqliteFiles = results.filter((r) => r.fileBytes !== undefined)
    .map((r) => `${r.devices} devices: ${(r.fileBytes?.live ?? 0) / r.messages | 0} B/msg before VACUUM, ${(r.fileBytes?.compacted ?? 0) / r.messages | 0} after`).join('; ')
  const markdown = `Checkout: ${describe(here)}. Machine: ${machine}. Command: \`${command}\`. ${new Date().toISOString()}\n\n` +
    `Each configuration: a fresh database (SQLite: a file with the service's defaults; PostgreSQL: a database on ${server.host}, dropped at the end), ` +
    `${receivers} receivers registering 0, 1 or 3 devices each first, then ${receivers * perReceiver} messages (${perReceiver} per receiver from ` +
    `${SENDERS} senders, 100 characters of content) through POST /v1/messages/batch, 500 a request, and the service stopped. ` +
    'Bytes are each table\'s with its indexes (PostgreSQL: pg_total_relation_size, TOAST included; SQLite: the dbstat virtual ' +
    'table\'s pgsize summed over the table\'s b-tree and its indexes\'), divided by the number of messages. The total is messages + ' +
    'conversations + devices; receivers (one row per receiver whatever its devices) is shown apart.\n\n' +
    `As the service left them (SQLite: after a WAL checkpoint, free pages not counted by dbstat; PostgreSQL: after VACUUM ANALYZE, ` +
    'which makes dead row versions reusable without returning their space: each message updates its sender\'s summary rows):\n\n' +
    `${table(results, 'live')}\n\nCompacted (SQLite: after VACUUM; PostgreSQL: after VACUUM FULL ANALYZE):\n\n${table(results, 'compacted')}\n\n` +
    `SQLite file sizes: ${sqliteFiles}.\n`
  writeResults('device-bytes', markdown, { machine, command, checkout: here, postgresServer: server.toString(), senders: SENDERS, results }, true)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await deviceBytes()
