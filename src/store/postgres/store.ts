// The production store on PostgreSQL, through knex and pg: a pool of connections, rows locked per receiver
// (transaction.ts), and the migrations run at start or, while the database is down, at its first use. A backend built
// on it (a cluster of nodes) gives its migrations and its Routing: which node serves a receiver, and how.
import { randomUUID } from 'node:crypto'
import type { DatabaseOptions } from '../database.js'
import { StoreUnavailableError } from '../../domain/errors.js'
import { EVENT_FEED_RECHECK_MS } from '../../domain/events.js'
import { storeFailure } from '../errors.js'
import { CHANNEL, commitPayloads, listenForCommits, type CommitListener } from './commit-feed.js'
import { CACHE_FIT, createCacheCheck } from './cache-check.js'
import { createDurabilityCheck } from './durability.js'
import { migratePostgres } from './migrations.js'
import { createPool, type Pipelines, type Queries, type Row, type Statement, type TxQueries } from './pool.js'
import { SQL } from './statements.js'
import { eventMethods } from './event-store.js'
import { createPageReads } from './pages.js'
import { createSummaryReads } from './summaries.js'
import { createTx } from './transaction.js'
import { webhookMethods } from './webhook-statements.js'
import type { TxStatements } from './tx-statements.js'
import { toDevice, toNumber, toReceiverState, toStoredMessage } from '../row-mapper.js'
import type { PageQuery, Store, WriteLanes } from '../types.js'

/** DATABASE_URL with the host and port of a node ('host:port'), all else kept. */
export function urlOfNode (databaseUrl: string, node: string): string {
  const at = node.lastIndexOf(':')
  const url = new URL(databaseUrl)
  const host = node.slice(0, at)
  url.hostname = host.includes(':') ? `[${host}]` : host
  url.port = node.slice(at + 1)
  return url.toString()
}

/**
 * How a backend built on this store serves each receiver: from which node, and a transaction's opening and statements.
 * Without one, everything goes to DATABASE_URL's database, in the plain statements.
 */
export interface Routing {
  /** The node ('host:port') whose database serves this receiver's reads; '' for DATABASE_URL's own. */
  nodeOf (receiverUid: string): string
  /** This receiver's reads on `onNode`, the pool of its node: as they are when absent. */
  readsOf? (receiverUid: string, onNode: Queries): Queries
  /**
   * A transaction of this lane: its node, what it sends after BEGIN, and its statements given what that answered, run
   * on its connection as `queries` runs them (as they are when absent); `openingFailed` says whether an error of the
   * opening means the transaction should run again as the lane-less one.
   */
  transaction (lane: string | undefined): {
    node: string
    opening?: readonly Statement[] | undefined
    statements (opened: readonly Row[]): TxStatements
    queries? (onConnection: TxQueries): TxQueries
    openingFailed? (error: unknown): boolean
  }
  /** Whether summary and page reads that arrive together share one statement (on DATABASE_URL's database, or with readLaneOf as readsOf reads them). */
  readonly batchesReads: boolean
  /** With batchesReads, the lane of a receiver's reads: reads go together with those of their lane only. */
  readLaneOf? (receiverUid: string): string
  /** With readLaneOf, how reads of this receiver's lane run together on `onNode` (its node's pool): as readsOf when absent. */
  readsTogetherOf? (receiverUid: string, onNode: Queries & Pipelines): Pick<Queries, 'arrays'>
  /** The Store's writeLanes, when not the plain store's. */
  readonly writeLanes?: WriteLanes
  /** The settings each connection to a node starts with (createPool's `settings`). */
  readonly nodeSettings?: Readonly<Record<string, string>>
  close (): void
}

export interface PostgresBackend {
  /** Brings the schema up to date (by default migratePostgres). */
  migrate? (options: DatabaseOptions): Promise<void>
  /** The routing, opened once the pool is (`migrated`: the migrations ran at start); undefined for the plain store. */
  route? (pool: Queries, migrated: boolean): Promise<Routing | undefined>
}

// Write groups at once on plain PostgreSQL (why two: at writeLanes below); the pool's other connections read.
const WRITE_CONCURRENCY = 2
/** How long a deferrable announcement may wait for another to go with: a held event-feed request's recheck. */
const DEFERRED_ANNOUNCEMENT_MS = EVENT_FEED_RECHECK_MS

async function guard<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw storeFailure(error)
  }
}

