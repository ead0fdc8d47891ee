// What every part of the service shares (DomainContext), and its write transactions: what a transaction did is counted
// as it goes and reported to the metrics only after COMMIT.
import type { Store, StoreTx } from '../store/types.js'
import type { MessageEvents, MessageRules, ReceiverState } from './model.js'
import { createEventLog, type EventLog, type EventRecord } from './events.js'

/** What a write transaction did: counts for the metrics, and the events it records (a log of nothing with EVENTS=off). */
export interface Tally {
  stored: number, duplicates: number, acked: number, expired: number, dropped: number, superseded: number, recalled: number, erased: number
  events: EventLog
}

/** Runs fn in one write transaction, in the write lane of `receiverUid`, one of its receivers (Store.writeLanes). */
export type Write = <T>(fn: (tx: StoreTx, tally: Tally) => Promise<T>, receiverUid?: string) => Promise<T>

/** What every part of the service shares: the store, the rules, the clock and the way to write. */
export interface DomainContext {
  store: Store
  rules: MessageRules
  clock: () => number
  write: Write
}

function report (events: MessageEvents, tally: Tally): void {
  if (tally.stored > 0) events.stored(tally.stored)
  if (tally.duplicates > 0) events.duplicates(tally.duplicates)
  if (tally.acked > 0) events.acked(tally.acked)
  if (tally.expired > 0) events.expired(tally.expired)
  if (tally.dropped > 0) events.dropped(tally.dropped)
  if (tally.superseded > 0) events.superseded(tally.superseded)
  if (tally.recalled > 0) events.recalled(tally.recalled)
  if (tally.erased > 0) events.erased(tally.erased)
}

function reportRecorded (events: MessageEvents, records: readonly EventRecord[]): void {
  if (records.length === 0 || events.recorded === undefined) return
  const byType = new Map<string, number>()
  for (const record of records) byType.set(record.type, (byType.get(record.type) ?? 0) + 1)
  for (const [type, count] of byType) events.recorded(type, count)
}

/** The receiver_uid under which the event feed's held requests wait (no receiver has an empty uid). */
export const EVENT_FEED_WAKEUP = ''

export interface WriteOptions { recording?: boolean, clock?: () => number, recorded?: () => void }

/** The transaction, noting in `saved` each receiver's row as it last saved it (a copy: the domain changes its states). */
function savingInto (tx: StoreTx, saved: Map<string, ReceiverState>): StoreTx {
  return {
    ...tx,
    async saveReceivers (states) {
      for (const state of states) saved.set(state.receiverUid, { ...state })
      await tx.saveReceivers(states)
    }
  }
}

/**
 * With `recording` (EVENTS=on), the events a transaction gathered are written by one insertEvents at its end, still
 * inside it, and announced to the other instances' feeds; without, nothing is gathered and no statement is added.
 * `recorded` hears of them after the commit (the feed's held requests).
 */
export function createWrite (store: Store, events: MessageEvents, { recording = false, clock = Date.now, recorded = () => {} }: WriteOptions = {}): Write {
  const { laneOf } = store.writeLanes
  return async (fn, receiverUid) => {
    const tally: Tally = { stored: 0, duplicates: 0, acked: 0, expired: 0, dropped: 0, superseded: 0, recalled: 0, erased: 0, events: createEventLog(recording) }
    let records: EventRecord[] = []
    const result = await store.transaction(async (tx) => {
      const saved = new Map<string, ReceiverState>()
      const value = await fn(recording ? savingInto(tx, saved) : tx, tally)
      records = tally.events.records(saved)
      if (records.length > 0) {
        await tx.insertEvents(records, clock())
        // Free with the receivers a store announces; after a write that stores nothing, one NOTIFY a group cost acks a
        // fifth of their rate on PostgreSQL: it may wait for the next announcement (bench/README.md, "Events on and off").
        await tx.announceStored([EVENT_FEED_WAKEUP], { deferrable: true })
      }
      return value
    }, receiverUid === undefined ? undefined : laneOf?.(receiverUid))
    report(events, tally)
    reportRecorded(events, records)
    if (records.length > 0) recorded()
    return result
  }
}

export const secondsToMillis = (seconds: number): number => seconds * 1000

/** Until when a message acked now keeps its tombstone; null when the dedup window is 0 (no tombstones). */
export const tombstoneUntil = (rules: MessageRules, now: number): number | null =>
  rules.dedupWindowSeconds > 0 ? now + secondsToMillis(rules.dedupWindowSeconds) : null
