// On Citus, a transaction whose receivers all live on one node runs the plain statements of postgres/statements.ts
// on their shards' own tables (messages_102008 for messages, and so on), on that node: each statement cut by shard,
// a statement per shard, sent together (NodeAccess). Citus then has
// nothing to plan: on a distributed table each statement goes through its distributed planner, is pruned to its shard
// and planned again there, at each call, which costs more than the statement itself on plain PostgreSQL (the cost per
// statement measured: docs/postgresql-and-citus.md#scaling-out-citus); on the shard's table a named statement is
// planned once a connection, as on plain PostgreSQL.
//
// A shard can move to another node, or be split, while the service's map (placement.ts) still puts it here.
// Rows written to the old copy after the move would be lost, so the transaction opens by taking the lock that Citus's
// own writers take on the metadata of each shard of the node (ShareLock: a move or a split holds ExclusiveLock on it,
// on every node, while it blocks writes and switches the placement), then, in a statement of its own (a new snapshot,
// which sees a switch committed while it waited), checks that every one of them is still placed on this node. One round
// trip with BEGIN. When a shard is not here any more the transaction uses the distributed tables instead, which Citus
// routes by its own metadata (correct, merely slower), and the map is read again.
//
// A read takes no lock: it reads the shard's tables and checks the placement in one statement, one snapshot. While
// that snapshot still places the shard here, the move's switch had not committed when it was taken, and every write
// committed before it is in this copy (a move blocks writes until its switch): the read is what a read a moment
// earlier would have been. When the check fails, or the copy is gone, the read goes to the distributed tables.
import type { Shard, ShardRange } from './placement.js'
import { DISTRIBUTED_TABLES } from './migrations.js'
import type { Pipelines, Queries, Row, Statement, TxQueries } from '../postgres/pool.js'
import type { Sql } from '../postgres/statements.js'

// ShareLock, as PostgreSQL numbers lock modes: what Citus's executor takes on a shard's metadata to modify it.
const SHARE_LOCK = 5

// Each of the tables where a statement names a table: after FROM, JOIN, INTO, UPDATE or USING (its columns, such as
// receivers.devices, never stand there).
const TABLE_REFERENCE = new RegExp(`\\b(FROM|JOIN|INTO|UPDATE|USING)\\s+(${DISTRIBUTED_TABLES.join('|')})\\b`, 'g')

/** A statement's text with each of the distributed tables it names replaced by its shard's table. */
export function onShardTables (text: string, tables: Readonly<Record<string, Shard>>): string {
  return text.replace(TABLE_REFERENCE, (whole, keyword: string, table: string) => {
    const shard = tables[table]
    if (shard === undefined) throw new Error(`no shard of ${table} given`)
    return `${keyword} ${shard.name}`
  })
}

/** The shards a transaction holds (ShardAccess, NodeAccess): whether one is of them, and a plain statement as it goes there. */
export interface Held {
  holds (shardId: string): boolean
  on (sql: Sql): Sql
}

/** One shard's tables as a transaction uses them. */
export interface ShardAccess extends Held {
  /** The shard's id in the messages table (Placement.shardOf). */
  shardId: string
  /** The ids of its tables' shards (itself and those co-located with it), as Citus's catalog names them. */
  ids: readonly string[]
  /** The statement on the shard's tables, named after the shard (each connection prepares it once). */
  on (sql: Sql): Sql
  /**
   * The read statement on the shard's tables with the placement check: each row is `om_placed`, then `om_found` (NULL
   * in the one row that stands for no rows), then the statement's columns; named after the shard.
   */
  read (sql: Sql): Sql
}

/** How many of these shards Citus's catalog places on the node that runs it: one row, `placed`. */
const placedCount = (ids: readonly string[]): string =>
  `SELECT count(*)::int AS placed FROM pg_dist_placement WHERE shardid IN (${ids.join(', ')}) AND groupid = (SELECT groupid FROM pg_dist_local_group)`

// Each shard's access, made once (a shard's id and the ids and names of its co-located shards never change: a move
// keeps them, a split makes new ones), with its statements made once each.
const accessOf = new Map<string, ShardAccess>()
const accessOfRange = new WeakMap<ShardRange, ShardAccess | null>()

