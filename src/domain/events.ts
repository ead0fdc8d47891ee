// Events: what became of each message, gathered by a write transaction as the domain makes its changes and written by
// the store in the same transaction (context.ts), so that an event exists if and only if its change committed.
import type { PendingMessage, ReceiverState, RemovedMessage } from './model.js'
import { previewOf } from './summary-rows.js'
import { RECEIVER_READER, readerList } from './readers.js'
import { mapKey } from '../lib/map-key.js'

export type EventType = 'message.stored' | 'message.delivered' | 'message.expired' | 'message.dropped' | 'message.unlinked' |
  'message.superseded' | 'message.recalled' | 'receiver.erased'

/**
 * An event whose transaction committed may stay out of the feed while an older transaction is still running
 * (PostgreSQL): a woken request that still reads nothing, or one whose read found events held back, looks again this
 * often until it is served or its time is up (event-feed.ts); the store's deferrable announcements wait as long.
 */
export const EVENT_FEED_RECHECK_MS = 25

/** Whose count an event's pending_count is when it names no device: every stored message of the receiver. */
export const ALL_READERS = -1

/**
 * An event as the domain records it. The store fills in what only the database knows at the end of the transaction:
 * the device id of a reader's slot and the pending count, less what changes recorded after this one moved it.
 */
export interface EventRecord {
  type: EventType
  occurredAt: number
  receiverUid: string
  /** Whose pending count it carries: ALL_READERS, the receiver itself (0) or a device's slot. */
  reader: number
  /** The device, given where the store can no longer find it by its slot (it was unregistered in this transaction). */
  deviceId: string | null
  /** The message's; null for receiver.erased, which concerns no message. */
  senderUid: string | null
  msgId: string | null
  seq: number | null
  /** message.stored only: its type, its preview, and the readers it is pending for (the store names their devices). */
  msgType: number | null
  contentPreview: string | null
  readers: number | null
  /** How much the changes recorded after this one, in the same transaction, moved its reader's pending count. */
  later: number
  /**
   * The pending count after the change, where the domain knows it: the receiver's own count (ALL_READERS, or the
   * receiver itself while it has no device) from the receiver's row as the transaction last saved it, less `later`.
   * null: the store reads it.
   */
  pendingCount: number | null
  /** message.stored: its readers' devices where the domain knows them (none, for a receiver without devices); null: the store names them. */
  devices: readonly string[] | null
}

/** Whether the record gives everything its event needs, so that the store writes it as it is, with no lookup. */
export const givesAll = (r: EventRecord): boolean =>
  r.pendingCount !== null && (r.deviceId !== null || r.reader <= 0) && (r.readers === null || r.devices !== null)

/** A recorded event as the feed serves it; `position` is the store's own, opaque to everything above it. */
export interface EventView {
  position: string
  id: string
  type: EventType
  occurredAt: number
  receiverUid: string
  deviceId: string | null
  /** null for receiver.erased, which concerns no message. */
  senderUid: string | null
  msgId: string | null
  seq: number | null
  pendingCount: number
  msgType: number | null
  contentPreview: string | null
  devices: string[] | null
}

type Delta = readonly [reader: number, change: number]

/** What one write transaction records; a log that records nothing where EVENTS=off. */
export interface EventLog {
  stored (message: PendingMessage, now: number): void
  /** Messages acked: one event per message and reader that acked it. */
  delivered (removed: readonly RemovedMessage[], now: number): void
  /** Messages lost: one event per message and reader it was pending for (an expired one at its expiry time). */
  lost (type: 'message.expired' | 'message.dropped', removed: readonly RemovedMessage[], now: number): void
  /** Messages taken from a device that was unregistered. */
  unlinked (removed: readonly RemovedMessage[], deviceId: string, now: number): void
  /** Messages removed for every reader by a newer one of their collapse key, or by their sender: one event per message, device_id null. */
  withdrawn (type: 'message.superseded' | 'message.recalled', removed: readonly RemovedMessage[], now: number): void
  /** The receiver erased: its one event (its others are deleted with it). */
  erased (receiverUid: string, now: number): void
  /** Whether anything is recorded (EVENTS=on). */
  readonly recording: boolean
  /**
   * The records, each with its `later`, in the order they were made; with `saved`, the receivers' rows as the
   * transaction last saved them, the pending counts and devices those tell.
   */
  records (saved?: ReadonlyMap<string, ReceiverState>): EventRecord[]
}

