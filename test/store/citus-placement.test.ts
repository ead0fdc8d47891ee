// The Citus placement map: its lookup and refresh on every store; on a Citus cluster (TEST_CITUS_URL, e.g.
// postgres://postgres@127.0.0.1:9700/postgres) it agrees with Citus's own routing, and a stale map costs only a
// two-phase commit. On the PostgreSQL suite, a plain database is not taken for Citus.
import pg from 'pg'
import t from 'tap'
import { createPlacement, detectCitus, loadShardRanges, placementOf, type ShardRange } from '../../src/store/citus/placement.js'
import { hashText } from '../../src/store/citus/hash.js'
import { urlOfNode } from '../../src/store/postgres/store.js'
import type { Queries, Row } from '../../src/store/postgres/pool.js'
import { createTestDatabase, TEST_STORE } from '../helpers/database.js'

const CITUS_URL = process.env.TEST_CITUS_URL
const INT4_MIN = -2147483648
const INT4_MAX = 2147483647

/** Queries on one pg client (the store's own pool runs the same named statements). */
function queriesOn (client: pg.Client): Queries {
  return {
    rows: async (sql, values) => (await client.query({ name: sql.name, text: sql.text, values: values as unknown[] })).rows as Row[],
    arrays: async (sql, values) => (await client.query({ name: sql.name, text: sql.text, values: values as unknown[], rowMode: 'array' })).rows as unknown[][]
  }
}

/** Answers each load with the next of these ranges (or throws what is an Error). */
function catalogOf (answers: Array<ShardRange[] | Error>): Queries {
  const rows = async (): Promise<Row[]> => {
    const next = answers.shift()
    if (next === undefined || next instanceof Error) throw next ?? new Error('no more answers')
    return next.map((range) => ({ anchor: true, shard_id: range.shardId, min: range.min, max: range.max, node: range.node }))
  }
  return { rows, arrays: async () => [] }
}

t.test('a receiver belongs to the range holding its hash, bounds included; none when no range does', async (t) => {
  const h = hashText('bob')
  const placement = placementOf([
    { shardId: '1', min: INT4_MIN, max: h - 1, node: 'w1:5432' },
    { shardId: '2', min: h, max: h, node: 'w2:5432' },
    { shardId: '3', min: h + 1, max: INT4_MAX, node: 'w1:5432' }
  ])
  t.equal(placement.nodeOf('bob'), 'w2:5432')
  t.equal(placement.shardOf('bob'), '2')
  for (const receiver of ['alice', 'carol', 'r-1', '中文']) {
    t.equal(placement.shardOf(receiver), hashText(receiver) < h ? '1' : '3', receiver)
  }
  t.equal(placementOf([{ shardId: '2', min: h, max: h, node: 'w2:5432' }]).nodeOf('alice'), '', 'outside every range')
})

t.test('each range names the shard of every co-located table at its range and node, or none when one is missing', async (t) => {
  const row = (table: string, shardId: string, min: number, node: string, anchor = table === 'messages'): Row =>
    ({ anchor, table_name: table, shard_id: shardId, min, max: min === 0 ? INT4_MAX : -1, shard_name: `${table}_${shardId}`, node })
  const rows = [
    row('messages', '10', INT4_MIN, 'w1:1'), row('messages', '11', 0, 'w2:1'),
    row('receivers', '20', INT4_MIN, 'w1:1'), row('receivers', '21', 0, 'w2:1'),
    // devices' shard of the second range on another node (a move half seen): that range names no shards.
    row('devices', '30', INT4_MIN, 'w1:1'), row('devices', '31', 0, 'w1:1')
  ]
  const ranges = await loadShardRanges({ rows: async () => rows, arrays: async () => [] }, 'messages', ['messages', 'receivers', 'devices'])
  t.same(ranges.map((range) => range.shardId), ['10', '11'])
  t.same(ranges[0]?.tables, {
    messages: { id: '10', name: 'messages_10' }, receivers: { id: '20', name: 'receivers_20' }, devices: { id: '30', name: 'devices_30' }
  })
  t.equal(ranges[1]?.tables, undefined, 'devices has no shard of this range on w2:1')
  t.equal(placementOf(ranges).rangeOf('bob')?.shardId, hashText('bob') < 0 ? '10' : '11')
  const plain = await loadShardRanges({ rows: async () => rows, arrays: async () => [] }, 'messages')
  t.ok(plain.every((range) => range.tables === undefined), 'no co-located tables asked, none named')
})

t.test('a refresh replaces the map; a failed one keeps the last and rejects', async (t) => {
  const whole = (node: string): ShardRange[] => [{ shardId: '1', min: INT4_MIN, max: INT4_MAX, node }]
  const placement = await createPlacement(catalogOf([whole('w1:1'), whole('w2:1'), new Error('catalog down')]), { refreshMs: 3_600_000 })
  t.teardown(() => { placement.close() })
  t.equal(placement.nodeOf('bob'), 'w1:1')
  await placement.refresh()
  t.equal(placement.nodeOf('bob'), 'w2:1')
  await t.rejects(placement.refresh(), { message: 'catalog down' })
  t.equal(placement.nodeOf('bob'), 'w2:1', 'the last map stays')
})

