// The store port: what the domain may ask of a store, in the domain's model types, with times as epoch milliseconds.
// sqlite/store.ts and postgres/store.ts implement it (citus/store.ts through PostgreSQL's), and
// test/store/store-contract.test.ts holds them to it. The event feed's and the webhook's part: feed-port.ts.
import type { EventRecord } from '../domain/events.js'
import type { FeedStore } from './feed-port.js'
import type {
  Ack, Device, DeviceView, Erased, PendingMessage, ReceiverState, RemovedMessage, StoredMessage, SummaryRow, Tombstone
} from '../domain/model.js'

export interface SummaryView {
  receiver: ReceiverState | undefined
  rows: SummaryRow[]
  /** Asked for a device: its slot (null when it is not registered) and how many messages are pending for it. */
  device?: { slot: number | null, pendingCount: number }
}

export interface PageQuery {
  receiverUid: string
  /** Only the messages pending for this device (none when it is not registered); without it, the receiver's own. */
  deviceId?: string | undefined
  senderUid?: string | undefined
  afterSeq: number
  limit: number
  now: number
  /** The read of a request that waits for messages (wait_seconds): may share a statement with others (PostgreSQL). */
  waiting?: boolean
}

/** A receiver_uid and a msg_id or sender_uid under it. */
export type ReceiverKey = readonly [receiverUid: string, id: string]

/** The key of a summary row: a receiver, one of its readers, a sender. */
export type SummaryRowKey = readonly [receiverUid: string, reader: number, senderUid: string]

/**
 * What a group of stores reads up front: under its (receiver_uid, msg_id), pending messages (expired or not) and
 * tombstones; under its (receiver_uid, sender_uid), the summary rows.
 */
export interface StoredCopies {
  pending: StoredMessage[]
  tombstones: Tombstone[]
  summaryRows: SummaryRow[]
}

/** A receiver, sender and collapse key: the pending messages a new message with that key replaces. */
export type CollapseKey = readonly [receiverUid: string, senderUid: string, collapseKey: string]

/** A pending message with a collapse key, as the store finds it for a message that may replace it. */
export interface Collapsible extends RemovedMessage {
  collapseKey: string
  storedAt: number
}

/**
 * A pending message to delete for every reader it has left, as the transaction read it under its receiver's lock (so
 * that a store may answer it without reading it again), and what its tombstone keeps of why (tombstones.recall).
 */
export interface Withdrawal {
  message: RemovedMessage
  /** The recall's answer, as JSON, that a recall of this message answers again. */
  recall: string
}

/** What a recall finds under a msg_id: the message while it is pending, or its tombstone. */
/** A message a recall names: its receiver and msg_id. */
export interface RecallKey { receiverUid: string, msgId: string }

export interface RecallTarget {
  pending?: PendingMessage
  tombstone?: { message: StoredMessage, recall: string | null }
}

/** What recalls find: a RecallTarget per target, and the summary rows their withdrawal corrects (read in the same statement where the store can). */
export interface RecallsFound {
  targets: RecallTarget[]
  /** The summary rows of the pending messages' (receiver, sender), every one there is. */
  summaryRows: SummaryRow[]
}

/** What an ack removal deleted, and the summary rows it touches (read in the same statement where the store can). */
export interface AckRemoval {
  removed: RemovedMessage[]
  /** The summary rows of the removed messages' (receiver, sender), every one there is. */
  summaryRows: SummaryRow[]
  /** For each up-to ack, its receiver's rows (of one sender, when given) with lost messages, all of seq <= upToSeq. */
  cleared: SummaryRow[]
}

/** What an expiry removal deleted, and what the domain needs of it (read in the same statement where the store can). */
export interface ExpiredRemoval {
  /** Each deleted message's key: readers, all it had; remaining, 0. */
  removed: RemovedMessage[]
  /** The summary rows of the removed messages' (receiver, sender), of the readers they left. */
  summaryRows: SummaryRow[]
  /** Each receiver that has no expired message left: the earliest expiry of what it still holds (null: nothing). */
  nextExpiry: Map<string, number | null>
}

/** What a group of stores looks up: its (receiver_uid, msg_id) and (receiver_uid, sender_uid) pairs, each once. */
export interface GroupKeys { messageKeys: readonly ReceiverKey[], senderKeys: readonly ReceiverKey[] }