const NO_RECORDS: EventLog = { stored () {}, delivered () {}, lost () {}, unlinked () {}, withdrawn () {}, erased () {}, records: () => [], recording: false }

export function createEventLog (recording: boolean): EventLog {
  if (!recording) return NO_RECORDS
  const made: Array<{ record: EventRecord, deltas: Delta[] }> = []
  const base = (type: EventType, key: RemovedMessage | PendingMessage, reader: number, occurredAt: number): EventRecord => ({
    type, occurredAt, receiverUid: key.receiverUid, reader, deviceId: null, senderUid: key.senderUid, msgId: key.msgId, seq: key.seq,
    msgType: null, contentPreview: null, readers: null, later: 0, pendingCount: null, devices: null
  })
  // An erased receiver has no row left: the store answers its count (0).
  const erased = new Set<string>()
  /** One event per reader taken from the message; the receiver's count moves once, on the first, if none is left. */
  const perReader = (removed: readonly RemovedMessage[], make: (key: RemovedMessage, reader: number) => EventRecord, readerMoves = true): void => {
    for (const key of removed) {
      readerList(key.readers).forEach((reader, index) => {
        const deltas: Delta[] = readerMoves ? [[reader, -1]] : []
        if (index === 0 && key.remaining === 0) deltas.push([ALL_READERS, -1])
        made.push({ record: make(key, reader), deltas })
      })
    }
  }
  return {
    stored (message, now) {
      made.push({
        record: { ...base('message.stored', message, ALL_READERS, now), msgType: message.msgType, contentPreview: previewOf(message.content), readers: message.readers },
        deltas: [[ALL_READERS, 1], ...readerList(message.readers).map((reader): Delta => [reader, 1])]
      })
    },
    delivered (removed, now) {
      perReader(removed, (key, reader) => base('message.delivered', key, reader, now))
    },
    lost (type, removed, now) {
      perReader(removed.map((key) => ({ ...key, remaining: 0 })), (key, reader) => base(type, key, reader, type === 'message.expired' ? key.expiresAt : now))
    },
    withdrawn (type, removed, now) {
      // Counted as the receiver's: pending_count is what it has left; every reader it had loses it.
      for (const key of removed) {
        made.push({ record: base(type, key, ALL_READERS, now), deltas: [[ALL_READERS, -1], ...readerList(key.readers).map((reader): Delta => [reader, -1])] })
      }
    },
    erased (receiverUid, now) {
      erased.add(receiverUid)
      made.push({
        record: {
          type: 'receiver.erased', occurredAt: now, receiverUid, reader: ALL_READERS, deviceId: null, senderUid: null, msgId: null, seq: null,
          msgType: null, contentPreview: null, readers: null, later: 0, pendingCount: null, devices: null
        },
        deltas: []
      })
    },
    recording: true,
    unlinked (removed, deviceId, now) {
      // The device leaves at once, with all it had: each event says it has nothing pending any more.
      perReader(removed, (key, reader) => ({ ...base('message.unlinked', key, reader, now), deviceId }), false)
    },
    records (saved = new Map()) {
      const later = new Map<string, number>()
      for (let i = made.length - 1; i >= 0; i--) {
        const { record, deltas } = made[i] as { record: EventRecord, deltas: Delta[] }
        record.later = later.get(mapKey(record.receiverUid, record.reader)) ?? 0
        for (const [reader, change] of deltas) later.set(mapKey(record.receiverUid, reader), (later.get(mapKey(record.receiverUid, reader)) ?? 0) + change)
        const receiver = erased.has(record.receiverUid) ? undefined : saved.get(record.receiverUid)
        if (receiver === undefined) continue
        // Without devices every message is pending for the receiver alone: its own count is the receiver's.
        if (record.reader === ALL_READERS || (record.reader === RECEIVER_READER && receiver.devices === 0)) record.pendingCount = receiver.pendingCount - record.later
        if (record.type === 'message.stored' && receiver.devices === 0) record.devices = []
      }
      return made.map(({ record }) => record)
    }
  }
}