/** How a transaction uses the tables of this range's shards; undefined when the range does not name them all. */
export function shardAccess (range: ShardRange): ShardAccess | undefined {
  // Every read asks with its receiver's range: the answer for a range (a map's ranges never change) is kept.
  const answered = accessOfRange.get(range)
  if (answered !== undefined) return answered ?? undefined
  const access = checkedShardAccess(range)
  accessOfRange.set(range, access ?? null)
  return access
}

function checkedShardAccess (range: ShardRange): ShardAccess | undefined {
  const tables = range.tables
  if (tables === undefined || DISTRIBUTED_TABLES.some((table) => tables[table] === undefined)) return undefined
  const ids = Object.values(tables).map((shard) => shard.id)
  // Ids from Citus's catalog, written into the text: digits only.
  if (ids.some((id) => !/^\d+$/.test(id))) return undefined
  const known = accessOf.get(range.shardId)
  if (known !== undefined) return known
  const placed = placedCount(ids)
  const made = new Map<Sql, Sql>()
  const reads = new Map<Sql, Sql>()
  const access: ShardAccess = {
    shardId: range.shardId,
    ids,
    holds: (shardId) => shardId === range.shardId,
    on (sql) {
      let statement = made.get(sql)
      if (statement === undefined) {
        statement = { name: `${sql.name}_${range.shardId}`, text: onShardTables(sql.text, tables) }
        made.set(sql, statement)
      }
      return statement
    },
    read (sql) {
      let statement = reads.get(sql)
      if (statement === undefined) {
        // One row of the check, joined to the statement's rows or, when it has none, to NULLs: `found` tells them apart.
        statement = {
          name: `${sql.name}_read_${range.shardId}`,
          text: `SELECT om_check.placed = ${ids.length} AS om_placed, om_rows.* FROM (${placed}) om_check ` +
            `LEFT JOIN LATERAL (SELECT true AS om_found, om_read.* FROM (${onShardTables(sql.text, tables)}) om_read) om_rows ON true`
        }
        reads.set(sql, statement)
      }
      return statement
    }
  }
  accessOf.set(range.shardId, access)
  return access
}

/** Whether the error is Citus's for a shard that no longer exists (a split replaced it): its metadata has no entry. */
export const shardGone = (error: unknown): boolean => /could not find valid entry for shard \d+/.test((error as { message?: unknown } | null)?.message as string ?? '')

// PostgreSQL's undefined_table: the shard's copy on this node was dropped after a move or a split.
const UNDEFINED_TABLE = '42P01'
const copyGone = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === UNDEFINED_TABLE

/**
 * Reads of one receiver on its shard's tables on `onNode`, the node the map places it on: each statement with the
 * placement check (ShardAccess.read); when the shard is not placed there any more, or its copy is gone, the statement
 * as it is, on the distributed tables (Citus routes it by its own metadata), and `moved` is told.
 */
export function shardReads (shard: ShardAccess, onNode: Queries, moved: () => void): Queries {
  /** `sql` guarded by run's connection; the rows without the check's columns, or the plain statement's. */
  async function read<R> (run: (statement: Sql) => Promise<R[]>, sql: Sql, placed: (row: R | undefined) => boolean, strip: (rows: R[]) => R[]): Promise<R[]> {
    let rows: R[] | undefined
    try {
      rows = await run(shard.read(sql))
    } catch (error) {
      if (!copyGone(error)) throw error
    }
    if (rows !== undefined && placed(rows[0])) return strip(rows)
    moved()
    return await run(sql)
  }
  return {
    arrays: async (sql, values) => await read((statement) => onNode.arrays(statement, values), sql, (row) => row?.[0] === true,
      (rows) => rows.filter((row) => row[1] !== null).map((row) => row.slice(2))),
    rows: async (sql, values) => await read((statement) => onNode.rows(statement, values), sql, (row) => row?.om_placed === true,
      (rows) => rows.filter((row) => row.om_found !== null).map(({ om_placed: _placed, om_found: _found, ...row }) => row))
  }
}

/**
 * A statement that reads for several receivers at once (SQL.summaries, SQL.pages): an unnest of arrays WITH ORDINALITY,
 * one element per read, the receivers' array first; each row starts with the ordinal of its read. Which of its
 * parameters (0-based) are those arrays, the receivers' first.
 */
interface ReadsTogether { receivers: number, arrays: ReadonlySet<number> }

const readsTogetherOf = new Map<Sql, ReadsTogether>()

