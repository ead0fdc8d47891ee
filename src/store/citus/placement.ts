// Where Citus keeps each receiver: the shards of the messages table, their hash ranges and nodes, read from Citus's
// catalog and looked up here, without a round trip, so that group commit can form its groups per node.
import { groupBy } from '../../lib/group-by.js'
import { hashText } from './hash.js'
import type { Queries } from '../postgres/pool.js'
import type { Sql } from '../postgres/statements.js'

/** A table's shard: its id in Citus's catalog and its name on its node (messages_102008). */
export interface Shard { id: string, name: string }

export interface ShardRange {
  shardId: string
  min: number
  max: number
  node: string
  /**
   * The shard of each co-located table at this range, by table name: co-located tables share their ranges and nodes.
   * Absent when the catalog gave no shard here for one of them.
   */
  tables?: Readonly<Record<string, Shard>>
}

export interface Placement {
  /** The node (host:port of its group's primary) holding the receiver's shard; '' when no shard range covers it. */
  nodeOf (receiverUid: string): string
  /** The receiver's shard (of the messages table; the co-located tables' shards share its ranges); '' likewise. */
  shardOf (receiverUid: string): string
  /** The receiver's range, with its node and its shard of each table. */
  rangeOf (receiverUid: string): ShardRange | undefined
  /** The range of this shard (of the messages table), as shardOf names it; undefined when the map has none. */
  rangeOfShard (shardId: string): ShardRange | undefined
  /** The ranges the map places on this node, lowest first. */
  rangesOn (node: string): readonly ShardRange[]
}

const SQL = {
  citusInstalled: { name: 'om_citus_installed', text: "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS installed" },
  // pg_dist_partition exists only with the extension: asked only once citusInstalled said yes.
  distribution: { name: 'om_citus_distribution', text: 'SELECT partmethod::text AS method FROM pg_dist_partition WHERE logicalrelid = to_regclass($1)' },
  // One placement per shard (a replicated shard has several: the first group's stands for it), on the group's primary:
  // those of the table $1, then those of the tables $2 with their names (messages_102008), by which a transaction
  // on that node can name a shard itself (shards.ts).
  shards: {
    name: 'om_citus_shards',
    text: `SELECT DISTINCT ON (s.shardid) s.logicalrelid = to_regclass($1) AS anchor, s.logicalrelid::regclass::text AS table_name,
        s.shardid::text AS shard_id, s.shardminvalue::int AS min, s.shardmaxvalue::int AS max, shard_name(s.logicalrelid, s.shardid) AS shard_name,
        n.nodename || ':' || n.nodeport AS node
      FROM pg_dist_shard s
      JOIN pg_dist_placement p ON p.shardid = s.shardid
      JOIN pg_dist_node n ON n.groupid = p.groupid AND n.noderole = 'primary'
      WHERE s.logicalrelid = to_regclass($1) OR s.logicalrelid = ANY($2::regclass[])
      ORDER BY s.shardid, n.groupid`
  }
} satisfies Record<string, Sql>

/** Whether this database has the citus extension and `table` is distributed by hash (as `messages` is, by receiver_uid). */
export async function detectCitus (queries: Queries, table = 'messages'): Promise<boolean> {
  const [installed] = await queries.rows(SQL.citusInstalled, [])
  if (installed?.installed !== true) return false
  const [distribution] = await queries.rows(SQL.distribution, [table])
  return distribution?.method === 'h'
}

/**
 * The shard ranges of a hash-distributed table, lowest first; with `colocated` (tables co-located with it, itself
 * among them or not), each range's shard of each of those tables, on the same node (or no `tables` for that range).
 */
