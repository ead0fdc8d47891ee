// Distribution at migration: on a database with the citus extension the five tables are distributed by receiver_uid,
// colocated with messages, idempotently, and a wrong distribution stops the start; on plain PostgreSQL nothing of it
// happens. The Citus half runs when TEST_PG_ADMIN_URL names a Citus coordinator (README, Scaling: how); CI has none.
import t from 'tap'
import pg from 'pg'
import { citusWorkers } from '../helpers/citus.js'
import { createTestDatabase, PG_ADMIN_URL, TEST_STORE } from '../helpers/database.js'
import { citusLogLine, migrateCitus, DISTRIBUTED_TABLES } from '../../src/store/citus/migrations.js'
import { createCitusStore } from '../../src/store/citus/store.js'

const options = (databaseUrl: string) => ({ databaseUrl, poolMax: 2, statementTimeoutMs: 60_000, connectTimeoutMs: 5000 })

async function query<T extends pg.QueryResultRow> (url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(text, values)).rows
  } finally {
    await client.end()
  }
}

if (TEST_STORE !== 'postgres') {
  t.pass('SQLite has no distribution: this file is about PostgreSQL and Citus')
} else {
  const workers = await citusWorkers(PG_ADMIN_URL)

  t.test('on plain PostgreSQL the migration distributes nothing and logs nothing about it', { skip: workers !== null && 'the admin database is a Citus coordinator' }, async (t) => {
    const url = await createTestDatabase(t)
    const report = await migrateCitus(options(url))
    t.equal(report.citus, undefined)
    t.equal(citusLogLine(report), null)
    t.same(await query(url, "SELECT extname FROM pg_extension WHERE extname = 'citus'"), [])
    const store = await createCitusStore(options(url))
    t.teardown(() => store.close())
    t.equal(store.writeLanes.laneOf, undefined, 'groups stay as they are: no partition')
  })

  t.test('on Citus the five tables are distributed by receiver_uid in one colocation group, once', { skip: workers === null && 'TEST_PG_ADMIN_URL is not a Citus coordinator' }, async (t) => {
    const url = await createTestDatabase(t)
    const first = await migrateCitus(options(url))
    t.same(first.citus?.distributed, [...DISTRIBUTED_TABLES], 'distributed at the first migration')
    t.match(citusLogLine(first), /^citus .*: distributed messages, receivers, tombstones, conversations, devices by receiver_uid, colocated with messages$/)
    const rows = await query<{ table: string, column: string, colocation: number, method: string }>(url,
      'SELECT logicalrelid::regclass::text AS table, column_to_column_name(logicalrelid, partkey) AS column, colocationid AS colocation, ' +
      'partmethod AS method FROM pg_dist_partition ORDER BY 1')
    t.same(rows.map((row) => row.table).sort(), [...DISTRIBUTED_TABLES].sort(), 'knex\'s tables stay on the coordinator')
    t.ok(rows.every((row) => row.column === 'receiver_uid' && row.method === 'h'), 'hash-distributed by receiver_uid')
    t.equal(new Set(rows.map((row) => row.colocation)).size, 1, 'one colocation group')
    const placements = await query<{ nodes: number }>(url, "SELECT count(DISTINCT nodeport)::int AS nodes FROM citus_shards WHERE table_name = 'messages'::regclass")
    t.equal(placements[0]?.nodes, workers?.length, 'shards on every worker')

    const store = await createCitusStore(options(url))
    t.teardown(() => store.close())
    // 2,000 receivers over the workers' shards: that a node holding shards gets none has a chance of under 1e-26.
    const lanes = new Set(Array.from({ length: 2000 }, (_, i) => store.writeLanes.laneOf?.(`receiver-${i}`)))
    const nodes = await query<{ node: string }>(url, "SELECT DISTINCT nodename || ':' || nodeport AS node FROM citus_shards WHERE table_name = 'messages'::regclass")
    t.same([...lanes].sort(), nodes.map((row) => row.node).sort(), 'the store groups per node holding shards of messages: receivers map to every one')

    const second = await migrateCitus(options(url))
    t.same(second, { applied: [], citus: { version: first.citus?.version, distributed: [], already: [...DISTRIBUTED_TABLES] } }, 'idempotent')
    t.match(citusLogLine(second), /tables already distributed/)

    await query(url, "SELECT undistribute_table('devices')")
    await query(url, "SELECT create_distributed_table('devices', 'receiver_uid', colocate_with => 'none')")
    await t.rejects(migrateCitus(options(url)), /devices must be distributed by receiver_uid and colocated with messages; found devices by receiver_uid in colocation group \d+ \(messages: \d+\)/,
      'a table outside messages\' colocation group stops the start')
  })
}
