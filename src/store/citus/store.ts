// The store on Citus: PostgreSQL's store (postgres/store.ts) with Citus's migrations and a Routing by shard: each
// receiver's reads and transactions go to the node holding its shard, on that shard's own tables, and group commit
// forms its groups per node, each statement cut by shard. On a database without Citus, PostgreSQL's store as it is.
import type { DatabaseOptions } from '../database.js'
import { createPostgresStore, type Routing } from '../postgres/store.js'
import type { Queries } from '../postgres/pool.js'
import type { Store } from '../types.js'
import { citusLogLine, DISTRIBUTED_TABLES, migrateCitus } from './migrations.js'
import { createPlacement, detectCitus, type ShardRange } from './placement.js'
import { nodeAccess, nodeReads, shardAccess, shardGone, shardReads, type ShardAccess } from './shards.js'
import { createCitusStatements } from './transaction.js'

async function migrate (options: DatabaseOptions): Promise<void> {
  const line = citusLogLine(await migrateCitus(options))
  if (line !== null) options.log?.('info', line)
}

/**
 * Group commit forms its groups per node (each receiver's shard, its node and its tables' names, read from Citus's
 * catalog and reloaded in the background), so that a transaction writes its node's shards' tables there (shards.ts). A
 * database that was down at start, and turns out to be Citus, is served as plain PostgreSQL until the next start:
 * correct, through the distributed tables, with two-phase commits.
 */
async function routeByShard (pool: Queries, migrated: boolean, options: DatabaseOptions): Promise<Routing | undefined> {
  if (!migrated) return undefined
  let placement: Awaited<ReturnType<typeof createPlacement>>
  try {
    if (!await detectCitus(pool)) return undefined
    placement = await createPlacement(pool, { colocated: DISTRIBUTED_TABLES, log: options.log })
  } catch (error) {
    options.log?.('warn', `could not read the Citus shard placement; groups are not formed per shard: ${error instanceof Error ? error.message : String(error)}`)
    return undefined
  }
  // Made once for each map's ranges of a node (a map read again makes new ones), not at every transaction and read.
  const shardsOfRanges = new WeakMap<readonly ShardRange[], ShardAccess[]>()
  /** The shards the map places on this node, as transactions and reads use their tables. */
  const shardsOn = (node: string): ShardAccess[] => {
    const ranges = placement.rangesOn(node)
    let shards = shardsOfRanges.get(ranges)
    if (shards === undefined) {
      shards = ranges.flatMap((range) => shardAccess(range) ?? [])
      shardsOfRanges.set(ranges, shards)
    }
    return shards
  }
  return {
    // A receiver's transactions and reads go to the node that holds its shard: no hop through the coordinator, and a
    // group commits there alone (on the shard's own tables, or through Citus's local execution of the distributed
    // tables' statements on that node's shards).
    nodeOf: (receiverUid) => placement.nodeOf(receiverUid),
    // Its reads on its shard's own tables there, each checking in its own snapshot that the shard is still placed there
    // (shards.ts): planned once a connection, as on plain PostgreSQL, where the distributed tables' statements go
    // through Citus's planner at each call.
    readsOf (receiverUid, onNode) {
      const range = placement.rangeOf(receiverUid)
      const shard = range === undefined ? undefined : shardAccess(range)
      return shard === undefined ? onNode : shardReads(shard, onNode, placement.reload)
    },
    // On the lane's node, holding every shard the map places there (shards.ts): its receivers' statements go to their
    // shards' own tables, each statement cut by shard and its parts sent together. When a shard is not on that node
    // any more, the transaction writes through the distributed tables, and the map is read again.
    transaction (lane) {
      const node = lane === undefined ? undefined : nodeAccess(shardsOn(lane))
      return {
        node: node === undefined ? '' : lane ?? '',
        opening: node?.opening,
        statements (opened) {
          const held = node !== undefined && node.placedHere(opened)
          if (node !== undefined && !held) placement.reload()
          return createCitusStatements({ shardOf: placement.shardOf, direct: held ? node : undefined })
        },
        queries: (onConnection) => node === undefined ? onConnection : node.writes(placement.shardOf, onConnection),
        // A shard of the node split away: Citus's lock on its metadata finds no such shard. The transaction runs again
        // without a lane, on the distributed tables through the coordinator, and the map is read again.
        openingFailed (error) {
          if (!shardGone(error)) return false
          placement.reload()
          return true
        }
      }
    },
    // Reads that arrive together go together when they are of one node: a statement per shard on its tables, all in one
    // round trip (nodeReads, shards.ts).
    batchesReads: true,
    readLaneOf: (receiverUid) => placement.nodeOf(receiverUid),
    readsTogetherOf (receiverUid, onNode) {
      return nodeReads(shardsOn(placement.nodeOf(receiverUid)), placement.shardOf, onNode, placement.reload)
    },
    // One group per node at a time (the lane of each receiver: its shard's node), each writing its node's shards'
    // tables in one transaction, all nodes at once. Groups per shard (a lane a shard) paid a transaction's round trips
    // and its commit for a store or two at 32 shards (bench/results/citus*.md); two groups at once in one node would
    // cut the same calls into smaller groups again, and groups of one node share its shards' locks.
    writeLanes: { concurrency: options.poolMax, laneOf: (receiverUid) => placement.nodeOf(receiverUid) },
    // Every statement on a node's connections names its receivers, and each shard's table finds them by its index.
    // Cut by shard, a statement's arrays hold a receiver or two per shard where PostgreSQL's plans assume 10 (unnest of a
    // parameter), and a shard's tables are a thirty-second of the data at 32 shards: a generic plan read a whole table
    // of a thousand rows where two index probes would do, and the ack's removal, whose generic plan cost more than one
    // made for its arrays, was planned again at every call (1 ms of the worker's time a shard; pg_stat_statements on
    // the workers, bench/results/runs-2026-12-07/citus-node-writes.md). Generic plans always, and index scans wherever
    // an index serves: at 32 shards acks 0.22 -> 0.44 of plain PostgreSQL, stores 0.49 -> 0.59; each setting alone did
    // not (0.25, 0.23).
    nodeSettings: { plan_cache_mode: 'force_generic_plan', enable_seqscan: 'off' },
    close: () => { placement.close() }
  }
}

/** The store of a postgres:// DATABASE_URL: on Citus routed by shard, elsewhere PostgreSQL's store. */
export async function createCitusStore (options: DatabaseOptions): Promise<Store> {
  return await createPostgresStore(options, { migrate, route: async (pool, migrated) => await routeByShard(pool, migrated, options) })
}

/**
 * For tests: Citus's statement shapes on a database without Citus, each receiver taken as a shard of its own, as on
 * Citus they are whenever a transaction does not hold its shard; they must give the same results.
 */
export async function createCitusShapesStore (options: DatabaseOptions): Promise<Store> {
  const shapes: Routing = {
    nodeOf: () => '',
    transaction: () => ({ node: '', statements: () => createCitusStatements({ shardOf: (receiverUid) => receiverUid }) }),
    batchesReads: true,
    close: () => {}
  }
  return await createPostgresStore(options, { migrate, route: async () => shapes })
}
