// On Citus a transaction that holds its shard runs the plain statements on that shard's own tables (src/store/citus/shards.ts).
// Held on plain PostgreSQL: a database whose five tables are renamed as Citus names a shard's (messages_7, ...) and a
// stub of the two catalog tables and the lock function the opening uses. Every statement renamed finds its tables
// (none is left naming a distributed table, which would not exist there), a transaction on the shard's tables reads
// and writes them, and one that names a receiver of another shard goes over to the distributed tables. On a Citus
// cluster (TEST_CITUS_URL), a shard moved under the store's map: its next transaction finds it gone and writes through
// the distributed tables, and nothing is lost.
import pg from 'pg'
import t from 'tap'
import type { ShardRange } from '../../src/store/citus/placement.js'
import { cutByShard, nodeAccess, nodeReads, onShardTables, receiversOf, shardAccess, shardReads } from '../../src/store/citus/shards.js'
import { DISTRIBUTED_TABLES, migrateCitus } from '../../src/store/citus/migrations.js'
import { createPool, type Queries, type Row } from '../../src/store/postgres/pool.js'
import { CITUS_SQL } from '../../src/store/citus/statements.js'
import { SQL, type Sql } from '../../src/store/postgres/statements.js'
import { createTx } from '../../src/store/postgres/transaction.js'
import { createCitusStore } from '../../src/store/citus/store.js'
import { createCitusStatements } from '../../src/store/citus/transaction.js'
import type { Store } from '../../src/store/types.js'
import { citusWorkers, createCitusDatabase, shardOfReceiver } from '../helpers/citus.js'
import { PG_ADMIN_URL, TEST_STORE, createTestDatabase } from '../helpers/database.js'

const CITUS_URL = process.env.TEST_CITUS_URL

const NOW = Date.parse('2026-12-03T08:00:00.000Z')
const RANGE: ShardRange = {
  shardId: '107',
  min: -2147483648,
  max: 2147483647,
  node: 'worker-1:5432',
  tables: Object.fromEntries(DISTRIBUTED_TABLES.map((table, i) => [table, { id: String(107 + i), name: `${table}_${107 + i}` }]))
}

/** Queries on one client that record each statement's text. */
function recorded (client: pg.Client, texts: string[]): Queries {
  const run = async (sql: Sql, values: readonly unknown[], rowMode?: 'array'): Promise<pg.QueryResult> => {
    texts.push(sql.text)
    return await client.query({ ...(sql.name === '' ? {} : { name: sql.name }), text: sql.text, values: values as unknown[], ...(rowMode === undefined ? {} : { rowMode }) })
  }
  return {
    rows: async (sql, values) => (await run(sql, values)).rows as Row[],
    arrays: async (sql, values) => (await run(sql, values, 'array')).rows as unknown[][]
  }
}

t.test('a table after FROM, JOIN, INTO, UPDATE or USING is renamed; a column of the same name is not', async (t) => {
  const tables = RANGE.tables ?? {}
  t.equal(onShardTables('UPDATE receivers AS r SET devices = v.devices FROM unnest($1::text[]) AS v (devices) JOIN devices d ON true', tables),
    'UPDATE receivers_108 AS r SET devices = v.devices FROM unnest($1::text[]) AS v (devices) JOIN devices_111 d ON true')
  t.equal(onShardTables('DELETE FROM messages m USING tombstones WHERE m.seq IN (SELECT seq FROM\nconversations)', tables),
    'DELETE FROM messages_107 m USING tombstones_109 WHERE m.seq IN (SELECT seq FROM conversations_110)')
  t.throws(() => onShardTables('SELECT 1 FROM messages', {}), /no shard of messages given/)
})

