// The domain's own words: messages, receivers, summary rows, ack selectors and the commands and results of the service.
import type { Hangup } from './waiting.js'

/** What the sender writes into a message and the service keeps as it is, from the request to the stored message. */
export interface MessagePayload {
  senderUid: string
  msgType: number
  content: string
  /** Only the newest pending message of a receiver, sender and collapse key stays; null for a message without one. */
  collapseKey: string | null
}

/** A message as it lives in the store (pending, or kept as a tombstone after its ack); times are epoch milliseconds. */
export interface StoredMessage extends MessagePayload {
  receiverUid: string
  seq: number
  msgId: string
  sendTime: number
  storedAt: number
  expiresAt: number
}

/**
 * A message as it is inserted: with the readers it is pending for, one bit each (bit 0 for the receiver without devices,
 * bit k for its device in slot k).
 */
export interface PendingMessage extends StoredMessage {
  readers: number
}

/** An acknowledged message, kept until purgeAt so that a late retry of its store is still a duplicate. */
export interface Tombstone {
  message: StoredMessage
  purgeAt: number
}

/** The per-receiver row every write locks: it serialises seq assignment and holds the pending count. */
export interface ReceiverState {
  receiverUid: string
  lastSeq: number
  pendingCount: number
  /** A lower bound of the earliest expiry among pending messages; null when none is pending. */
  nextExpiry: number | null
  /** The bits of the registered devices' slots (bit k for slot k); 0 while the receiver has no device. */
  devices: number
}

/** A registered device: its slot is its reader number, 1 to 30, and its bit in each message's readers. */
export interface Device {
  receiverUid: string
  deviceId: string
  slot: number
  registeredAt: number
  lastAckAt: number | null
}

/** A device with the number of messages still pending for it. */
export interface DeviceView extends Device {
  pendingCount: number
}

/** What the summary shows of a sender's latest pending message: no body, only the start of its content. */
export interface LastMessage {
  seq: number
  sendTime: number
  msgType: number
  /** The content cut to the preview length, counted in Unicode code points. */
  preview: string
}

/**
 * One row of the lazy-load summary, kept up to date by every write. It carries its latest pending message's
 * preview, so that the summary reads this table alone: one row per sender, never the messages.
 */
export interface SummaryRow {
  receiverUid: string
  /** Whose summary row: 0 for the receiver without devices, else the device's slot. */
  reader: number
  senderUid: string
  pendingCount: number
  /** The sender's pending message with the highest seq; null when only lost messages remain. */
  last: LastMessage | null
  /** Order of the summary: last.seq, or the seq of the last lost message when nothing is pending. */
  sortSeq: number
  lostCount: number
  /** Highest seq among the messages counted in lostCount. */
  lostSeq: number | null
}

/** A message an ack, expiry or drop took from some or all of its readers: what a removal does to each summary row is counted from these. */
export interface RemovedMessage {
  receiverUid: string
  seq: number
  senderUid: string
  msgId: string
  expiresAt: number
  /** The readers (bits) it left: those that acked it, or, when it was lost, all it was pending for. */
  readers: number
  /** The readers it is still pending for; 0 once it is deleted. */
  remaining: number
}

/** Which of a receiver's pending messages an ack takes. */
export type AckSelector =
  | { kind: 'ids', msgIds: readonly string[] }
  | { kind: 'up-to', upToSeq: number, senderUid?: string | undefined }

/** One ack: a receiver, its device when it has devices, and what it takes of its pending messages. */
export interface AckRequest {
  receiverUid: string
  deviceId?: string | undefined
  selector: AckSelector
}

/** An ack as the store runs it: the device resolved to its reader (0 for a receiver without devices). */
export interface Ack {
  receiverUid: string
  reader: number
  selector: AckSelector
}

/** A message to store, already validated; msgId and sendTime fall back to a server-made id and the server's time. */
export interface NewMessage extends Omit<MessagePayload, 'collapseKey'> {
  receiverUid: string
  collapseKey?: string | null | undefined
  msgId?: string | undefined
  /** The sender's clock in epoch milliseconds. */
  sendTime?: number | undefined
  ttlSeconds?: number | undefined
}

/** What an erasure removed of a receiver. */
export interface Erased {
  messages: number
  tombstones: number
  devices: number
}

/** What a recall found: `recalled` (no reader had acknowledged it), `partly_delivered` or `delivered` (nothing removed). */
export type RecallState = 'recalled' | 'partly_delivered' | 'delivered'

/** A recall's answer: device ids, null for a receiver without devices. */
export interface RecallResult {
  msgId: string
  state: RecallState
  recalledFrom: Array<string | null>
  deliveredTo: Array<string | null>
}

export type StoreStatus = 'stored' | 'duplicate' | 'conflict' | 'inbox_full'

/** What became of one message to store; `message` is the stored one (the first copy for a duplicate or a conflict). */
export type StoreOutcome =
  | { status: 'stored' | 'duplicate' | 'conflict', msgId: string, message: StoredMessage }
  | { status: 'inbox_full', msgId: string, message: null }

export interface SummaryQuery {
  receiverUid: string
  deviceId?: string | undefined
  limit: number
  cursor?: string | undefined
}

export interface SummaryResult {
  receiverUid: string
  totalPending: number
  senders: SummaryRow[]
  nextCursor: string | null
}

export interface PageRequest {
  receiverUid: string
  deviceId?: string | undefined
  senderUid?: string | undefined
  limit: number
  cursor?: string | undefined
  /** How long to hold the request while the page would be empty (0: answer at once). */
  waitSeconds?: number | undefined
  /** Hung up when the caller has gone away: a held request is forgotten at once. */
  hangup?: Hangup | undefined
}

export interface PageResult {
  messages: StoredMessage[]
  nextCursor: string
  hasMore: boolean
}

export interface SweepResult {
  tombstones: number
  receivers: number
  /** Events deleted past their retention. */
  events?: number
}

/** The rules of the configuration that the domain applies. */
export interface MessageRules {
  messageTtlSeconds: number
  maxPendingPerReceiver: number
  overflowPolicy: 'reject' | 'drop_oldest'
  dedupWindowSeconds: number
  sweepBatchSize: number
  /** How many page requests an instance holds at once (wait_seconds). */
  maxWaiters: number
  maxDevicesPerReceiver: number
  /** Whether changes are recorded as events (EVENTS=on; off when absent). */
  events?: boolean | undefined
  /** How long an event is kept. */
  eventRetentionSeconds?: number | undefined
}

/** Counts reported after each commit (for metrics); never called for work that rolled back. */
export interface MessageEvents {
  stored (count: number): void
  duplicates (count: number): void
  acked (count: number): void
  expired (count: number): void
  dropped (count: number): void
  /** Pending messages replaced by a newer one of the same collapse key. */
  superseded (count: number): void
  /** Pending messages their sender recalled. */
  recalled (count: number): void
  /** Messages (pending or tombstones) removed by erasures of their receivers. */
  erased (count: number): void
  /** Held page requests woken by a commit. */
  wakeups (count: number): void
  /** Events of one type recorded by a commit. */
  recorded? (type: string, count: number): void
}