/** The Store of the port. One piece: its methods share the pool and the migration state; each is a few lines. */
export async function createPostgresStore (options: DatabaseOptions, backend: PostgresBackend = {}): Promise<Store> {
  // knex runs the migrations, on a pool of its own for their duration; everything else runs on pg's pool.
  const migrateOnce = async (): Promise<void> => {
    if (backend.migrate !== undefined) await backend.migrate(options)
    else await migratePostgres(options)
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
  // Pipelining: a transaction's BEGIN goes with its first statements, its last writes with its COMMIT (pool.ts).
  const pool = createPool(options, { pipeline: true })
  // Read at start and after each new connection (which a reconnect makes), in the background; a request never waits for it.
  const durability = createDurabilityCheck(async () => (await pool.upkeep(SQL.durability))[0] ?? {}, options.log)
  pool.watch({
    connected: () => { durability.refresh().catch(() => {}) },
    lost: () => { durability.lost() }
  })
  if (migrated !== null) await durability.refresh().catch(() => {})
  const routing = await backend.route?.(pool, migrated !== null)
  // On Citus the tables are the workers' shards, in their own shared_buffers: not read from here.
  const cache = routing === undefined ? createCacheCheck(async () => (await pool.upkeep(CACHE_FIT))[0] ?? {}, options.log) : undefined
  if (migrated !== null) await cache?.check()
  // With a routing, a receiver's transactions and reads go to the node that serves it; DATABASE_URL's pool keeps what
  // crosses nodes (the sweep's choices, the gauge) and the notifications.
  const nodePools = new Map<string, ReturnType<typeof createPool>>()
  const poolAt = (node: string): ReturnType<typeof createPool> => {
    if (node === '') return pool
    let nodePool = nodePools.get(node)
    if (nodePool === undefined) {
      // Pipelining, for the statements of several shards of the node at once (Routing.readsTogetherOf, and the
      // transactions that Routing.transaction cuts by shard).
      nodePool = createPool({ ...options, databaseUrl: urlOfNode(options.databaseUrl, node) }, { pipeline: true, settings: routing?.nodeSettings })
      nodePools.set(node, nodePool)
    }
    return nodePool
  }
  /** This receiver's reads: on the pool of the node that serves it (DATABASE_URL's without a routing), as the routing words them. */
  const readsOf = (receiverUid: string): Queries => {
    if (routing === undefined) return pool
    const onNode = poolAt(routing.nodeOf(receiverUid))
    return routing.readsOf?.(receiverUid, onNode) ?? onNode
  }
  // Names this instance in its NOTIFY payloads, so that its own commits (woken in process) are not heard twice.
  const instanceId = randomUUID()
  const listeners: CommitListener[] = []
  // After the commit, not inside the transaction: a transaction that notifies holds a lock of the whole server from its
  // NOTIFY until its commit is flushed, so notifying groups would commit one at a time. A notification on its own writes
  // nothing and holds that lock for no fsync. Nobody waits for it: a wake-up lost in a crash costs a held request its
  // wait (it answers the empty page when its time is up), never a message.
  const send = (receiverUids: readonly string[]): Promise<void> =>
    pool.rows(SQL.announce, [CHANNEL, commitPayloads(instanceId, receiverUids)]).then(() => {}, (error: unknown) => {
      options.log?.('warn', `could not announce stored messages to the other instances: ${error instanceof Error ? error.message : String(error)}`)
    })
  // Deferrable announcements (the event feed's, after a write that stores nothing) go with the next announcement, or
  // alone DEFERRED_ANNOUNCEMENT_MS after the first of them: at most one NOTIFY of their own in that time, where each
  // group of acks sent one (measured: bench/README.md, "Events on and off").
  const deferred = new Set<string>()
  let deferredTimer: NodeJS.Timeout | undefined
  const withDeferred = (receiverUids: readonly string[]): string[] => {
    clearTimeout(deferredTimer)
    deferredTimer = undefined
    const all = [...new Set([...receiverUids, ...deferred])]
    deferred.clear()
    return all
  }
  const announce = ({ now, deferrable }: { now: readonly string[], deferrable: readonly string[] }): void => {
    for (const receiverUid of deferrable) deferred.add(receiverUid)
    if (now.length > 0) void send(withDeferred(now))
    else if (deferred.size > 0 && deferredTimer === undefined) deferredTimer = setTimeout(() => { void send(withDeferred([])) }, DEFERRED_ANNOUNCEMENT_MS)
  }
  // The pool's connections left for reads beside the write groups: how many reads run at once before the rest wait and go together.
  const readConnections = Math.max(1, options.poolMax - WRITE_CONCURRENCY)
  const togetherOn = routing?.readsTogetherOf?.bind(routing)
  const readsTogetherOf = routing === undefined || togetherOn === undefined
    ? undefined
    : (receiverUid: string) => togetherOn(receiverUid, poolAt(routing.nodeOf(receiverUid)))
  const reads = { pool, readsOf, concurrency: readConnections, laneOf: routing?.readLaneOf, togetherOf: readsTogetherOf }
  const summaries = createSummaryReads(reads)
  const pages = createPageReads(reads)
  const batchesReads = routing === undefined || routing.batchesReads
  // Two groups at a time: while one waits for its round trips or its commit, the other runs. More at once only cut the
  // same calls into smaller groups, each paying its own round trips and commit (measured: bench/README.md, comparing
  // the stores, four write groups at once against two). The rest of the pool stays free for reads.
  const writeLanes: WriteLanes = routing?.writeLanes ?? { concurrency: Math.min(WRITE_CONCURRENCY, options.poolMax) }
  const run = <T>(work: () => Promise<T>): Promise<T> => guard(async () => {
    await ensureSchema()
    return await work()
  })

  return {
    // With a routing, on the node it names, opened as it says, in the statements it gives.
    transaction: (fn, lane) => run(async () => {
      let started = false
      const attempt = async (plan: ReturnType<Routing['transaction']> | undefined) =>
        await poolAt(plan?.node ?? '').transaction(async (queries, opened) => {
          started = true
          const open = createTx(plan?.queries?.(queries) ?? queries, plan?.statements(opened))
          const result = await fn(open.tx)
          await open.close()
          return { value: result, announced: open.announced() }
        }, plan?.opening)
      const plan = routing?.transaction(lane)
      let outcome: Awaited<ReturnType<typeof attempt>>
      try {
        outcome = await attempt(plan)
      } catch (error) {
        // Only an opening that failed before fn ran: fn runs once.
        if (started || plan?.openingFailed?.(error) !== true) throw error
        outcome = await attempt(routing?.transaction(undefined))
      }
      announce(outcome.announced)
      return outcome.value
    }),

    receiver: (receiverUid) => run(async () => {
      const [row] = await readsOf(receiverUid).rows(SQL.receiver, [receiverUid])
      return row === undefined ? undefined : toReceiverState(row)
    }),

    summary: (receiverUid, deviceId, beforeSortSeq, limit) => run(async () => {
      const read = { receiverUid, deviceId, beforeSortSeq, limit }
      return batchesReads ? await summaries.together(read) : await summaries.alone(read)
    }),

    page: (query: PageQuery) => run(async () => batchesReads ? await pages.together(query) : await pages.alone(query)),

    findPendingLive: (receiverUid, msgId, now, deviceId) => run(async () => {
      const receiverPool = readsOf(receiverUid)
      const [row] = deviceId === undefined
        ? await receiverPool.rows(SQL.findPendingLive, [receiverUid, msgId, now])
        : await receiverPool.rows(SQL.findPendingLiveOfDevice, [receiverUid, msgId, now, deviceId])
      return row === undefined ? undefined : toStoredMessage(row)
    }),

    devices: (receiverUid) => run(async () =>
      (await readsOf(receiverUid).rows(SQL.devices, [receiverUid])).map((row) => ({ ...toDevice(row), pendingCount: toNumber(row.pending_count) }))),

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

    ...eventMethods(pool, run),

    ...webhookMethods(pool, run),

    ping: () => run(async () => { await pool.rows(SQL.ping, []) }),

    durable: () => guard(durability.durable),

    followCommits (feed) {
      listeners.push(listenForCommits(options, instanceId, feed))
    },

    writeLanes,

    statementCounts: () => [...nodePools.values()].reduce((sum, nodePool) => {
      const counts = nodePool.counts()
      return { statements: sum.statements + counts.statements, roundTrips: sum.roundTrips + counts.roundTrips }
    }, pool.counts()),

    close: async () => {
      if (deferred.size > 0) await send(withDeferred([]))
      cache?.close()
      routing?.close()
      await Promise.all(listeners.map((listener) => listener.close()))
      await Promise.all([pool, ...nodePools.values()].map((each) => each.end()))
    }
  }
}