function readsTogether (sql: Sql): ReadsTogether {
  const known = readsTogetherOf.get(sql)
  if (known !== undefined) return known
  const unnest = /unnest\(([^)]*)\) WITH ORDINALITY AS k \(receiver_uid,/.exec(sql.text)
  if (unnest === null) throw new Error(`${sql.name} is not a read of several receivers (an unnest WITH ORDINALITY of receiver_uid first)`)
  const arrays = [...(unnest[1] as string).matchAll(/\$(\d+)/g)].map((match) => Number(match[1]) - 1)
  const parsed = { receivers: arrays[0] as number, arrays: new Set(arrays) }
  readsTogetherOf.set(sql, parsed)
  return parsed
}

/**
 * Reads of several receivers together (readsTogether's statements) on `onNode`, the node the map places them on: the
 * statement once per shard they are of, each on its shard's tables with its guard (ShardAccess.read) and its
 * receivers' share of the arrays, all in one round trip (pg's pipelining). When a shard is not placed there any more,
 * or a copy is gone, or a receiver is of no shard of `shards` (those the map places on that node: the map changed),
 * the statement as it is, on the distributed tables, and `moved` is told. The rows as the statement's own, each under
 * the ordinal of its read.
 */
export function nodeReads (shards: readonly ShardAccess[], shardOf: (receiverUid: string) => string, onNode: Queries & Pipelines, moved: () => void): Pick<Queries, 'arrays'> {
  const byId = new Map(shards.map((shard) => [shard.shardId, shard]))
  const distributed = async (sql: Sql, values: readonly unknown[]): Promise<unknown[][]> => {
    moved()
    return await onNode.arrays(sql, values)
  }
  return {
    async arrays (sql, values) {
      const { receivers, arrays } = readsTogether(sql)
      // The reads (their indexes in the arrays) of each shard, in the order the shards first appear.
      const parts = new Map<ShardAccess, number[]>()
      for (const [index, receiverUid] of (values[receivers] as readonly string[]).entries()) {
        const shard = byId.get(shardOf(receiverUid))
        if (shard === undefined) return await distributed(sql, values)
        const indexes = parts.get(shard)
        if (indexes === undefined) parts.set(shard, [index])
        else indexes.push(index)
      }
      if (parts.size === 1) return await shardReads([...parts.keys()][0] as ShardAccess, onNode, moved).arrays(sql, values)
      const statements = [...parts].map(([shard, indexes]) => ({
        sql: shard.read(sql),
        values: values.map((value, p) => arrays.has(p) ? indexes.map((index) => (value as readonly unknown[])[index]) : value)
      }))
      let answers: unknown[][][]
      try {
        answers = await onNode.pipeline(statements)
      } catch (error) {
        if (!copyGone(error)) throw error
        return await distributed(sql, values)
      }
      // Each shard's rows: [placed, found, ordinal among its reads, ...columns] -> [ordinal in the batch, ...columns].
      if (answers.some((rows) => rows[0]?.[0] !== true)) return await distributed(sql, values)
      const indexesOf = [...parts.values()]
      return answers.flatMap((rows, j) => rows.filter((row) => row[1] !== null).map((row) => {
        // One copy a row (its columns after the ordinal), the ordinal in the batch where the shard's was.
        const batched = row.slice(2)
        batched[0] = (indexesOf[j]?.[Number(row[2]) - 1] ?? -1) + 1
        return batched
      }))
    }
  }
}

/**
 * The shards of one node as a write transaction holds them all: one opening locks them and checks their placement, and
 * each statement the transaction words for them (`on`) is cut by shard when it runs (`writes`), a statement per shard
 * on that shard's tables, sent together.
 */
export interface NodeAccess extends Held {
  /** What opens the transaction with BEGIN, in its round trip: the lock on every shard, then the check. */
  opening: readonly Statement[]
  /** Whether the opening's last result (its check) found every shard placed on this node. */
  placedHere (rows: readonly Row[]): boolean
  /**
   * `q` with each statement `on` worded cut by shard (cutByShard): one part, the statement on its shard's tables; more,
   * all of them in one round trip (pg's pipelining), their rows one after the other in the order of the shards' ids.
   * Any other statement (Citus's shapes, on the distributed tables) as it is. A pipeline sends every part of each of
   * its statements together, and `closing` hands on the parts.
   */
  writes (shardOf: (receiverUid: string) => string, q: TxQueries): TxQueries
}

