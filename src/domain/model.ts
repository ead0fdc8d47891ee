// The domain's own words: messages, receivers, conversations, ack selectors and the commands and results of the service.

/** A message as it lives in the store (pending, or kept as a tombstone after its ack); times are epoch milliseconds. */
export interface StoredMessage {
  receiverUid: string
  seq: number
  msgId: string
  senderUid: string
  msgType: number
  content: string
  sendTime: number
  storedAt: number
  expiresAt: number
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
export interface Conversation {
  receiverUid: string
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

/** Identifies one pending message cheaply, for counting what a removal does to each conversation. */
export interface MessageKey {
  receiverUid: string
  seq: number
  senderUid: string
  msgId: string
  expiresAt: number
}

/** Which of a receiver's pending messages an ack takes. */
export type AckSelector =
  | { kind: 'ids', msgIds: readonly string[] }
  | { kind: 'up-to', upToSeq: number, senderUid?: string | undefined }

/** One ack: a receiver and what it takes of its pending messages. */
export interface Ack {
  receiverUid: string
  selector: AckSelector
}

/** A message to store, already validated; msgId and sendTime fall back to a server-made id and the server's time. */
export interface NewMessage {
  receiverUid: string
  senderUid: string
  msgId?: string | undefined
  msgType: number
  content: string
  /** The sender's clock in epoch milliseconds. */
  sendTime?: number | undefined
  ttlSeconds?: number | undefined
}

export type StoreStatus = 'stored' | 'duplicate' | 'conflict' | 'inbox_full'

/** What became of one message to store; `message` is the stored one (the first copy for a duplicate or a conflict). */
export type StoreOutcome =
  | { status: 'stored' | 'duplicate' | 'conflict', msgId: string, message: StoredMessage }
  | { status: 'inbox_full', msgId: string, message: null }

export interface SummaryQuery {
  receiverUid: string
  limit: number
  cursor?: string | undefined
}

export interface SummaryResult {
  receiverUid: string
  totalPending: number
  senders: Conversation[]
  nextCursor: string | null
}

export interface PageRequest {
  receiverUid: string
  senderUid?: string | undefined
  limit: number
  cursor?: string | undefined
  /** How long to hold the request while the page would be empty (0: answer at once). */
  waitSeconds?: number | undefined
  /** Aborted when the caller has gone away: a held request is forgotten at once. */
  signal?: AbortSignal | undefined
}

export interface PageResult {
  messages: StoredMessage[]
  nextCursor: string
  hasMore: boolean
}

export interface SweepResult {
  tombstones: number
  receivers: number
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
}

/** Counts reported after each commit (for metrics); never called for work that rolled back. */
export interface MessageEvents {
  stored (count: number): void
  duplicates (count: number): void
  acked (count: number): void
  expired (count: number): void
  dropped (count: number): void
  /** Held page requests woken by a commit. */
  wakeups (count: number): void
}
