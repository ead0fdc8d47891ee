// The production store on PostgreSQL, through knex and pg: a pool of connections, rows locked per receiver
// (transaction.ts), and the migrations run at start or, while the database is down, at its first use.
import { randomUUID } from 'node:crypto'
import type { DatabaseOptions } from '../database.js'
import { StoreUnavailableError } from '../../domain/errors.js'
import { storeFailure } from '../errors.js'
import { createPlacement, detectCitus } from '../citus/placement.js'
import { shardAccess } from '../citus/shards.js'
import { CHANNEL, commitPayloads, listenForCommits, type CommitListener } from './commit-feed.js'
import { createDurabilityCheck } from './durability.js'
import { citusLogLine, DISTRIBUTED_TABLES, migratePostgres } from './migrations.js'
import { createPool } from './pool.js'
import { SQL } from './statements.js'
import { createTx } from './transaction.js'
import { toConversationFromValues, toDevice, toNullableNumber, toNumber, toReceiverMessageFromValues, toReceiverState, toStoredMessage, RECEIVER_FIELDS } from '../row-mapper.js'
import type { PageQuery, Store, SummaryView } from '../types.js'
import { createGroupCommit } from '../../domain/group-commit.js'

/** DATABASE_URL with the host and port of a Citus node ('host:port' as citus/placement.ts names it), all else kept. */
export function urlOfNode (databaseUrl: string, node: string): string {
  const at = node.lastIndexOf(':')
  const url = new URL(databaseUrl)
  const host = node.slice(0, at)
  url.hostname = host.includes(':') ? `[${host}]` : host
  url.port = node.slice(at + 1)
  return url.toString()
}

interface SummaryRead { receiverUid: string, deviceId: string | undefined, beforeSortSeq: number | null, limit: number }

// Write groups at once on plain PostgreSQL (measured at writeConcurrency below); the pool's other connections read.
const WRITE_CONCURRENCY = 2
// Summary reads in one statement at most.
const SUMMARIES_PER_STATEMENT = 50

/**
 * A summary read from its statement's rows: the receiver's columns, then (with `deviceColumns`) a device's slot and
 * pending count, then the conversation's, NULL when the reader has no summary rows. No rows: an unknown receiver.
 */
function toSummaryView (rows: readonly unknown[][], deviceId: string | undefined, deviceColumns: boolean): SummaryView {
  const [first] = rows
  if (first === undefined) return { receiver: undefined, rows: [] }
  const receiver = toReceiverState(Object.fromEntries(RECEIVER_FIELDS.map((column, i) => [column, first[i]])))
  const at = RECEIVER_FIELDS.length + (deviceColumns ? 2 : 0)
  const conversations = rows.filter((row) => row[at] !== null).map((row) => toConversationFromValues(row.slice(at)))
  if (deviceId === undefined) return { receiver, rows: conversations }
  const slot = toNullableNumber(first[RECEIVER_FIELDS.length])
  return { receiver, rows: conversations, device: { slot, pendingCount: toNumber(first[RECEIVER_FIELDS.length + 1]) } }
}

async function guard<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw storeFailure(error)
  }
}