// The opening of a node's transaction, named (planned once a connection): ShareLock on the metadata of the shards
// $1, then how many of them Citus's catalog places on this node.
const LOCK_SHARDS: Sql = { name: 'om_lock_shards', text: `SELECT lock_shard_metadata(${SHARE_LOCK}, $1::bigint[])` }
const PLACED_SHARDS: Sql = {
  name: 'om_placed_shards',
  text: 'SELECT count(*)::int AS placed FROM pg_dist_placement WHERE shardid = ANY($1::bigint[]) AND groupid = (SELECT groupid FROM pg_dist_local_group)'
}

// The statements NodeAccess.on words: a copy of the plain one, which `writes` knows by this map (never sent as it is).
const wordedFor = new WeakMap<Sql, Sql>()
const worded = new Map<Sql, Sql>()
const nodeAccessOf = new Map<string, NodeAccess>()
const nodeAccessOfList = new WeakMap<readonly ShardAccess[], NodeAccess>()

/** Shard ids as numbers for their order (bigints, the same number of digits in practice; by length first to be sure). */
const byId = (a: ShardAccess, b: ShardAccess): number => a.shardId.length - b.shardId.length || (a.shardId < b.shardId ? -1 : a.shardId > b.shardId ? 1 : 0)

/** How a write transaction holds these shards of one node (made once for a set of shards); undefined for none. */
export function nodeAccess (shards: readonly ShardAccess[]): NodeAccess | undefined {
  if (shards.length === 0) return undefined
  // The same list again (every transaction of a node asks with the list the store made for the map: citus/store.ts)
  // finds it without sorting and joining the ids.
  const same = nodeAccessOfList.get(shards)
  if (same !== undefined) return same
  const sorted = [...shards].sort(byId)
  const key = sorted.map((shard) => shard.shardId).join(',')
  const known = nodeAccessOf.get(key)
  if (known !== undefined) {
    nodeAccessOfList.set(shards, known)
    return known
  }
  const ofId = new Map(sorted.map((shard) => [shard.shardId, shard]))
  const ids = sorted.flatMap((shard) => shard.ids)
  const access: NodeAccess = {
    holds: (shardId) => ofId.has(shardId),
    on (sql) {
      let copy = worded.get(sql)
      if (copy === undefined) {
        copy = { name: sql.name, text: sql.text }
        worded.set(sql, copy)
        wordedFor.set(copy, sql)
      }
      return copy
    },
    opening: [{ sql: LOCK_SHARDS, values: [ids] }, { sql: PLACED_SHARDS, values: [ids] }],
    placedHere: (rows) => Number(rows[0]?.placed) === ids.length,
    writes (shardOf, q) {
      /**
       * The statement `on` worded, on its shards' tables, the parts in the order of the shards' ids; undefined for any
       * other statement, or when a part is of a shard not held (then sent as it is, on the distributed tables).
       */
      const partsOf = (statement: Sql, values: readonly unknown[]): Statement[] | undefined => {
        const sql = wordedFor.get(statement)
        if (sql === undefined) return undefined
        const parts = cutByShard(sql, values, shardOf)
        const made = sorted.flatMap((shard) => {
          const part = parts.get(shard.shardId)
          return part === undefined ? [] : [{ sql: shard.on(sql), values: part }]
        })
        return made.length === parts.size ? made : undefined
      }
      /** The statement as it is sent: its parts, or itself (not worded `on`, or of a shard not held). */
      const sentAs = ({ sql, values }: Statement): Statement[] => partsOf(sql, values) ?? [{ sql: wordedFor.get(sql) ?? sql, values }]
      /** Runs the statement as partsOf cuts it: `one` for a single statement, `together` for several at once. */
      const run = async <R>(statement: Sql, values: readonly unknown[], one: (part: Statement) => Promise<R[]>, together: (parts: Statement[]) => Promise<R[][]>): Promise<R[]> => {
        const parts = sentAs({ sql: statement, values })
        const [first, ...rest] = parts
        if (first === undefined) return []
        if (rest.length === 0) return await one(first)
        return (await together(parts)).flat()
      }
      /** The statements' parts all sent together: each statement's rows, its parts' one after the other. */
      const runAll = async <R>(list: readonly Statement[], together: (parts: Statement[]) => Promise<R[][]>): Promise<R[][]> => {
        const partsOfEach = list.map(sentAs)
        const answers = await together(partsOfEach.flat())
        let next = 0
        return partsOfEach.map((parts) => answers.slice(next, next += parts.length).flat())
      }
      return {
        rows: async (sql, values) => await run(sql, values, async (part) => await q.rows(part.sql, part.values), async (parts) => await q.pipelineRows(parts)),
        arrays: async (sql, values) => await run(sql, values, async (part) => await q.arrays(part.sql, part.values), async (parts) => await q.pipeline(parts)),
        pipeline: async (list) => await runAll(list, async (parts) => await q.pipeline(parts)),
        pipelineRows: async (list) => await runAll(list, async (parts) => await q.pipelineRows(parts)),
        closing (list) { q.closing(list.flatMap(sentAs)) }
      }
    }
  }
  nodeAccessOf.set(key, access)
  nodeAccessOfList.set(shards, access)
  return access
}

