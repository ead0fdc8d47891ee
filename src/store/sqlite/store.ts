// The embedded store: prepared better-sqlite3 statements on one connection, every operation run in turn.
import type { Database } from 'better-sqlite3'
import { StoreFullError, StoreUnavailableError } from '../../domain/errors.js'
import { createBatcher } from '../../lib/batcher.js'
import { createKnex, sqliteFilename } from '../backends.js'
import { migrate, type DatabaseOptions } from '../database.js'
import { isFull, storeFailure } from '../errors.js'
import { RECEIVER_READER, bitOf } from '../../domain/readers.js'
import { toDevice, toNumber, toReceiverMessageFromValues, toReceiverState, toStoredMessageFromValues, toReaderSummaryRowFromValues } from '../row-mapper.js'
import { startWalCheckpointer } from './checkpointer.js'
import { openDiskReserve, type DiskReserve } from './disk-reserve.js'
import { all, one, prepareStatements, value, values } from './statements.js'
import { createSqliteTx } from './transaction.js'
import { createWalSync } from './wal-sync.js'
import { webhookMethods } from './webhook-statements.js'
import { eventMethods } from './event-store.js'
import type { Store, StoreTx } from '../types.js'

const CHECKPOINT_INTERVAL_MS = 200

function guardSync<T> (work: () => T): T {
  try {
    return work()
  } catch (error) {
    throw storeFailure(error)
  }
}

type Outcome = { ok: true, value: unknown } | { ok: false, error: unknown }

/** A read's result or its failure, as the store reports it: one read of a group failing does not fail the others. */
function settle (work: () => unknown): Outcome {
  try {
    return { ok: true, value: guardSync(work) }
  } catch (error) {
    return { ok: false, error }
  }
}

// How many reads one read transaction takes: about 2 ms of the event loop for summaries of 50 senders.
const MAX_READS_TOGETHER = 64

/** One connection, one operation at a time: a read never sees a write transaction that has not committed. */
function createSerialQueue () {
  let queue: Promise<unknown> = Promise.resolve()
  return function serial<T> (work: () => Promise<T> | T): Promise<T> {
    const run = async () => await work()
    const result = queue.then(run, run)
    queue = result.catch(() => undefined)
    return result
  }
}

interface Durability {
  /** Notes a COMMIT whose frames are in the WAL, not yet on disk. */
  committed (): void
  /** Resolves once everything committed so far is on disk. */
  durable (): Promise<void>
  close (): Promise<void>
}

/**
 * A file database gets its durability from an fsync of the WAL before each answer (see wal-sync.ts), so COMMIT
 * itself need not block the event loop on the disk. Checkpoints (copying the WAL into the database file, with an
 * fsync) run mostly in a worker thread: when a COMMIT reaches the auto-checkpoint size, the worker has usually copied
 * everything already, so the serving connection only resets the WAL (which it alone can do while it keeps writing)
 * and does no copy and no fsync itself. An in-memory database has nothing to make durable.
 */
function openDurability (db: Database, filename: string, options: DatabaseOptions): Durability {
  if (filename === ':memory:') return { committed () {}, durable: async () => {}, close: async () => {} }
  const walSync = createWalSync(filename)
  db.pragma('synchronous = NORMAL')
  const checkpointer = startWalCheckpointer(filename, CHECKPOINT_INTERVAL_MS, (message) => { options.log?.('warn', `WAL checkpoint: ${message}`) })
  return {
    committed: () => { walSync.committed() },
    async durable () {
      try {
        await walSync.durable()
      } catch (error) {
        throw isFull(error) ? new StoreFullError(error) : new StoreUnavailableError(error)
      }
    },
    async close () {
      await checkpointer.close()
      await walSync.close()
    }
  }
}

/**
 * While the disk is full, a transaction that would add messages fails before it writes anything (507), so that the
 * released reserve is left to acks, deletes and the sweep, which make room. A duplicate adds nothing and still answers.
 */
function refuseNewMessagesWhenFull (tx: StoreTx, reserve: DiskReserve): StoreTx {
  return {
    ...tx,
    async insertMessages (messages) {
      if (reserve.full && messages.length > 0) throw new StoreFullError(undefined)
      await tx.insertMessages(messages)
    }
  }
}

/**
 * The Store of the port. One piece: its methods share the connection, the statements, the queue and the durability;
 * each is a few lines.
 */
