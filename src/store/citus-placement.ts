// Where Citus keeps each receiver: the shards of the messages table, their hash ranges and nodes, read from Citus's
// catalog and looked up here, without a round trip, so that group commit can form its groups per node.
import { hashText } from './postgres-hash.js'
import type { Queries } from './postgres-pool.js'
import type { Sql } from './postgres-statements.js'

export interface ShardRange { shardId: string, min: number, max: number, node: string }

export interface Placement {
  /** The node (host:port of its group's primary) holding the receiver's shard; '' when no shard range covers it. */
  nodeOf (receiverUid: string): string
  /** The receiver's shard (of the messages table; the co-located tables' shards share its ranges); '' likewise. */
  shardOf (receiverUid: string): string
}

const SQL = {
  citusInstalled: { name: 'om_citus_installed', text: "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS installed" },
  // pg_dist_partition exists only with the extension: asked only once citusInstalled said yes.
  distribution: { name: 'om_citus_distribution', text: 'SELECT partmethod::text AS method FROM pg_dist_partition WHERE logicalrelid = to_regclass($1)' },
  // One placement per shard (a replicated shard has several: the first group's stands for it), on the group's primary.
  shards: {
    name: 'om_citus_shards',
    text: `SELECT DISTINCT ON (s.shardid) s.shardid::text AS shard_id, s.shardminvalue::int AS min, s.shardmaxvalue::int AS max,
        n.nodename || ':' || n.nodeport AS node
      FROM pg_dist_shard s
      JOIN pg_dist_placement p ON p.shardid = s.shardid
      JOIN pg_dist_node n ON n.groupid = p.groupid AND n.noderole = 'primary'
      WHERE s.logicalrelid = to_regclass($1)
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

/** The shard ranges of a hash-distributed table, lowest first. */
export async function loadShardRanges (queries: Queries, table = 'messages'): Promise<ShardRange[]> {
  const rows = await queries.rows(SQL.shards, [table])
  return rows
    .map((row) => ({ shardId: String(row.shard_id), min: Number(row.min), max: Number(row.max), node: String(row.node) }))
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
  return {
    nodeOf: (receiverUid) => rangeOf(receiverUid)?.node ?? '',
    shardOf: (receiverUid) => rangeOf(receiverUid)?.shardId ?? ''
  }
}

export interface PlacementOptions {
  table?: string
  /** How often the map is read again from the catalog (60 s unless told). */
  refreshMs?: number
  log?: (level: 'warn', message: string) => void
}

/**
 * The placement of `table`'s shards, read at once and again every refreshMs in the background. Between two reads a
 * shard may move (a rebalance, a split, a node added): the map then puts some receivers on their old node. That costs
 * no correctness: the map only decides which requests share a transaction, and Citus routes every statement by its
 * own metadata; a group that the stale map thought single-node merely commits on two, with two-phase commit, until the
 * next refresh. A refresh that fails keeps the map it had and says so.
 */
export async function createPlacement (queries: Queries, options: PlacementOptions = {}): Promise<Placement & { refresh (): Promise<void>, close (): void }> {
  const table = options.table ?? 'messages'
  let current = placementOf(await loadShardRanges(queries, table))
  let refreshing: Promise<void> | undefined
  const refresh = async (): Promise<void> => {
    refreshing ??= loadShardRanges(queries, table)
      .then((ranges) => { current = placementOf(ranges) })
      .finally(() => { refreshing = undefined })
    await refreshing
  }
  const timer = setInterval(() => {
    refresh().catch((error: unknown) => {
      options.log?.('warn', `could not reload the Citus shard placement, keeping the last one: ${error instanceof Error ? error.message : String(error)}`)
    })
  }, options.refreshMs ?? 60_000)
  // The map never keeps the process alive.
  timer.unref()
  return {
    nodeOf: (receiverUid) => current.nodeOf(receiverUid),
    shardOf: (receiverUid) => current.shardOf(receiverUid),
    refresh,
    close: () => { clearInterval(timer) }
  }
}
