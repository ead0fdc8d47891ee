// TTL: expired messages are removed (counted as lost, no tombstone) when their receiver is next written or read,
// and by the periodic sweep in bounded batches.
import type { GroupKeys, StoreTx } from '../store/types.js'
import { applyRemoval } from './summary-rows.js'
import type { ReceiverState, SweepResult } from './model.js'
import { secondsToMillis, type DomainContext, type Tally } from './context.js'

// A write purges its receivers' expired messages completely: their quota and summary must be exact.
const NO_LIMIT = 1_000_000_000

/** Whether a receiver may hold expired messages: nextExpiry is a lower bound of its earliest expiry. */
export const isDue = (receiver: ReceiverState | undefined, now: number): boolean =>
  receiver !== undefined && receiver.nextExpiry !== null && receiver.nextExpiry <= now

/**
 * Deletes the locked receivers' expired messages, at most `limit` of each (no tombstone: their ids may be stored
 * again), and counts them lost. All the due receivers of a group at once: one statement on PostgreSQL.
 */
async function purgeExpired (tx: StoreTx, receivers: readonly ReceiverState[], now: number, tally: Tally, limit: number): Promise<ReceiverState[]> {
  const due = receivers.filter((receiver) => isDue(receiver, now))
  if (due.length === 0) return due
  const { removed, summaryRows, nextExpiry } = await tx.removeExpired(due.map((receiver) => receiver.receiverUid), now, limit)
  if (removed.length > 0) {
    await applyRemoval(tx, new Map(due.map((receiver) => [receiver.receiverUid, receiver])), removed, 'lost', { known: summaryRows })
    tally.expired += removed.length
    tally.events.lost('message.expired', removed, now)
  }
  // A receiver with expired messages left (a full batch) stays due, so that the sweep comes back.
  for (const receiver of due) {
    const next = nextExpiry.get(receiver.receiverUid)
    if (next !== undefined) receiver.nextExpiry = next
  }
  return due
}

/** Receivers locked by lockAndPurge, and those of them whose expired messages it removed (their state changed). */
export interface Locked { receivers: Map<string, ReceiverState>, purged: ReceiverState[] }

/**
 * Locks receivers in one global (sorted) order, so that writers never deadlock, and purges their expired messages.
 * Without create, receivers the store has never seen are left out (an ack makes no row). The purge changes the
 * receivers' counts: a write saves them with its own changes, or, when it ends with nothing else to write, saves the
 * purged ones (savePurged), lest the quota keep counting messages that are gone.
 */
export async function lockAndPurge (
  tx: StoreTx, receiverUids: readonly string[], now: number, tally: Tally, options: { create?: boolean, find?: GroupKeys } = {}
): Promise<Locked> {
  const receivers = await tx.lockReceivers([...new Set(receiverUids)].sort(), options)
  const purged = await purgeExpired(tx, receivers, now, tally, NO_LIMIT)
  return { receivers: new Map(receivers.map((receiver) => [receiver.receiverUid, receiver])), purged }
}

/** For a write that ends without saving its receivers: saves those whose expired messages lockAndPurge removed. */
export async function savePurged (tx: StoreTx, { purged }: Locked): Promise<void> {
  if (purged.length > 0) await tx.saveReceivers(purged)
}

async function lockAndPurgeOne (tx: StoreTx, receiverUid: string, now: number, tally: Tally): Promise<ReceiverState> {
  const receiver = (await lockAndPurge(tx, [receiverUid], now, tally)).receivers.get(receiverUid)
  if (receiver === undefined) throw new Error(`the store locked no row for receiver ${receiverUid}`)
  return receiver
}

export function createExpiry ({ store, rules, clock, write }: DomainContext) {
  return {
    /** Removes a receiver's expired messages now, so that what is read next counts them as lost. */
    async purgeNow (receiverUid: string, now: number): Promise<void> {
      await write(async (tx, tally) => {
        await tx.saveReceivers([await lockAndPurgeOne(tx, receiverUid, now, tally)])
      }, receiverUid)
    },

    /** One round of the periodic sweep: stale tombstones, then receivers with expired messages, each in a bounded transaction. */
    async sweep (): Promise<SweepResult> {
      const now = clock()
      const tombstones = await store.purgeTombstones(now, rules.sweepBatchSize)
      // Events are kept EVENT_RETENTION_SECONDS, recorded or not now (EVENTS may have been on before).
      const events = rules.eventRetentionSeconds === undefined ? 0 : await store.purgeEvents(now - secondsToMillis(rules.eventRetentionSeconds), rules.sweepBatchSize)
      await store.indexEvents(rules.sweepBatchSize)
      const due = await store.receiversDueForExpiry(now, rules.sweepBatchSize)
      for (const receiverUid of due) {
        await write(async (tx, tally) => {
          const [receiver] = await tx.lockReceivers([receiverUid])
          if (receiver === undefined) return
          await purgeExpired(tx, [receiver], now, tally, rules.sweepBatchSize)
          await tx.saveReceivers([receiver])
        }, receiverUid)
      }
      return { tombstones, receivers: due.length, events }
    }
  }
}