t.test('the opening locks every shard of the node\'s ranges and counts those placed on this node', async (t) => {
  const access = shardAccess(RANGE)
  if (access === undefined) throw new Error('no access to the range')
  const node = nodeAccess([access])
  t.same(node?.opening.map(({ sql, values }) => [sql.text, values]), [
    ['SELECT lock_shard_metadata(5, $1::bigint[])', [['107', '108', '109', '110', '111']]],
    ['SELECT count(*)::int AS placed FROM pg_dist_placement WHERE shardid = ANY($1::bigint[]) AND groupid = (SELECT groupid FROM pg_dist_local_group)', [['107', '108', '109', '110', '111']]]
  ], 'the lock, then the check, of every table\'s shard')
  t.ok(node?.opening.every(({ sql }) => sql.name !== ''), 'named: planned once a connection')
  t.equal(node?.placedHere([{ placed: 5 }]), true)
  t.equal(node?.placedHere([{ placed: 4 }]), false, 'one shard elsewhere')
  t.equal(node?.placedHere([]), false)
  const second = shardAccess({ ...RANGE, shardId: '97', tables: Object.fromEntries(DISTRIBUTED_TABLES.map((table, i) => [table, { id: String(97 + i), name: `${table}_${97 + i}` }])) })
  if (second === undefined) throw new Error('no access to the second range')
  const both = nodeAccess([access, second])
  t.same(both?.opening.map(({ values }) => values), [['97', '98', '99', '100', '101', '107', '108', '109', '110', '111']].flatMap((ids) => [[ids], [ids]]),
    'two shards: every table of both, in the order of their ids')
  t.equal(both?.placedHere([{ placed: 10 }]), true)
  t.equal(both?.placedHere([{ placed: 9 }]), false)
  t.equal(nodeAccess([second, access]), both, 'made once a set of shards')
  t.equal(nodeAccess([]), undefined, 'no shards: none')
  t.equal(shardAccess(RANGE), access, 'made once a shard')
  t.equal(shardAccess({ ...RANGE, tables: undefined }), undefined, 'a range that does not name its shards')
  const { devices, ...fewer } = RANGE.tables ?? {}
  t.ok(devices)
  t.equal(shardAccess({ ...RANGE, tables: fewer }), undefined, 'a range without one table\'s shard')
  t.equal(shardAccess({ ...RANGE, tables: { ...RANGE.tables, devices: { id: '1; DROP TABLE x', name: 'devices_1' } } }), undefined, 'an id that is not digits')
})

t.test('each write statement names its receivers where a node\'s transaction can cut it by shard', async (t) => {
  // Read off each statement's text (receiversOf): one parameter naming one receiver, or groups of arrays, receivers first.
  const expected: Record<string, string> = {
    lockReceivers: '[0]', lockExistingReceivers: '[0]', findForStores: '[0,1] [2,3]', deleteTombstone: '$1', oldestPending: '$1',
    removeExpired: '[0]', removeAcked: '[0,1,2] [3,4,5,6]', removePending: '$1', lastPendingOfSenders: '$1', findConversations: '[0,1]',
    writeBack: '[0-10] [11-21] [22,23,24] [25-29] [30,31,32]', writeBackWithdrawing: '[0-10] [11-21] [22,23,24] [25-29] [30,31,32] [33-37]',
    findDevices: '[0]', insertDevice: '$1', removeDevice: '$1', takeOver: '$1', findCollapsible: '[0,1,2]', withdraw: '[0,1,2]',
    findForRecalls: '[0,1]', erase: '$1'
  }
  const shown = ({ receiver, groups }: { receiver?: number, groups: ReadonlyArray<readonly number[]> }): string => receiver !== undefined
    ? `$${receiver + 1}`
    : groups.map((group) => group.length > 4 && group.every((p, i) => p === (group[0] as number) + i) ? `[${group[0]}-${group[group.length - 1]}]` : `[${group.join()}]`).join(' ')
  for (const [key, want] of Object.entries(expected)) {
    const sql = SQL[key as keyof typeof SQL]
    t.equal(shown(receiversOf(sql)), want, key)
    // Each group's first array is text[], and is what the statement joins receiver_uid on.
    for (const group of receiversOf(sql).groups) t.match(sql.text, new RegExp(`\\$${(group[0] as number) + 1}::text\\[\\]`), `${key}: $${(group[0] as number) + 1} is text[]`)
  }
  t.throws(() => receiversOf(SQL.ping), /names no receiver/, 'a statement of no receiver is refused')
})

t.test('a statement\'s values cut by shard: each group\'s arrays keep the elements of the shard\'s receivers', async (t) => {
  const shardOf = (receiverUid: string): string => receiverUid.startsWith('a') ? '1' : '2'
  // removeAcked: by ids ($1-$3) and up to a seq ($4-$7), then $8, $9 as they are.
  const values = [['a1', 'b1', 'a2'], ['m1', 'm2', 'm3'], [1, 2, 4], ['b2'], [9], [null], [1], 100, 200]
  t.same([...cutByShard(SQL.removeAcked, values, shardOf)], [
    ['1', [['a1', 'a2'], ['m1', 'm3'], [1, 4], [], [], [], [], 100, 200]],
    ['2', [['b1'], ['m2'], [2], ['b2'], [9], [null], [1], 100, 200]]
  ])
  t.same([...cutByShard(SQL.removeAcked, [['a1'], ['m1'], [1], [], [], [], [], 100, 200], shardOf)].map(([shard]) => shard), ['1'], 'a shard of no element gets no part')
  t.same([...cutByShard(SQL.oldestPending, ['b7'], shardOf)], [['2', ['b7']]], 'one receiver: its shard, the values as they are')
  t.same([...cutByShard(SQL.lockReceivers, [[]], shardOf)], [], 'no receivers: no part')
})

