// The one place where database quirks are undone: PostgreSQL's bigint and count strings, SQLite's loose numbers.
import type { Conversation, MessageKey, ReceiverState, StoredMessage, SummaryRow, Tombstone } from './types.js'

type Row = Record<string, unknown>

export function toNumber (value: unknown): number {
  const number = typeof value === 'number' ? value : Number(value)
  if (!Number.isSafeInteger(number)) throw new TypeError(`expected an integer from the database, got ${String(value)}`)
  return number
}

export function toNullableNumber (value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value)
}

/** The message columns, in the order every statement selects them. */
export const MESSAGE_FIELDS = ['receiver_uid', 'seq', 'msg_id', 'sender_uid', 'msg_type', 'content', 'send_time', 'stored_at', 'expires_at']

/** A message from its column values in MESSAGE_FIELDS order (better-sqlite3's raw rows: arrays are much cheaper than objects). */
export function toStoredMessageFromValues (values: readonly unknown[]): StoredMessage {
  return {
    receiverUid: String(values[0]),
    seq: toNumber(values[1]),
    msgId: String(values[2]),
    senderUid: String(values[3]),
    msgType: toNumber(values[4]),
    content: String(values[5]),
    sendTime: toNumber(values[6]),
    storedAt: toNumber(values[7]),
    expiresAt: toNumber(values[8])
  }
}

export function toStoredMessage (row: Row): StoredMessage {
  return toStoredMessageFromValues(MESSAGE_FIELDS.map((column) => row[column]))
}

/** A summary row: the conversation's columns, and m_seq, m_send_time, m_msg_type, m_preview of its latest pending message (null when none). */
export function toSummaryRow (row: Row): SummaryRow {
  const last = row.m_seq === null || row.m_seq === undefined
    ? null
    : { seq: toNumber(row.m_seq), sendTime: toNumber(row.m_send_time), msgType: toNumber(row.m_msg_type), preview: String(row.m_preview) }
  return { ...toConversation(row), last }
}

export function toTombstone (row: Row): Tombstone {
  return { message: toStoredMessage(row), purgeAt: toNumber(row.purge_at) }
}

export function fromStoredMessage (message: StoredMessage): Row {
  return {
    receiver_uid: message.receiverUid,
    seq: message.seq,
    msg_id: message.msgId,
    sender_uid: message.senderUid,
    msg_type: message.msgType,
    content: message.content,
    send_time: message.sendTime,
    stored_at: message.storedAt,
    expires_at: message.expiresAt
  }
}

export function toMessageKey (row: Row): MessageKey {
  return {
    seq: toNumber(row.seq),
    senderUid: String(row.sender_uid),
    msgId: String(row.msg_id),
    expiresAt: toNumber(row.expires_at)
  }
}

export function toReceiverState (row: Row): ReceiverState {
  return {
    receiverUid: String(row.receiver_uid),
    lastSeq: toNumber(row.last_seq),
    pendingCount: toNumber(row.pending_count),
    nextExpiry: toNullableNumber(row.next_expiry)
  }
}

export function toConversation (row: Row): Conversation {
  return {
    receiverUid: String(row.receiver_uid),
    senderUid: String(row.sender_uid),
    pendingCount: toNumber(row.pending_count),
    lastSeq: toNullableNumber(row.last_seq),
    sortSeq: toNumber(row.sort_seq),
    lostCount: toNumber(row.lost_count),
    lostSeq: toNullableNumber(row.lost_seq)
  }
}

export function fromConversation (conversation: Conversation): Row {
  return {
    receiver_uid: conversation.receiverUid,
    sender_uid: conversation.senderUid,
    pending_count: conversation.pendingCount,
    last_seq: conversation.lastSeq,
    sort_seq: conversation.sortSeq,
    lost_count: conversation.lostCount,
    lost_seq: conversation.lostSeq
  }
}