export async function createSqliteStore (options: DatabaseOptions): Promise<Store> {
  // knex runs the shared migrations; then its single pooled connection is held for the store's lifetime,
  // which is also what keeps an in-memory database alive.
  const knex = createKnex(options)
  let db: Database
  try {
    await migrate(knex)
    db = await knex.client.acquireConnection() as Database
  } catch (error) {
    await knex.destroy()
    throw error
  }
  // A larger page cache than the 2 MiB default; no memory mapping, whose pages would count in the process's RSS.
  db.pragma('cache_size = -16384')
  const filename = sqliteFilename(options.databaseUrl)
  const durability = openDurability(db, filename, options)
  const reserve: DiskReserve = filename === ':memory:'
    ? { full: false, exhausted () {}, recheck: async () => {} }
    : await openDiskReserve(filename, options.reserveBytes ?? 0, (level, message) => { options.log?.(level, message) })
  const counts = { statements: 0 }
  const s = prepareStatements(db, counts)
  const tx = refuseNewMessagesWhenFull(createSqliteTx(s), reserve)
  const serial = createSerialQueue()
  /** The bit of the reader a read is for: the receiver itself, or its device (null when that is not registered). */
  const readerBitOf = (receiverUid: string, deviceId: string | undefined): number | null => {
    if (deviceId === undefined) return bitOf(RECEIVER_READER)
    const slot = value(s.deviceSlot, receiverUid, deviceId)
    return slot === null ? null : bitOf(slot)
  }
  // Reads that arrive together run back to back in one read transaction: each statement alone would take and release
  // the WAL's read lock (system calls), and between two requests' reads the HTTP work in between leaves SQLite's code
  // and pages cold. A read alone runs as it is. Each read gets its own outcome: one that fails fails alone.
  const readGroup = createBatcher(async (works: ReadonlyArray<() => unknown>) => await serial(() => {
    if (works.length === 1) return [settle(works[0] as () => unknown)]
    // A failure of the group's own BEGIN or COMMIT fails each of its reads, as the store reports failures.
    guardSync(() => s.beginRead.run())
    try {
      return works.map(settle)
    } finally {
      if (db.inTransaction) guardSync(() => s.commit.run())
    }
  }), MAX_READS_TOGETHER)
  // A read waits until what it may have seen is on disk: no answer ever shows a message that a power loss could take back.
  const read = async <T>(work: () => T): Promise<T> => {
    const [outcome] = await readGroup([work])
    await durability.durable()
    if (outcome === undefined || !outcome.ok) throw outcome?.error
    return outcome.value as T
  }

  const transaction: Store['transaction'] = async (fn) => {
    await reserve.recheck()
    const result = await serial(async () => {
      guardSync(() => s.begin.run())
      try {
        const value = await fn(tx)
        guardSync(() => s.commit.run())
        durability.committed()
        return value
      } catch (error) {
        if (db.inTransaction) s.rollback.run()
        const failure = storeFailure(error)
        if (failure instanceof StoreFullError) reserve.exhausted()
        throw failure
      }
    })
    // The answer waits for the fsync; the next transactions run meanwhile and share it.
    await durability.durable()
    return result
  }

  /** A synchronous piece of work in a write transaction of its own (the feed's upkeep, the webhook's row). */
  const write = async <T>(work: () => T): Promise<T> => await transaction(async () => work())


  return {
    transaction,

    receiver: (receiverUid) => read(() => {
      const row = one(s.receiver, receiverUid)
      return row === undefined ? undefined : toReceiverState(row)
    }),

    summary: (receiverUid, deviceId, beforeSortSeq, limit) => read(() => {
      const row = one(s.receiver, receiverUid)
      const receiver = row === undefined ? undefined : toReceiverState(row)
      const slot = deviceId === undefined ? RECEIVER_READER : value(s.deviceSlot, receiverUid, deviceId)
      const summaryRows = slot === null ? [] : (s.summary.all(receiverUid, slot, beforeSortSeq ?? Number.MAX_SAFE_INTEGER, limit) as unknown[][])
        .map((values) => toReaderSummaryRowFromValues(receiverUid, slot, values))
      if (deviceId === undefined) return { receiver, rows: summaryRows }
      return { receiver, rows: summaryRows, device: { slot, pendingCount: slot === null ? 0 : value(s.readerPending, receiverUid, slot) ?? 0 } }
    }),

    page: (query) => read(() => {
      const bit = readerBitOf(query.receiverUid, query.deviceId)
      if (bit === null) return []
      return ((query.senderUid === undefined
        ? s.page.all(query.receiverUid, query.afterSeq, query.now, bit, query.limit)
        : s.pageOfSender.all(query.receiverUid, query.senderUid, query.afterSeq, query.now, bit, query.limit)
      ) as unknown[][]).map((values) => toReceiverMessageFromValues(query.receiverUid, values))
    }),

    findPendingLive: (receiverUid, msgId, now, deviceId) => read(() => {
      const bit = readerBitOf(receiverUid, deviceId)
      const row = bit === null ? undefined : values(s.findPendingLive, receiverUid, msgId, now, bit)
      return row === undefined ? undefined : toStoredMessageFromValues(row)
    }),

    devices: (receiverUid) => read(() => all(s.devices, receiverUid).map((row) => ({ ...toDevice(row), pendingCount: toNumber(row.pending_count) }))),

    receiversDueForExpiry: (now, limit) => read(() => all(s.dueForExpiry, now, limit).map((row) => String(row.receiver_uid))),

    purgeTombstones: (now, limit) => serial(() => guardSync(() => s.purgeTombstones.run(now, limit).changes)),

    totalPending: (now) => read(() => (value(s.sumPending) ?? 0) - (value(s.expiredUnswept, now, now) ?? 0)),

    ...eventMethods(s, write, read),

    ...webhookMethods(s, write, read),

    followCommits () {},

    // One connection writes at a time: groups wait for each other.
    writeLanes: { concurrency: 1 },

    // In process: no statement waits for a network round trip.
    statementCounts: () => ({ statements: counts.statements, roundTrips: 0 }),

    // Ready means writable too: while the disk is full, readiness names it.
    // The store fsyncs the WAL before each answer (wal-sync.ts), whatever the database's own settings.
    durable: async () => true,

    ping: async () => {
      await reserve.recheck()
      await read(() => { one(s.ping) })
      if (reserve.full) throw new StoreFullError(undefined)
    },

    close: () => serial(async () => {
      await durability.close()
      await knex.client.releaseConnection(db)
      await knex.destroy()
    })
  }
}