if (TEST_STORE !== 'postgres') {
  t.pass('SQLite has no shards: the rest of this file is about PostgreSQL')
} else {
  const workers = await citusWorkers(PG_ADMIN_URL)
  t.test('on a database of one shard\'s tables', { skip: workers !== null && 'the test databases are on Citus, whose catalog is real' }, async (t) => {
    const databaseUrl = await createTestDatabase(t)
    await migrateCitus({ databaseUrl, poolMax: 2, statementTimeoutMs: 60_000, connectTimeoutMs: 5000 })
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    t.teardown(() => client.end())
    for (const [table, shard] of Object.entries(RANGE.tables ?? {})) await client.query(`ALTER TABLE ${table} RENAME TO ${shard.name}`)
    // Citus's catalog and its lock function, as a worker holding four of the five shards has them.
    await client.query('CREATE TABLE pg_dist_local_group (groupid int); INSERT INTO pg_dist_local_group VALUES (1); ' +
      'CREATE TABLE pg_dist_placement (shardid bigint, groupid int); INSERT INTO pg_dist_placement VALUES (107, 1), (108, 1), (109, 1), (110, 1), (111, 2); ' +
      'CREATE TABLE locked (mode int, shards bigint[]); ' +
      'CREATE FUNCTION lock_shard_metadata (int, bigint[]) RETURNS void LANGUAGE sql AS $$ INSERT INTO locked VALUES ($1, $2) $$')
    const access = shardAccess(RANGE)
    if (access === undefined) throw new Error('no access to the range')

    await t.test('every statement on the shard\'s tables finds them; as it is, it does not', async (t) => {
      for (const [key, sql] of Object.entries({ ...SQL, ...CITUS_SQL })) {
        if (!DISTRIBUTED_TABLES.some((table) => new RegExp(`\\b${table}\\b`).test(sql.text))) continue
        const renamed = access.on(sql)
        t.equal(renamed.name, `${sql.name}_107`, `${key}: named after the shard`)
        await client.query(`PREPARE shard_${key} AS ${renamed.text}`)
        await t.rejects(client.query(`PREPARE plain_${key} AS ${sql.text}`), /relation "\w+" does not exist/, `${key} as it is names a table that is not here`)
      }
      t.equal(access.on(SQL.page), access.on(SQL.page), 'made once')
    })

    await t.test('the opening takes the lock and sees that one shard is not here', async (t) => {
      const node = nodeAccess([access])
      if (node === undefined) throw new Error('no node access')
      /** BEGIN and the opening, the check's rows. */
      const open = async (): Promise<Row[]> => {
        await client.query('BEGIN')
        let rows: Row[] = []
        for (const { sql, values } of node.opening) rows = (await client.query({ text: sql.text, values: values as unknown[] })).rows
        return rows
      }
      const last = await open()
      await client.query('ROLLBACK')
      t.same(last, [{ placed: 4 }])
      t.equal(node.placedHere(last), false)
      await client.query('UPDATE pg_dist_placement SET groupid = 1')
      const again = await open()
      const locked = await client.query('SELECT mode, shards::text[] AS shards FROM locked')
      await client.query('ROLLBACK')
      t.equal(node.placedHere(again), true)
      t.same(locked.rows, [{ mode: 5, shards: ['107', '108', '109', '110', '111'] }], 'ShareLock on every shard, in the transaction')
    })

    await t.test('reads on the shard\'s tables answer as the plain statements there; a shard placed elsewhere, or its copy gone, reads the distributed tables', async (t) => {
      const reads: Record<string, Sql> = {
        receiver: SQL.receiver, summary: SQL.summary, summaryOfDevice: SQL.summaryOfDevice, page: SQL.page, pageOfSender: SQL.pageOfSender,
        pageOfDevice: SQL.pageOfDevice, pageOfDeviceAndSender: SQL.pageOfDeviceAndSender, findPendingLive: SQL.findPendingLive,
        findPendingLiveOfDevice: SQL.findPendingLiveOfDevice, devices: SQL.devices
      }
      for (const [key, sql] of Object.entries(reads)) {
        t.equal(access.read(sql).name, `${sql.name}_read_107`, `${key}: named after the shard`)
        await client.query(`PREPARE read_${key} AS ${access.read(sql).text}`)
      }
      await client.query('BEGIN')
      const { tx, flush } = createTx(recorded(client, []), createCitusStatements({ shardOf: () => '107', direct: access }))
      const [state] = await tx.lockReceivers(['carol'])
      if (state === undefined) throw new Error('no receiver row')
      const message = (seq: number, senderUid: string) => ({
        receiverUid: 'carol', seq, msgId: `c-${seq}`, senderUid, msgType: 1, content: `c-${seq}`, sendTime: NOW, storedAt: NOW, expiresAt: NOW + 60_000, collapseKey: null, readers: 1
      })
      await tx.insertMessages([message(1, 'alice'), message(2, 'dave'), message(3, 'alice')])
      await tx.saveReceivers([{ ...state, lastSeq: 3, pendingCount: 3, nextExpiry: NOW + 60_000 }])
      await flush()
      await client.query('COMMIT')

      let moved = 0
      const texts: string[] = []
      const onShard = shardReads(access, recorded(client, texts), () => { moved++ })
      const plain = async (sql: Sql, values: unknown[]) => (await client.query({ text: access.on(sql).text, values, rowMode: 'array' })).rows as unknown[][]
      const pageValues = ['carol', 0, NOW, 100]
      t.same(await onShard.arrays(SQL.page, pageValues), await plain(SQL.page, pageValues), 'a page: the rows of the statement on the shard\'s tables, in their order')
      t.same((await onShard.arrays(SQL.page, pageValues)).map((row) => row[0]), ['1', '2', '3'], 'seq ascending')
      t.same(await onShard.arrays(SQL.pageOfSender, [...pageValues, 'dave']), await plain(SQL.pageOfSender, [...pageValues, 'dave']), 'a page of one sender')
      t.same(await onShard.arrays(SQL.page, ['nobody', 0, NOW, 100]), [], 'no rows: none')
      t.same(await onShard.arrays(SQL.summary, ['carol', Number.MAX_SAFE_INTEGER, 51]), await plain(SQL.summary, ['carol', Number.MAX_SAFE_INTEGER, 51]), 'a summary')
      t.same(await onShard.rows(SQL.receiver, ['carol']), (await client.query({ text: access.on(SQL.receiver).text, values: ['carol'] })).rows, 'rows as objects, without the check\'s columns')
      t.same(await onShard.rows(SQL.receiver, ['nobody']), [])
      t.equal(moved, 0, 'placed here: nothing told')
      t.ok(texts.every((text) => text.includes('messages_107') || text.includes('receivers_108') || text.includes('conversations_110')), 'every read named the shard\'s tables')

      await client.query('UPDATE pg_dist_placement SET groupid = 2 WHERE shardid = 109')
      await t.rejects(onShard.arrays(SQL.page, pageValues), /relation "messages" does not exist/, 'placed elsewhere: the distributed tables (not in this database)')
      t.equal(moved, 1, 'and the map is told')
      await client.query('UPDATE pg_dist_placement SET groupid = 1')
      t.same((await onShard.arrays(SQL.page, pageValues)).length, 3, 'placed here again: the shard\'s tables')
      await client.query('ALTER TABLE messages_107 RENAME TO messages_107_gone')
      await t.rejects(onShard.arrays(SQL.page, pageValues), /relation "messages" does not exist/, 'the copy gone: the distributed tables')
      t.equal(moved, 2)
      await client.query('ALTER TABLE messages_107_gone RENAME TO messages_107')
    })

    await t.test('reads of several shards of a node go in one round trip, one statement each on its shard\'s tables, answered as each shard answers alone; a shard placed elsewhere, a copy gone or a receiver of another node read the distributed tables', async (t) => {
      // A second shard on this node, its tables as the first's; dave's messages there (carol's are in the first).
      const second: ShardRange = { ...RANGE, shardId: '207', tables: Object.fromEntries(DISTRIBUTED_TABLES.map((table, i) => [table, { id: String(207 + i), name: `${table}_${207 + i}` }])) }
      for (const table of DISTRIBUTED_TABLES) await client.query(`CREATE TABLE ${table}_${207 + DISTRIBUTED_TABLES.indexOf(table)} (LIKE ${table}_${107 + DISTRIBUTED_TABLES.indexOf(table)} INCLUDING ALL)`)
      await client.query('INSERT INTO pg_dist_placement VALUES (207, 1), (208, 1), (209, 1), (210, 1), (211, 1)')
      const other = shardAccess(second)
      if (other === undefined) throw new Error('no access to the second range')
      await client.query('BEGIN')
      const { tx, flush } = createTx(recorded(client, []), createCitusStatements({ shardOf: () => '207', direct: other }))
      const [dave] = await tx.lockReceivers(['dave'])
      if (dave === undefined) throw new Error('no receiver row')
      await tx.insertMessages([1, 2].map((seq) => ({ receiverUid: 'dave', seq, msgId: `d-${seq}`, senderUid: 'erin', msgType: 1, content: `d-${seq}`, sendTime: NOW, storedAt: NOW, expiresAt: NOW + 60_000, collapseKey: null, readers: 1 })))
      await tx.saveReceivers([{ ...dave, lastSeq: 2, pendingCount: 2, nextExpiry: NOW + 60_000 }])
      await tx.saveSummaryRows([{ receiverUid: 'dave', reader: 0, senderUid: 'erin', pendingCount: 2, last: { seq: 2, sendTime: NOW, msgType: 1, preview: 'd-2' }, sortSeq: 2, lostCount: 0, lostSeq: null }])
      await flush()
      await client.query('COMMIT')

      const pool = createPool({ databaseUrl, poolMax: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline: true })
      t.teardown(() => pool.end())
      const shardOf = (receiverUid: string): string => receiverUid === 'zed' ? '999' : ['dave', 'nobody'].includes(receiverUid) ? '207' : '107'
      let moved = 0
      const together = nodeReads([access, other], shardOf, pool, () => { moved++ })
      const receivers = ['carol', 'dave', 'nobody', 'carol', 'bob']
      const summaries = [receivers, receivers.map(() => null), receivers.map(() => Number.MAX_SAFE_INTEGER), receivers.map(() => 51)]
      const pages = [receivers, receivers.map(() => 0), receivers.map(() => null), receivers.map(() => 100), NOW]
      /** Each read alone, on its shard's tables: its rows without the ordinal. */
      const alone = async (sql: Sql, values: unknown[], i: number): Promise<unknown[][]> => {
        const one = values.map((value) => Array.isArray(value) ? [value[i]] : value)
        const shard = shardOf(receivers[i] as string) === '207' ? other : access
        return (await client.query({ text: shard.on(sql).text, values: one, rowMode: 'array' })).rows.map((row: unknown[]) => row.slice(1))
      }
      for (const [name, sql, values] of [['summaries', SQL.summaries, summaries], ['pages', SQL.pages, pages]] as const) {
        const before = pool.counts()
        const rows = await together.arrays(sql, values)
        const after = pool.counts()
        t.equal(after.roundTrips - before.roundTrips, 1, `${name}: one round trip`)
        t.equal(after.statements - before.statements, 2, `${name}: a statement per shard`)
        for (const i of receivers.keys()) {
          t.same(rows.filter((row) => Number(row[0]) === i + 1).map((row) => row.slice(1)), await alone(sql, [...values], i), `${name}: read ${i + 1} (${String(receivers[i])}) as its shard answers it alone, in its order`)
        }
        t.ok(rows.some((row) => Number(row[0]) === 2), `${name}: dave's read answered from the second shard`)
      }
      t.equal(moved, 0, 'placed here: nothing told')
      t.same(await together.arrays(SQL.summaries, [['dave'], [null], [Number.MAX_SAFE_INTEGER], [51]]), (await alone(SQL.summaries, summaries, 1)).map((row) => [1, ...row]), 'a read of one shard: that shard\'s statement')

      await client.query('UPDATE pg_dist_placement SET groupid = 2 WHERE shardid = 209')
      await t.rejects(together.arrays(SQL.summaries, summaries), /relation "\w+" does not exist/, 'a shard placed elsewhere: the distributed tables (not in this database)')
      t.equal(moved, 1, 'and the map is told')
      await client.query('UPDATE pg_dist_placement SET groupid = 1')
      await client.query('ALTER TABLE conversations_210 RENAME TO conversations_210_gone')
      await t.rejects(together.arrays(SQL.summaries, summaries), /relation "\w+" does not exist/, 'a copy gone: the distributed tables')
      t.equal(moved, 2)
      await client.query('ALTER TABLE conversations_210_gone RENAME TO conversations_210')
      await t.rejects(together.arrays(SQL.summaries, [['carol', 'zed'], [null, null], [1, 1], [1, 1]]), /relation "\w+" does not exist/, 'a receiver of a shard not on this node: the distributed tables')
      t.equal(moved, 3)
      t.equal((await together.arrays(SQL.summaries, summaries)).length > 0, true, 'placed again: the shards\' tables')
      t.equal(moved, 3)
    })

    await t.test('a transaction on a node\'s shards writes each receiver\'s rows in its shard\'s tables, each step one round trip; a receiver of a shard not held turns it to the distributed tables', async (t) => {
      // The second shard's tables are those of the test above.
      const second = shardAccess({ ...RANGE, shardId: '207', tables: Object.fromEntries(DISTRIBUTED_TABLES.map((table, i) => [table, { id: String(207 + i), name: `${table}_${207 + i}` }])) })
      const node = second === undefined ? undefined : nodeAccess([access, second])
      if (node === undefined) throw new Error('no node access')
      const pool = createPool({ databaseUrl, poolMax: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline: true })
      t.teardown(() => pool.end())
      const shardOf = (receiverUid: string): string => receiverUid.startsWith('x-') ? '999' : receiverUid.startsWith('n2-') ? '207' : '107'
      const message = (receiverUid: string, seq: number) => ({
        receiverUid, seq, msgId: `${receiverUid}-${seq}`, senderUid: 'sam', msgType: 1, content: 'hi', sendTime: NOW, storedAt: NOW, expiresAt: NOW + 60_000, collapseKey: null, readers: 1
      })
      /** Stores a message for each receiver and acks the first's, reading back what it stored; the pool's counts for it. */
      const storeAndAck = async (receiverUids: string[]) => {
        const before = pool.counts()
        const found = await pool.transaction(async (q, opened) => {
          t.equal(node.placedHere(opened), true, 'every shard placed here')
          const { tx, flush } = createTx(node.writes(shardOf, q), createCitusStatements({ shardOf, direct: node }))
          const states = await tx.lockReceivers(receiverUids)
          t.same(states.map((state) => state.receiverUid), receiverUids, 'the receivers\' rows in the order asked')
          await tx.insertMessages(states.map((state) => message(state.receiverUid, state.lastSeq + 1)))
          await tx.saveReceivers(states.map((state) => ({ ...state, lastSeq: state.lastSeq + 1, pendingCount: state.pendingCount + 1, nextExpiry: NOW + 60_000 })))
          const copies = await tx.findCopiesAndSummaryRows(states.map((state) => [state.receiverUid, `${state.receiverUid}-${state.lastSeq + 1}`]), [])
          const first = states[0] as { receiverUid: string, lastSeq: number }
          const removal = await tx.removeAcked([{ receiverUid: first.receiverUid, reader: 0, selector: { kind: 'ids', msgIds: [`${first.receiverUid}-${first.lastSeq + 1}`] } }], NOW, NOW + 60_000)
          await flush()
          return { pending: copies.pending.map((copy) => copy.msgId).sort(), removed: removal.removed.map((key) => key.msgId) }
        }, node.opening)
        const after = pool.counts()
        return { found, roundTrips: after.roundTrips - before.roundTrips, statements: after.statements - before.statements }
      }
      const both = await storeAndAck(['n1-a', 'n2-b', 'n1-c'])
      t.same(both.found, { pending: ['n1-a-1', 'n1-c-1', 'n2-b-1'], removed: ['n1-a-1'] }, 'each receiver\'s message read back from its shard, the ack found it')
      const rowsOf = async (table: string): Promise<string[]> => (await client.query(`SELECT receiver_uid FROM ${table} WHERE receiver_uid LIKE 'n_-%' ORDER BY 1`)).rows.map((row: { receiver_uid: string }) => row.receiver_uid)
      t.same(await rowsOf('messages_107'), ['n1-c'], 'the first shard\'s table: its receivers\' messages (n1-a\'s acked)')
      t.same(await rowsOf('messages_207'), ['n2-b'], 'the second\'s: its receiver\'s')
      t.same(await rowsOf('receivers_108'), ['n1-a', 'n1-c'])
      t.same(await rowsOf('receivers_208'), ['n2-b'])
      t.same(await rowsOf('tombstones_109'), ['n1-a'], 'the ack\'s tombstone in its shard\'s table')
      const one = await storeAndAck(['n1-d'])
      t.same(one.found, { pending: ['n1-d-1'], removed: ['n1-d-1'] })
      t.equal(both.roundTrips, one.roundTrips, `as many round trips over two shards as over one (${one.roundTrips})`)
      t.ok(both.statements > one.statements, `a statement per shard in each step that names both (${both.statements} against ${one.statements})`)

      await t.rejects(pool.transaction(async (q) => {
        const { tx } = createTx(node.writes(shardOf, q), createCitusStatements({ shardOf, direct: node }))
        await tx.lockReceivers(['n1-a', 'x-1'])
      }, node.opening), /relation "receivers" does not exist/, 'a receiver of a shard not held: Citus\'s shapes on the distributed tables (not in this database)')
    })

    await t.test('a transaction on the shard stores, reads and acks there; a receiver of another shard turns it to the distributed tables', async (t) => {
      const texts: string[] = []
      const shardOf = (receiverUid: string): string => receiverUid.startsWith('other-') ? '999' : '107'
      await client.query('BEGIN')
      const { tx, flush } = createTx(recorded(client, texts), createCitusStatements({ shardOf, direct: access }))
      const [bob] = await tx.lockReceivers(['bob'])
      t.match(bob, { receiverUid: 'bob', lastSeq: 0 })
      await tx.insertMessages([{ receiverUid: 'bob', seq: 1, msgId: 'm-1', senderUid: 'alice', msgType: 1, content: 'hi', sendTime: NOW, storedAt: NOW, expiresAt: NOW + 60_000, collapseKey: null, readers: 1 }])
      await tx.saveReceivers([{ receiverUid: 'bob', lastSeq: 1, pendingCount: 1, nextExpiry: NOW + 60_000, devices: 0 }])
      const found = await tx.findCopiesAndSummaryRows([['bob', 'm-1']], [['bob', 'alice']])
      t.same(found.pending.map((message) => message.msgId), ['m-1'], 'the write went to the shard\'s table before the read')
      const removal = await tx.removeAcked([{ receiverUid: 'bob', reader: 0, selector: { kind: 'ids', msgIds: ['m-1'] } }], NOW, NOW + 60_000)
      t.same(removal.removed.map((key) => key.msgId), ['m-1'])
      await flush()
      t.ok(texts.length >= 4)
      t.ok(texts.every((text) => !DISTRIBUTED_TABLES.some((table) => new RegExp(`(FROM|JOIN|INTO|UPDATE|USING)\\s+${table}\\b`).test(text))), 'every statement named the shard\'s tables')
      const tombstones = await client.query("SELECT msg_id FROM tombstones_109 WHERE receiver_uid = 'bob'")
      t.same(tombstones.rows, [{ msg_id: 'm-1' }], 'the ack left its tombstone in the shard\'s table')

      // A receiver of another shard: Citus's shape on the distributed tables, which this database does not have.
      await t.rejects(tx.lockReceivers(['other-1']), /relation "receivers" does not exist/)
      t.match(texts[texts.length - 1], /^INSERT INTO receivers \(/)
      await client.query('ROLLBACK')
      await client.query('BEGIN')
      const later = createTx(recorded(client, texts), createCitusStatements({ shardOf, direct: access }))
      await t.rejects(later.tx.lockReceivers(['bob', 'other-1']), /relation "receivers" does not exist/, 'a statement naming both goes to the distributed tables')
      await client.query('ROLLBACK')
    })
  })
}

/** One message more for the receiver, as the domain stores it: in the lane of its writes (its shard, on Citus). */
async function storeOne (store: Store, receiverUid: string, msgId: string): Promise<void> {
  await store.transaction(async (tx) => {
    const [receiver] = await tx.lockReceivers([receiverUid])
    if (receiver === undefined) throw new Error('no receiver row')
    const seq = receiver.lastSeq + 1
    await tx.insertMessages([{ receiverUid, seq, msgId, senderUid: 'alice', msgType: 1, content: msgId, sendTime: NOW, storedAt: NOW, expiresAt: NOW + 3_600_000, collapseKey: null, readers: 1 }])
    await tx.saveReceivers([{ ...receiver, lastSeq: seq, pendingCount: receiver.pendingCount + 1, nextExpiry: NOW + 3_600_000 }])
  }, store.writeLanes.laneOf?.(receiverUid))
}

t.test('on Citus, a shard moved under the store\'s map: written through the distributed tables, nothing lost', { skip: CITUS_URL === undefined && 'set TEST_CITUS_URL to a Citus coordinator' }, async (t) => {
  const adminUrl = CITUS_URL as string
  const workers = await citusWorkers(adminUrl)
  if (workers === null || workers.length < 2) throw new Error('TEST_CITUS_URL must name a coordinator with two workers')
  const name = `om_shards_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const drop = await createCitusDatabase(adminUrl, workers, name, 4)
  t.teardown(drop)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const coordinator = new pg.Client({ connectionString: url.toString() })
  await coordinator.connect()
  t.teardown(() => coordinator.end())
  await migrateCitus({ databaseUrl: url.toString(), poolMax: 2, statementTimeoutMs: 60_000, connectTimeoutMs: 5000 })
  const store = await createCitusStore({ databaseUrl: url.toString(), poolMax: 2, statementTimeoutMs: 60_000, connectTimeoutMs: 5000 })
  t.teardown(() => store.close())

  // What pg's clients send: named statements by name, others by text.
  const sent: string[] = []
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }
  const query = prototype.query
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const [config] = args as [{ name?: string, text?: string } | string]
    sent.push(typeof config === 'string' ? config : config.name ?? config.text ?? '')
    return query.apply(this, args)
  }
  t.teardown(() => { prototype.query = query })

  await storeOne(store, 'bob', 'm-1')
  const before = await shardOfReceiver(coordinator, 'bob')
  t.ok(sent.includes(`om_lock_receivers_${before.shard}`), 'before the move, on the shard\'s tables')
  const target = workers.find((worker) => worker.port !== Number(before.port)) as { host: string, port: number }
  sent.length = 0
  t.same((await store.page({ receiverUid: 'bob', afterSeq: 0, now: NOW, limit: 100 })).map((message) => message.msgId), ['m-1'], 'before the move, read back')
  t.ok(sent.includes(`om_page_read_${before.shard}`), 'from the shard\'s tables')
  await coordinator.query("SELECT citus_move_shard_placement($1, $2, $3, $4, $5, 'block_writes')", [before.shard, before.host, before.port, target.host, target.port])


  sent.length = 0
  await storeOne(store, 'bob', 'm-2')
  t.notOk(sent.some((name) => name.startsWith('om_lock_receivers_')), 'after the move, not on the old copy')
  t.ok(sent.some((text) => text.startsWith('INSERT INTO receivers (')), 'through the distributed tables')
  // The failed check had the map read again: soon the shard's tables again, on its new node (where the check passes).
  let onNewNode = false
  for (let i = 3; i < 100 && !onNewNode; i++) {
    sent.length = 0
    await storeOne(store, 'bob', `m-${i}`)
    onNewNode = sent.includes(`om_lock_receivers_${before.shard}`)
    if (!onNewNode) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(onNewNode, 'once the map is read again, on the shard\'s tables on its new node')
  const { rows } = await coordinator.query<{ msg_id: string }>("SELECT msg_id FROM messages WHERE receiver_uid = 'bob' ORDER BY seq")
  const ids = rows.map((row) => row.msg_id)
  t.same(ids.slice(0, 3), ['m-1', 'm-2', 'm-3'], 'every message where Citus routes the receiver')
  t.same((await store.page({ receiverUid: 'bob', afterSeq: 0, now: NOW, limit: 100 })).map((message) => message.msgId), ids, 'and read back')
  const { rows: [placed] } = await coordinator.query<{ port: number }>('SELECT nodeport AS port FROM citus_shards WHERE shardid = $1', [before.shard])
  t.equal(Number(placed?.port), target.port, 'the shard is on the other worker')

  // Moved back: the map still names the other worker, where the read checks the placement, finds the shard gone, and
  // reads through the distributed tables; the map is read again, and the reads are on the shard's tables once more.
  await coordinator.query("SELECT citus_move_shard_placement($1, $2, $3, $4, $5, 'block_writes')", [before.shard, target.host, target.port, before.host, before.port])
  sent.length = 0
  t.same((await store.page({ receiverUid: 'bob', afterSeq: 0, now: NOW, limit: 100 })).map((message) => message.msgId), ids, 'right after the move back, read back')
  t.same(sent.filter((name) => name.startsWith('om_page')), [`om_page_read_${before.shard}`, 'om_page'], 'the shard\'s tables tried, then the distributed tables')
  let readOnShard = false
  for (let i = 0; i < 100 && !readOnShard; i++) {
    sent.length = 0
    t.same((await store.page({ receiverUid: 'bob', afterSeq: 0, now: NOW, limit: 100 })).map((message) => message.msgId), ids)
    readOnShard = sent.filter((name) => name.startsWith('om_page')).join() === `om_page_read_${before.shard}`
    if (!readOnShard) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.ok(readOnShard, 'once the map is read again, the reads are on the shard\'s tables on its node')
})