t.test('the background refresh logs a failure and keeps going', async (t) => {
  const warnings: string[] = []
  const whole: ShardRange[] = [{ shardId: '1', min: INT4_MIN, max: INT4_MAX, node: 'w1:1' }]
  const placement = await createPlacement(catalogOf([whole, new Error('catalog down'), [{ ...whole[0] as ShardRange, node: 'w3:1' }]]), {
    refreshMs: 5, log: (_level, message) => { warnings.push(message) }
  })
  t.teardown(() => { placement.close() })
  for (let i = 0; i < 200 && placement.nodeOf('bob') !== 'w3:1'; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(placement.nodeOf('bob'), 'w3:1', 'the read after the failed one took')
  t.match(warnings, [/could not reload the Citus shard placement, keeping the last one: catalog down/])
})

t.test("a node's URL is DATABASE_URL with the node's host and port, its user, password, database and options kept", async (t) => {
  t.equal(urlOfNode('postgres://app:s%40cret@coordinator.internal:5432/offline?sslmode=require&application_name=x', '10.0.0.7:6432'),
    'postgres://app:s%40cret@10.0.0.7:6432/offline?sslmode=require&application_name=x')
  t.equal(urlOfNode('postgres://app@coordinator/offline', 'worker-1.internal:5432'), 'postgres://app@worker-1.internal:5432/offline')
  t.equal(urlOfNode('postgres://app@[::1]:5432/offline', 'fd00::7:5433'), 'postgres://app@[fd00::7]:5433/offline')
})

t.test('a plain PostgreSQL database is not Citus', { skip: TEST_STORE !== 'postgres' && 'needs PostgreSQL' }, async (t) => {
  const client = new pg.Client({ connectionString: await createTestDatabase(t) })
  await client.connect()
  t.teardown(() => client.end())
  await client.query('CREATE TABLE messages (receiver_uid varchar(50) PRIMARY KEY)')
  t.equal(await detectCitus(queriesOn(client)), false)
})

t.test('on Citus', { skip: CITUS_URL === undefined && 'set TEST_CITUS_URL to a Citus coordinator' }, async (t) => {
  const client = new pg.Client({ connectionString: CITUS_URL })
  await client.connect()
  const schema = `om_placement_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const table = `${schema}.messages`
  t.teardown(async () => {
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    } finally {
      await client.end()
    }
  })
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.query(`CREATE TABLE ${table} (receiver_uid varchar(50) NOT NULL, seq bigint NOT NULL, PRIMARY KEY (receiver_uid, seq))`)
  await client.query(`CREATE TABLE ${schema}.local_only (receiver_uid varchar(50) PRIMARY KEY)`)
  await client.query("SELECT create_distributed_table($1, 'receiver_uid', colocate_with => 'none')", [table])
  const queries = queriesOn(client)
  const placement = await createPlacement(queries, { table, refreshMs: 3_600_000 })
  t.teardown(() => { placement.close() })

  /** Citus's own answer: the shard get_shard_id_for_distribution_column routes each receiver to, and its node. */
  async function routed (receivers: readonly string[]): Promise<Array<{ shard: string, node: string }>> {
    const { rows } = await client.query<{ shard: string, node: string }>(`
      SELECT s.shard::text AS shard, n.nodename || ':' || n.nodeport AS node
      FROM unnest($2::text[]) WITH ORDINALITY AS u(receiver, i)
      CROSS JOIN LATERAL get_shard_id_for_distribution_column($1, u.receiver) AS s(shard)
      JOIN pg_dist_placement p ON p.shardid = s.shard
      JOIN pg_dist_node n ON n.groupid = p.groupid AND n.noderole = 'primary'
      ORDER BY u.i`, [table, receivers])
    return rows
  }

  /** Runs statements in one transaction with citus.log_remote_commands on: whether Citus prepared it on the workers (2PC). */
  async function usedTwoPhaseCommit (statements: Array<[string, unknown[]]>): Promise<boolean> {
    const notices: string[] = []
    const listener = (notice: { message?: string }): void => { notices.push(notice.message ?? '') }
    client.on('notice', listener)
    try {
      await client.query('BEGIN')
      await client.query('SET LOCAL citus.log_remote_commands = on')
      for (const [text, values] of statements) await client.query(text, values)
      await client.query('COMMIT')
    } catch (error) {
      // Not left in an aborted transaction, where the next test's statements and the teardown would fail too.
      await client.query('ROLLBACK')
      throw error
    } finally {
      client.off('notice', listener)
    }
    return notices.some((notice) => notice.includes('PREPARE TRANSACTION'))
  }
  const inserts = (receivers: readonly string[], seq: number): Array<[string, unknown[]]> =>
    receivers.map((receiver) => [`INSERT INTO ${table} VALUES ($1, $2)`, [receiver, seq]])

  const receivers = Array.from({ length: 3000 }, (_, i) => [`r-${i}`, `user_${i * 7919}`, `0190f5d2-7c1e-7a3b-${String(i).padStart(4, '0')}-2b1c3d4e5f60`, `接收者-${i}-é😀`][i % 4] as string)

  t.test('the table is detected as distributed, a local one is not', async (t) => {
    t.equal(await detectCitus(queries, table), true)
    t.equal(await detectCitus(queries, `${schema}.local_only`), false)
    t.equal(await detectCitus(queries, `${schema}.missing`), false)
    const ranges = await loadShardRanges(queries, table)
    t.equal(ranges[0]?.min, INT4_MIN)
    t.equal(ranges.at(-1)?.max, INT4_MAX)
    t.ok(ranges.every((range, i) => i === 0 || range.min === (ranges[i - 1] as ShardRange).max + 1), `${ranges.length} ranges, contiguous`)
  })

  t.test('nodeOf and shardOf agree with get_shard_id_for_distribution_column and its placement for 3,000 receivers', async (t) => {
    const citus = await routed(receivers)
    const differing = receivers.filter((receiver, i) => placement.shardOf(receiver) !== citus[i]?.shard || placement.nodeOf(receiver) !== citus[i]?.node)
    t.same(differing, [])
    t.ok(new Set(citus.map((row) => row.node)).size >= 2, 'the receivers span the workers')
  })

  t.test('receivers of one node commit without two-phase commit, of two nodes with it', async (t) => {
    const node = placement.nodeOf(receivers[0] as string)
    // One receiver of each of three shards of that node, and one of another node.
    const oneNode = [...new Map(receivers.filter((receiver) => placement.nodeOf(receiver) === node).map((receiver) => [placement.shardOf(receiver), receiver])).values()].slice(0, 3)
    const elsewhere = receivers.find((receiver) => placement.nodeOf(receiver) !== node) as string
    t.equal(new Set(oneNode.map(placement.shardOf)).size, 3, 'three shards of one node')
    t.equal(await usedTwoPhaseCommit(inserts(oneNode, 1)), false, 'one node: a plain COMMIT')
    t.equal(await usedTwoPhaseCommit(inserts([oneNode[0] as string, elsewhere], 4)), true, 'two nodes: PREPARE TRANSACTION')
  })

  t.test('after a shard moves, the stale map costs a two-phase commit and writes stay right; a refresh catches up', async (t) => {
    const [moving, other] = await loadShardRanges(queries, table)
    t.not(moving?.node, other?.node, 'neighbouring shards on different nodes')
    const movers = receivers.filter((receiver) => placement.shardOf(receiver) === moving?.shardId).slice(0, 2)
    const stayer = receivers.find((receiver) => placement.nodeOf(receiver) === other?.node) as string
    const [fromHost, fromPort] = (moving?.node ?? '').split(':')
    const [toHost, toPort] = (other?.node ?? '').split(':')
    await client.query("SELECT citus_move_shard_placement($1, $2, $3, $4, $5, shard_transfer_mode => 'block_writes')",
      [moving?.shardId, fromHost, Number(fromPort), toHost, Number(toPort)])
    t.equal(placement.nodeOf(movers[0] as string), moving?.node, 'the map still has the old node')
    // The stale map makes a group of a mover and a receiver of the other node, believing them on two nodes; a group it
    // believes on one node (a mover and a receiver of the old node) in fact spans two: 2PC, and the rows are right.
    const oldNeighbour = receivers.find((receiver) => placement.nodeOf(receiver) === moving?.node && placement.shardOf(receiver) !== moving?.shardId) as string
    t.equal(await usedTwoPhaseCommit(inserts([movers[0] as string, oldNeighbour], 2)), true, 'a group the stale map puts on one node: 2PC')
    const { rows } = await client.query(`SELECT receiver_uid FROM ${table} WHERE seq = 2 ORDER BY receiver_uid`)
    t.same(rows.map((row) => row.receiver_uid), [movers[0], oldNeighbour].sort(), 'both rows written')
    await placement.refresh()
    t.same(movers.map(placement.nodeOf), movers.map(() => other?.node), 'refreshed: the movers on their new node')
    t.equal(await usedTwoPhaseCommit(inserts([movers[1] as string, stayer], 3)), false, 'a mover and a receiver of its new node: one node again')
    const citus = await routed(receivers)
    t.same(receivers.filter((receiver, i) => placement.nodeOf(receiver) !== citus[i]?.node), [], 'agrees with Citus again')
  })
})
