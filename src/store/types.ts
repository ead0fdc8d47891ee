// The repository's interface: what the domain may ask of a store, in domain words, with times as epoch milliseconds.

/** A message as it lives in the store (pending, or kept as a tombstone after its ack). */
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

export type SummaryRow = Conversation

export interface SummaryView {
  receiver: ReceiverState | undefined
  rows: SummaryRow[]
}

/** Identifies one pending message cheaply, for counting what a removal does to each conversation. */
export interface MessageKey {
  seq: number
  senderUid: string
  msgId: string
  expiresAt: number
}

export interface PageQuery {
  receiverUid: string
  senderUid?: string | undefined
  afterSeq: number
  limit: number
  now: number
}

export type AckSelector =
  | { kind: 'ids', msgIds: readonly string[] }
  | { kind: 'up-to', upToSeq: number, senderUid?: string | undefined }

/** A receiver_uid and a msg_id or sender_uid under it. */
export type ReceiverKey = readonly [receiverUid: string, id: string]

/** Everything a write transaction may do. Every method is keyed by receiver_uid. */
export interface StoreTx {
  /** Creates the receivers' rows when missing and locks them, in the order given, until the transaction ends. */
  lockReceivers (receiverUids: readonly string[]): Promise<ReceiverState[]>
  saveReceivers (states: readonly ReceiverState[]): Promise<void>

  /** The pending messages (expired or not) with these (receiver_uid, msg_id). */
  findPendingByIds (keys: readonly ReceiverKey[]): Promise<StoredMessage[]>
  findTombstonesByIds (keys: readonly ReceiverKey[]): Promise<Tombstone[]>
  deleteTombstone (receiverUid: string, msgId: string): Promise<void>
  insertMessages (messages: readonly StoredMessage[]): Promise<void>

  oldestPending (receiverUid: string): Promise<MessageKey | undefined>
  expiredPending (receiverUid: string, now: number, limit: number): Promise<MessageKey[]>
  earliestExpiry (receiverUid: string): Promise<number | null>
  selectForAck (receiverUid: string, selector: AckSelector, now: number): Promise<MessageKey[]>
  /** Deletes pending messages; with a tombstone purge time, keeps them as tombstones until then. */
  removePending (receiverUid: string, seqs: readonly number[], tombstoneUntil: number | null, ackedAt: number): Promise<void>
  /** The sender's pending message with the highest seq. */
  lastPendingOfSender (receiverUid: string, senderUid: string): Promise<StoredMessage | undefined>

  findConversation (receiverUid: string, senderUid: string): Promise<Conversation | undefined>
  /** The summary rows with these (receiver_uid, sender_uid). */
  findConversations (keys: readonly ReceiverKey[]): Promise<Conversation[]>
  /** Inserts or updates summary rows (at most one per receiver and sender). */
  saveConversations (conversations: readonly Conversation[]): Promise<void>
  deleteConversation (receiverUid: string, senderUid: string): Promise<void>
  clearLostUpTo (receiverUid: string, upToSeq: number, senderUid?: string): Promise<void>
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres'
  /** Runs fn in one transaction; resolves only after COMMIT has returned. */
  transaction<T> (fn: (tx: StoreTx) => Promise<T>): Promise<T>

  receiver (receiverUid: string): Promise<ReceiverState | undefined>
  /** The receiver's row and one page of its summary, read together. */
  summary (receiverUid: string, beforeSortSeq: number | null, limit: number): Promise<SummaryView>
  page (query: PageQuery): Promise<StoredMessage[]>
  findPendingLive (receiverUid: string, msgId: string, now: number): Promise<StoredMessage | undefined>
  /** Receivers whose pending messages may have expired, earliest first. */
  receiversDueForExpiry (now: number, limit: number): Promise<string[]>
  purgeTombstones (now: number, limit: number): Promise<number>
  /** Pending, unexpired messages over all receivers. */
  totalPending (now: number): Promise<number>
  ping (): Promise<void>
  close (): Promise<void>
}
