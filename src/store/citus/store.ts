// The store on Citus: PostgreSQL's store (postgres/store.ts) with Citus's migrations and a Routing by shard: each
// receiver's reads and transactions go to the node holding its shard, a transaction on that shard's own tables, and
// group commit forms its groups per shard. On a database without Citus, PostgreSQL's store as it is.
import type { DatabaseOptions } from '../database.js'
import { createPostgresStore, type Routing } from '../postgres/store.js'
import type { Queries } from '../postgres/pool.js'
import type { Store } from '../types.js'
import { citusLogLine, DISTRIBUTED_TABLES, migrateCitus } from './migrations.js'
import { createPlacement, detectCitus } from './placement.js'
import { nodeReads, shardAccess, shardGone, shardReads } from './shards.js'
import { createCitusStatements } from './transaction.js'

async function migrate (options: DatabaseOptions): Promise<void> {
  const line = citusLogLine(await migrateCitus(options))
  if (line !== null) options.log?.('info', line)
}

/**
 * Group commit forms its groups per shard (each receiver's shard, its node and its tables' names, read from Citus's
 * catalog and reloaded in the background), so that a transaction writes one shard's tables on one node (shards.ts). A
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
    // On the node of the lane's shard, holding that shard (shards.ts): its receivers' statements go to the shard's own
    // tables. A shard that is not on that node any more is written through the distributed tables, and the map read again.
    transaction (lane) {
      const range = lane === undefined ? undefined : placement.rangeOfShard(lane)
      const shard = range === undefined ? undefined : shardAccess(range)
      return {
        node: range?.node ?? '',
        opening: shard?.opening,
        statements (opened) {
          const held = shard !== undefined && shard.placedHere(opened)
          if (shard !== undefined && !held) placement.reload()
          return createCitusStatements({ shardOf: placement.shardOf, direct: held ? shard : undefined })
        },
        // A shard of the range split away: Citus's lock on its metadata finds no such shard. The transaction runs again
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
      const shards = placement.rangesOn(placement.nodeOf(receiverUid)).flatMap((range) => shardAccess(range) ?? [])
      return nodeReads(shards, placement.shardOf, onNode, placement.reload)
    },
    // One group per shard at a time (the lane of each receiver: its shard), each on its shard's tables on its node,
    // and as many shards at once as the pool allows (how this compares with groups on the distributed tables:
    // docs/postgresql-and-citus.md#scaling-out-citus). Two groups at once in one lane made fewer stores than one
    // (measured when a lane was a node), and, when their inserts went through the coordinator, deadlocked each other
    // on Citus's shard locks; groups of different shards share no lock.
    writeLanes: { concurrency: options.poolMax, laneOf: (receiverUid) => placement.shardOf(receiverUid) },
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
