// Every SQL text the stores can send, by name: PostgreSQL's statements, Citus's shapes and shard-named statements, SQLite's.
import { DISTRIBUTED_TABLES } from '../../src/store/citus/migrations.js'
import { nodeAccess, shardAccess } from '../../src/store/citus/shards.js'
import { CITUS, CITUS_SQL } from '../../src/store/citus/statements.js'
import { SQL, writeBackOf, type Sql } from '../../src/store/postgres/statements.js'
import { prepareStatements } from '../../src/store/sqlite/statements.js'
import { WEBHOOK_SQL } from '../../src/store/postgres/webhook-statements.js'

const shown = (sql: Sql): string => `${sql.name}\n${sql.text}`

/** A database stand-in that only records what is prepared: SQLite's statements need no file to be read. */
function recordingDatabase (): { prepare (source: string): unknown } {
  return {
    prepare (source: string) {
      const statement = { source, run: () => undefined, get: () => undefined, all: () => [], raw: () => statement }
      return statement
    }
  }
}

export function dumpSql (): Record<string, string> {
  const dump: Record<string, string> = {}
  // Citus's named statements under the keys they had when they were in SQL.
  const named = { ...SQL, ...CITUS_SQL }
  for (const [key, sql] of Object.entries(WEBHOOK_SQL)) dump[`postgres.webhook.${key}`] = shown(sql)
  for (const [key, sql] of Object.entries(named)) dump[`postgres.${key}`] = shown(sql)
  // A write-back of fewer parts: a store's (messages, summary rows, receivers), an ack's (summary rows saved and deleted, receivers).
  dump['postgres.writeBackOf(messages,saved,receivers)'] = shown(writeBackOf(['messages', 'saved', 'receivers'], false, false))
  dump['postgres.writeBackOf(saved,deleted,receivers)'] = shown(writeBackOf(['saved', 'deleted', 'receivers'], false, false))
  const lock = CITUS.lockReceivers(['a', 'b'])
  dump['citus.lockReceivers(2)'] = shown(lock.sql)
  const row = (width: number, tag: string): unknown[] => Array.from({ length: width }, (_, i) => `${tag}${i}`)
  const writes = {
    messages: [row(11, 'm'), row(11, 'n')],
    saved: [row(11, 's')],
    tombstones: [row(12, 't')],
    receivers: [row(5, 'r'), row(5, 'q')],
    deleted: [['a'], [1], ['b']],
    touched: [['a'], [1], [2]]
  }
  CITUS.writeBack(writes).forEach(({ sql }, i) => { dump[`citus.writeBack[${i}]`] = shown(sql) })
  const tables = Object.fromEntries(DISTRIBUTED_TABLES.map((table, i) => [table, { id: String(102008 + i * 32), name: `${table}_${102008 + i * 32}` }]))
  const access = shardAccess({ shardId: '102008', min: 0, max: 100, node: 'worker:5432', tables })
  if (access === undefined) throw new Error('no shard access for the sample range')
  for (const [i, { sql }] of (nodeAccess([access])?.opening ?? []).entries()) dump[`citus.node.opening[${i}]`] = shown(sql)
  for (const [key, sql] of Object.entries(named)) dump[`citus.shard.${key}`] = shown(access.on(sql))
  const statements = prepareStatements(recordingDatabase() as never, { statements: 0 }) as unknown as Record<string, { source: string }>
  for (const [key, statement] of Object.entries(statements)) dump[`sqlite.${key}`] = statement.source
  // Sorted, so that moving a statement between files keeps the dump the same.
  return Object.fromEntries(Object.entries(dump).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
}