/** The Store of the port. One piece: its methods share the pool and the migration state; each is a few lines. */
export async function createPostgresStore (options: DatabaseOptions): Promise<Store> {
  // knex runs the migrations, on a pool of its own for their duration; everything else runs on pg's pool.
  const migrateOnce = async (): Promise<void> => {
    const report = await migratePostgres(options)
    const citus = citusLogLine(report)
    if (citus !== null) options.log?.('info', citus)
  }
  // A database that is down at start does not stop the service: it answers 503 until the database is back,
  // and the first operation after that runs the migrations.
  let migrated: Promise<void> | null = null
  const ensureSchema = (): Promise<void> => {
    migrated ??= guard(migrateOnce).then(() => undefined, (error: unknown) => {
      migrated = null
      throw error
    })
    return migrated
  }
  try {
    await ensureSchema()
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error
  }
  const pool = createPool(options)
  // Read at start and after each new connection (which a reconnect makes), in the background; a request never waits for it.
  const durability = createDurabilityCheck(async () => (await pool.upkeep(SQL.durability))[0] ?? {}, options.log)
  pool.watch({
    connected: () => { durability.refresh().catch(() => {}) },
    lost: () => { durability.lost() }
  })
  if (migrated !== null) await durability.refresh().catch(() => {})
  // On Citus, group commit forms its groups per shard (each receiver's shard, its node and its tables' names, read
  // from Citus's catalog and reloaded in the background), so that a transaction writes one shard's tables on one node
  // (citus/shards.ts). A database that was down at start, and turns out to be Citus, is grouped as plain PostgreSQL
  // until the next start: correct, through the distributed tables, with two-phase commits.
  const openPlacement = async (): Promise<Awaited<ReturnType<typeof createPlacement>> | undefined> => {
    try {
      return await detectCitus(pool) ? await createPlacement(pool, { colocated: DISTRIBUTED_TABLES, log: options.log }) : undefined
    } catch (error) {
      options.log?.('warn', `could not read the Citus shard placement; groups are not formed per shard: ${error instanceof Error ? error.message : String(error)}`)
      return undefined
    }
  }
  const placement = migrated === null ? undefined : await openPlacement()
  // Citus's statement shapes, cut by shard where they must be; in tests on plain PostgreSQL, each receiver its own shard.
  const citusShapes = placement !== undefined ? { shardOf: placement.shardOf } : options.citusShapes === true ? { shardOf: (receiverUid: string) => receiverUid } : undefined
  // On Citus, a receiver's transactions and reads go to the node that holds its shard: no hop through the coordinator,
  // and a group commits there alone (on the shard's own tables, or through Citus's local execution of the distributed
  // tables' statements on that node's shards).
  // The coordinator's pool keeps what crosses nodes (the sweep's choices, the gauge) and the notifications.
  const nodePools = new Map<string, ReturnType<typeof createPool>>()
  const poolAt = (node: string): ReturnType<typeof createPool> => {
    if (node === '') return pool
    let nodePool = nodePools.get(node)
    if (nodePool === undefined) {
      nodePool = createPool({ ...options, databaseUrl: urlOfNode(options.databaseUrl, node) })
      nodePools.set(node, nodePool)
    }
    return nodePool
  }
  const poolNear = (receiverUid: string | undefined): ReturnType<typeof createPool> =>
    poolAt(placement === undefined || receiverUid === undefined ? '' : placement.nodeOf(receiverUid))
  // Names this instance in its NOTIFY payloads, so that its own commits (woken in process) are not heard twice.
  const instanceId = randomUUID()
  const listeners: CommitListener[] = []
  // After the commit, not inside the transaction: a transaction that notifies holds a lock of the whole server from its
  // NOTIFY until its commit is flushed, so notifying groups would commit one at a time. A notification on its own writes
  // nothing and holds that lock for no fsync. Nobody waits for it: a wake-up lost in a crash costs a held request its
  // wait (it answers the empty page when its time is up), never a message.
  const announce = (receiverUids: readonly string[]): void => {
    pool.rows(SQL.announce, [CHANNEL, commitPayloads(instanceId, receiverUids)]).catch((error: unknown) => {
      options.log?.('warn', `could not announce stored messages to the other instances: ${error instanceof Error ? error.message : String(error)}`)
    })
  }
  /** One summary read in one statement (summaryOfDevice's rows have a device's slot and count after the receiver's). */
  const readSummary = async (read: SummaryRead): Promise<SummaryView> => {
    const values = [read.receiverUid, read.beforeSortSeq ?? Number.MAX_SAFE_INTEGER, read.limit]
    const near = poolNear(read.receiverUid)
    const rows = read.deviceId === undefined ? await near.arrays(SQL.summary, values) : await near.arrays(SQL.summaryOfDevice, [...values, read.deviceId])
    return toSummaryView(rows, read.deviceId, read.deviceId !== undefined)
  }
  // Summary reads that arrive while the pool's read connections are all busy wait for the next free one and go
  // together, in one statement (SQL.summaries): under load a read costs a fraction of a round trip, as a store does in
  // its group. A read alone goes at once, in its own statement. Not on Citus, where each read goes to its node.
  const readSummaries = createGroupCommit(async (reads: readonly SummaryRead[]): Promise<SummaryView[]> => {
    if (reads.length === 1) return [await readSummary(reads[0] as SummaryRead)]
    const rows = await pool.arrays(SQL.summaries, [
      reads.map((read) => read.receiverUid), reads.map((read) => read.deviceId ?? null),
      reads.map((read) => read.beforeSortSeq ?? Number.MAX_SAFE_INTEGER), reads.map((read) => read.limit)])
    const byRead = reads.map((): unknown[][] => [])
    for (const row of rows) byRead[toNumber(row[0]) - 1]?.push(row.slice(1))
    return reads.map((read, i) => toSummaryView(byRead[i] ?? [], read.deviceId, true))
  }, SUMMARIES_PER_STATEMENT, Math.max(1, options.poolMax - WRITE_CONCURRENCY))
  const run = <T>(work: () => Promise<T>): Promise<T> => guard(async () => {
    await ensureSchema()
    return await work()
  })

  return {
    // On Citus, on the node of `near`'s shard, holding that shard (citus/shards.ts): its receivers' statements go to
    // the shard's own tables. A shard that is not on that node any more is written through the distributed tables,
    // and the map read again.
    transaction: (fn, near) => run(async () => {
      const range = near === undefined ? undefined : placement?.rangeOf(near)
      const shard = range === undefined ? undefined : shardAccess(range)
      const { value, announced } = await poolAt(range?.node ?? '').transaction(async (queries, opened) => {
        const held = shard !== undefined && shard.placedHere(opened)
        if (shard !== undefined && !held) placement?.reload()
        const open = createTx(queries, citusShapes === undefined ? undefined : { ...citusShapes, direct: held ? shard : undefined })
        const result = await fn(open.tx)
        await open.flush()
        return { value: result, announced: open.announced() }
      }, shard?.opening)
      if (announced.length > 0) announce(announced)
      return value
    }),

    receiver: (receiverUid) => run(async () => {
      const [row] = await poolNear(receiverUid).rows(SQL.receiver, [receiverUid])
      return row === undefined ? undefined : toReceiverState(row)
    }),

    summary: (receiverUid, deviceId, beforeSortSeq, limit) => run(async () => {
      const read = { receiverUid, deviceId, beforeSortSeq, limit }
      return placement === undefined ? (await readSummaries([read]))[0] as SummaryView : await readSummary(read)
    }),

    page: (query: PageQuery) => run(async () => {
      const values: unknown[] = [query.receiverUid, query.afterSeq, query.now, query.limit]
      if (query.deviceId !== undefined) values.push(query.deviceId)
      if (query.senderUid !== undefined) values.push(query.senderUid)
      const statement = query.deviceId === undefined
        ? (query.senderUid === undefined ? SQL.page : SQL.pageOfSender)
        : (query.senderUid === undefined ? SQL.pageOfDevice : SQL.pageOfDeviceAndSender)
      return (await poolNear(query.receiverUid).arrays(statement, values)).map((row) => toReceiverMessageFromValues(query.receiverUid, row))
    }),

    findPendingLive: (receiverUid, msgId, now, deviceId) => run(async () => {
      const near = poolNear(receiverUid)
      const [row] = deviceId === undefined
        ? await near.rows(SQL.findPendingLive, [receiverUid, msgId, now])
        : await near.rows(SQL.findPendingLiveOfDevice, [receiverUid, msgId, now, deviceId])
      return row === undefined ? undefined : toStoredMessage(row)
    }),

    devices: (receiverUid) => run(async () =>
      (await poolNear(receiverUid).rows(SQL.devices, [receiverUid])).map((row) => ({ ...toDevice(row), pendingCount: toNumber(row.pending_count) }))),

    receiversDueForExpiry: (now, limit) => run(async () =>
      (await pool.rows(SQL.dueForExpiry, [now, limit])).map((row) => String(row.receiver_uid))),

    purgeTombstones: (now, limit) => run(async () => {
      const result = await pool.rows(SQL.purgeTombstones, [now, limit])
      return result.length
    }),

    totalPending: (now) => run(async () => {
      const [row] = await pool.rows(SQL.totalPending, [now])
      return toNumber(row?.pending ?? 0)
    }),

    ping: () => run(async () => { await pool.rows(SQL.ping, []) }),

    durable: () => guard(durability.durable),

    followCommits (feed) {
      listeners.push(listenForCommits(options, instanceId, feed))
    },

    // Two groups at a time: while one waits for its round trips or its commit, the other runs. Measured side by side
    // (autocannon -c 50, 2 cores): two against one, 1.85 times the stores and 1.24 the acks; three or five against
    // two, no more stores and fewer acks (the groups only get smaller). The rest of the pool stays free for reads.
    // On Citus, one group per shard at a time (group commit's partitions: the shard of each receiver), each on its
    // shard's tables on its node, and as many shards at once as the pool allows: README, Scaling out: Citus, for what
    // groups per node on the distributed tables measured against them.
    writeConcurrency: placement === undefined ? Math.min(WRITE_CONCURRENCY, options.poolMax) : options.poolMax,

    partitionOf: placement === undefined ? undefined : (receiverUid) => placement.shardOf(receiverUid),

    statementCounts: () => [...nodePools.values()].reduce((sum, nodePool) => {
      const counts = nodePool.counts()
      return { statements: sum.statements + counts.statements, roundTrips: sum.roundTrips + counts.roundTrips }
    }, pool.counts()),

    close: async () => {
      placement?.close()
      await Promise.all(listeners.map((listener) => listener.close()))
      await Promise.all([pool, ...nodePools.values()].map((each) => each.end()))
    }
  }
}