/** Everything a write transaction may do. Every method is keyed by receiver_uid; most take many receivers at once. */
export interface StoreTx {
  /**
   * Locks the receivers' rows, in the order given, until the transaction ends: with create (the default) it first makes
   * the missing ones; without, it answers only the receivers that exist, still in that order. With `find`, the store
   * may read right behind the lock (after it, in the same round trip) what findCopiesAndSummaryRows would answer for
   * those keys; that call, with the same arrays and nothing else sent or written before it, then answers what was read.
   */
  lockReceivers (receiverUids: readonly string[], options?: { create?: boolean, find?: GroupKeys }): Promise<ReceiverState[]>
  saveReceivers (states: readonly ReceiverState[]): Promise<void>

  findCopiesAndSummaryRows (messageKeys: readonly ReceiverKey[], senderKeys: readonly ReceiverKey[]): Promise<StoredCopies>
  deleteTombstone (receiverUid: string, msgId: string): Promise<void>
  insertMessages (messages: readonly PendingMessage[]): Promise<void>

  oldestPending (receiverUid: string): Promise<RemovedMessage | undefined>
  /**
   * Deletes the expired messages (expires_at <= now) of these receivers, at most `limit` of each, lowest seqs first,
   * without tombstones: they were lost, and their ids may be stored again.
   */
  removeExpired (receiverUids: readonly string[], now: number, limit: number): Promise<ExpiredRemoval>
  /**
   * Takes the unexpired messages each ack selects, among those pending for its reader, from that reader; a message no
   * reader has left is deleted. Answers their keys, each once (readers: the bits the acks took), with the summary rows
   * the acks touch as they were; with a tombstone purge time, keeps the deleted messages as tombstones (acked at `now`)
   * until then.
   */
  removeAcked (acks: readonly Ack[], now: number, tombstoneUntil: number | null): Promise<AckRemoval>
  /** Deletes pending messages of one receiver without tombstones (they were lost: expired or dropped). */
  removePending (receiverUid: string, seqs: readonly number[]): Promise<void>
  /** For each (receiver_uid, reader, sender_uid), the sender's message pending for that reader with the highest seq, if any. */
  lastPendingOfSenders (keys: readonly SummaryRowKey[]): Promise<Array<{ reader: number, message: StoredMessage }>>

  /** The summary rows with these (receiver_uid, sender_uid), of every reader. */
  findSummaryRows (keys: readonly ReceiverKey[]): Promise<SummaryRow[]>
  /** Inserts or updates summary rows (at most one per receiver, reader and sender). */
  saveSummaryRows (summaryRows: readonly SummaryRow[]): Promise<void>
  deleteSummaryRows (keys: readonly SummaryRowKey[]): Promise<void>

  /** The registered devices of these receivers. */
  findDevices (receiverUids: readonly string[]): Promise<Device[]>
  insertDevice (device: Device): Promise<void>
  /** Deletes a device's row and its summary rows (its messages are the caller's: removeAcked takes them first). */
  removeDevice (receiverUid: string, deviceId: string, slot: number): Promise<void>
  /** Hands what is pending for the receiver itself (reader 0), messages and summary rows, to the device of this slot. */
  takeOver (receiverUid: string, slot: number): Promise<void>
  /** Notes the time of an ack on each of these devices. */
  touchDevices (devices: ReadonlyArray<readonly [receiverUid: string, slot: number]>, now: number): Promise<void>
  /** The pending messages of these (receiver, sender, collapse key), expired or not (the caller purges first). */
  findCollapsible (keys: readonly CollapseKey[]): Promise<Collapsible[]>
  /**
   * Deletes these pending messages for every reader they have left, keeping them as tombstones (with their recall) until
   * `tombstoneUntil` unless it is null. The withdrawals name what goes (their messages, read under the receivers' lock):
   * nothing is answered. A store may send the deletion with its next statement or its COMMIT (PostgreSQL's write-back),
   * unless a message is among what it has yet to send.
   */
  withdraw (withdrawals: readonly Withdrawal[], now: number, tombstoneUntil: number | null): Promise<void>
  /**
   * For each target, the message with this id of its receiver, pending (with its readers) or as a tombstone, whatever
   * its expiry; and the summary rows of the pending ones' senders.
   */
  findForRecalls (targets: readonly RecallKey[]): Promise<RecallsFound>
  /** Deletes every row of the receiver in every table (its receivers row last); answers what it removed. */
  erase (receiverUid: string): Promise<Erased>