/**
 * Where a statement names its receivers: one parameter (0-based) naming one receiver, or groups of array parameters,
 * each an unnest's arrays of one row per element, the receivers' array first.
 */
export interface ReceiversOf { receiver?: number, groups: ReadonlyArray<readonly number[]> }

const receiversOfSql = new Map<Sql, ReceiversOf>()

/**
 * Read off the statement's text: `receiver_uid = $n` (or an INSERT of VALUES whose first column is receiver_uid) names
 * one receiver; else each `unnest($a, $b, ...)` of parameters is a group, and `receiver_uid = ANY($n::text[])` of a
 * parameter in none is a group of its own. Every plain write statement is worded so (test/store/citus-shards.test.ts
 * lists what this finds in each).
 */
export function receiversOf (sql: Sql): ReceiversOf {
  const known = receiversOfSql.get(sql)
  if (known !== undefined) return known
  const index = (match: string): number => Number(match) - 1
  const one = /\breceiver_uid = \$(\d+)(?![\d:])/.exec(sql.text) ?? /\(receiver_uid, [\w, ]*\) VALUES \(\$(\d+)\b/.exec(sql.text)
  let found: ReceiversOf
  if (one !== null) {
    found = { receiver: index(one[1] as string), groups: [] }
  } else {
    const groups = new Map<string, number[]>()
    for (const unnest of sql.text.matchAll(/unnest\((\$\d+[^()]*)\)/g)) {
      const group = [...(unnest[1] as string).matchAll(/\$(\d+)/g)].map((match) => index(match[1] as string))
      groups.set(group.join(), group)
    }
    const grouped = new Set([...groups.values()].flat())
    for (const lone of sql.text.matchAll(/receiver_uid = ANY\(\$(\d+)::text\[\]\)/g)) {
      const p = index(lone[1] as string)
      if (!grouped.has(p)) groups.set(String(p), [p])
      grouped.add(p)
    }
    found = { groups: [...groups.values()] }
  }
  if (found.receiver === undefined && found.groups.length === 0) throw new Error(`${sql.name} names no receiver that a transaction could cut it by`)
  receiversOfSql.set(sql, found)
  return found
}

/**
 * The statement's values cut by the shards of the receivers they name (receiversOf): for each shard, the values with
 * each group's arrays keeping only the elements of its receivers (empty arrays for a group with none); the other
 * parameters as they are. A shard whose receivers name no element of any group gets no part.
 */
export function cutByShard (sql: Sql, values: readonly unknown[], shardOf: (receiverUid: string) => string): Map<string, unknown[]> {
  const { receiver, groups } = receiversOf(sql)
  const parts = new Map<string, unknown[]>()
  if (receiver !== undefined) {
    parts.set(shardOf(values[receiver] as string), [...values])
    return parts
  }
  // Each shard's elements of each group.
  const chosen = new Map<string, number[][]>()
  groups.forEach((group, g) => {
    for (const [i, receiverUid] of (values[group[0] as number] as readonly string[]).entries()) {
      const shardId = shardOf(receiverUid)
      let ofShard = chosen.get(shardId)
      if (ofShard === undefined) {
        ofShard = groups.map(() => [])
        chosen.set(shardId, ofShard)
      }
      ofShard[g]?.push(i)
    }
  })
  for (const [shardId, ofShard] of chosen) {
    const part = [...values]
    groups.forEach((group, g) => {
      const elements = ofShard[g] as number[]
      for (const p of group) part[p] = elements.map((i) => (values[p] as readonly unknown[])[i])
    })
    parts.set(shardId, part)
  }
  return parts
}