export async function loadShardRanges (queries: Queries, table = 'messages', colocated: readonly string[] = []): Promise<ShardRange[]> {
  const rows = await queries.rows(SQL.shards, [table, colocated])
  // The co-located shards by range and node: Citus moves co-located shards together, and gives them the same range.
  const shardsAt = new Map<string, Record<string, Shard>>()
  for (const row of rows) {
    if (!colocated.includes(String(row.table_name))) continue
    const at = `${String(row.min)}:${String(row.node)}`
    shardsAt.set(at, { ...shardsAt.get(at), [String(row.table_name)]: { id: String(row.shard_id), name: String(row.shard_name) } })
  }
  return rows
    .filter((row) => row.anchor === true)
    .map((row) => {
      const range: ShardRange = { shardId: String(row.shard_id), min: Number(row.min), max: Number(row.max), node: String(row.node) }
      const tables = shardsAt.get(`${range.min}:${range.node}`)
      return colocated.length > 0 && colocated.every((name) => tables?.[name] !== undefined) ? { ...range, tables } : range
    })
    .sort((a, b) => a.min - b.min)
}

/** Looks receivers up in these ranges (lowest first): their hashText, as Citus hashes a varchar column, binary-searched. */
export function placementOf (ranges: readonly ShardRange[]): Placement {
  const rangeOf = (receiverUid: string): ShardRange | undefined => {
    const hash = hashText(receiverUid)
    let low = 0
    let high = ranges.length - 1
    while (low <= high) {
      const middle = (low + high) >> 1
      const range = ranges[middle] as ShardRange
      if (hash < range.min) high = middle - 1
      else if (hash > range.max) low = middle + 1
      else return range
    }
    return undefined
  }
  const byShard = new Map(ranges.map((range) => [range.shardId, range]))
  const byNode = groupBy(ranges, (range) => range.node)
  return {
    nodeOf: (receiverUid) => rangeOf(receiverUid)?.node ?? '',
    shardOf: (receiverUid) => rangeOf(receiverUid)?.shardId ?? '',
    rangeOf,
    rangeOfShard: (shardId) => byShard.get(shardId),
    rangesOn: (node) => byNode.get(node) ?? []
  }
}

export interface PlacementOptions {
  table?: string
  /** The tables co-located with `table` whose shards each range names (ShardRange.tables). */
  colocated?: readonly string[]
  /** How often the map is read again from the catalog (60 s unless told). */
  refreshMs?: number
  log?: (level: 'warn', message: string) => void
}

/**
 * The placement of `table`'s shards, read at once and again every refreshMs in the background (and when a
 * transaction finds its shard gone). Between two reads a shard may move or be split (a rebalance, a node added): the
 * map then puts some receivers on their old node, or in a shard that is no more. That costs no correctness: a
 * transaction writes a shard's own tables only once it has locked the shard and found it placed on its node
 * (shards.ts); otherwise it goes through the distributed tables, which Citus routes by its own metadata, with
 * two-phase commit if it must, until the next refresh. A refresh that fails keeps the map it had and says so.
 */
export async function createPlacement (queries: Queries, options: PlacementOptions = {}): Promise<Placement & {
  /** Reads the map again; rejects (keeping the last map) when the catalog cannot be read. */
  refresh (): Promise<void>
  /** Reads the map again in the background, a failure logged. */
  reload (): void
  close (): void
}> {
  const table = options.table ?? 'messages'
  const load = async (): Promise<ShardRange[]> => await loadShardRanges(queries, table, options.colocated)
  let current = placementOf(await load())
  let refreshing: Promise<void> | undefined
  const refresh = async (): Promise<void> => {
    refreshing ??= load()
      .then((ranges) => { current = placementOf(ranges) })
      .finally(() => { refreshing = undefined })
    await refreshing
  }
  const reload = (): void => {
    refresh().catch((error: unknown) => {
      options.log?.('warn', `could not reload the Citus shard placement, keeping the last one: ${error instanceof Error ? error.message : String(error)}`)
    })
  }
  const timer = setInterval(reload, options.refreshMs ?? 60_000)
  // The map never keeps the process alive.
  timer.unref()
  return {
    nodeOf: (receiverUid) => current.nodeOf(receiverUid),
    shardOf: (receiverUid) => current.shardOf(receiverUid),
    rangeOf: (receiverUid) => current.rangeOf(receiverUid),
    rangeOfShard: (shardId) => current.rangeOfShard(shardId),
    rangesOn: (node) => current.rangesOn(node),
    refresh,
    reload,
    close: () => { clearInterval(timer) }
  }
}