  /**
   * Writes events, in this order, in the last statement of the transaction (after every change they describe; on
   * PostgreSQL with its write-back when every record gives all, givesAll): each record's device id resolved from its
   * reader's slot unless given, its pending count read now less its `later`; `now` is when they were recorded
   * (retention counts from it).
   */
  insertEvents (records: readonly EventRecord[], now: number): Promise<void>
  /** Deletes every event of the receiver (its erasure). */
  eraseEvents (receiverUid: string): Promise<void>
  /**
   * Tells the other instances, once this transaction commits, that these receivers have new messages. `deferrable`
   * ones may wait a few milliseconds to go with the next announcement (PostgreSQL: DEFERRED_ANNOUNCEMENT_MS).
   */
  announceStored (receiverUids: readonly string[], options?: { deferrable?: boolean }): Promise<void>
}

/** The receivers of a group another instance committed, or 'all' when some may have been missed. */
export type CommitFeed = (receiverUids: readonly string[] | 'all') => void

export interface StatementCounts { statements: number, roundTrips: number }

/** How a store's write transactions are best scheduled: how many at once, and in which lanes. */
export interface WriteLanes {
  /**
   * How many write transactions may usefully run at once: 1 where one writer holds the whole database (SQLite); more
   * where transactions lock only their receivers' rows and overlap their round trips and commits (PostgreSQL).
   */
  readonly concurrency: number
  /**
   * The lane of a receiver's writes, where transactions that stay in one commit faster (on Citus, its shard's node,
   * whose shards' own tables such a transaction writes: citus/shards.ts): writes are then grouped per lane, one transaction per lane at a
   * time. Absent where every transaction commits alike (SQLite, plain PostgreSQL). A receiver is in one lane at a time.
   */
  readonly laneOf?: ((receiverUid: string) => string) | undefined
}

export interface Store extends FeedStore {
  /**
   * Runs fn in one transaction: resolves only once its COMMIT is durable, and a rejection of fn rolls all of it back.
   * Two transactions that lock the same receiver run one after the other, the second seeing what the first saved.
   * The store may fail with StoreUnavailableError (domain/errors.ts) when its database cannot be reached. `lane` is
   * the lane of its receivers' writes (WriteLanes.laneOf), where the store runs it: on Citus, on the node that holds
   * that shard, on that shard's tables.
   */
  transaction<T> (fn: (tx: StoreTx) => Promise<T>, lane?: string): Promise<T>

  receiver (receiverUid: string): Promise<ReceiverState | undefined>
  /** The receiver's row and one page of its summary (the device's, when given), read together. */
  summary (receiverUid: string, deviceId: string | undefined, beforeSortSeq: number | null, limit: number): Promise<SummaryView>
  /** Unexpired messages after afterSeq (of one sender, when given), seq ascending, at most limit. */
  page (query: PageQuery): Promise<StoredMessage[]>
  /** The unexpired message with this id pending for the device (the receiver itself without one). */
  findPendingLive (receiverUid: string, msgId: string, now: number, deviceId?: string): Promise<StoredMessage | undefined>
  /** The receiver's registered devices, in the order they registered, with their pending counts. */
  devices (receiverUid: string): Promise<DeviceView[]>
  /** Receivers whose pending messages may have expired, earliest first. */
  receiversDueForExpiry (now: number, limit: number): Promise<string[]>
  /** Deletes at most limit tombstones whose dedup window has passed; answers how many. */
  purgeTombstones (now: number, limit: number): Promise<number>
  /** Pending, unexpired messages over all receivers. */
  totalPending (now: number): Promise<number>
  /** Follows the commits of other instances on the same database (a no-op where there can be none). */
  followCommits (listener: CommitFeed): void
  /** How the store's write transactions are best scheduled. */
  readonly writeLanes: WriteLanes
  /** The SQL statements sent so far (BEGIN and COMMIT included), and how many of them waited for a network round trip. */
  statementCounts (): StatementCounts
  ping (): Promise<void>
  /**
   * Whether a commit the store reports survives a crash of the database and of its machine: on SQLite always (the store
   * fsyncs its WAL before it answers); on PostgreSQL unless fsync, synchronous_commit or full_page_writes is off for the
   * service's role, as last read (at start and after each new connection; read now if it never was).
   */
  durable (): Promise<boolean>
  close (): Promise<void>
}
