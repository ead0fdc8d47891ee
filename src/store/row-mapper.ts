// The one place where database quirks are undone: PostgreSQL's bigint and count strings, SQLite's loose numbers.
import type { Conversation, MessageKey, ReceiverState, StoredMessage, Tombstone } from './types.js'

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

/** The conversation columns, in the order every statement selects them. */
export const CONVERSATION_FIELDS = [
  'receiver_uid', 'sender_uid', 'pending_count', 'last_seq', 'sort_seq', 'lost_count', 'lost_seq', 'last_send_time', 'last_msg_type', 'last_preview'
]

/** A conversation from its column values in CONVERSATION_FIELDS order. */
export function toConversationFromValues (values: readonly unknown[]): Conversation {
  const lastSeq = toNullableNumber(values[3])
  return {
    receiverUid: String(values[0]),
    senderUid: String(values[1]),
    pendingCount: toNumber(values[2]),
    last: lastSeq === null ? null : { seq: lastSeq, sendTime: toNumber(values[7]), msgType: toNumber(values[8]), preview: String(values[9]) },
    sortSeq: toNumber(values[4]),
    lostCount: toNumber(values[5]),
    lostSeq: toNullableNumber(values[6])
  }
}

export function toConversation (row: Row): Conversation {
  return toConversationFromValues(CONVERSATION_FIELDS.map((column) => row[column]))
}

export function fromConversation (conversation: Conversation): Row {
  const { last } = conversation
  return {
    receiver_uid: conversation.receiverUid,
    sender_uid: conversation.senderUid,
    pending_count: conversation.pendingCount,
    last_seq: last?.seq ?? null,
    sort_seq: conversation.sortSeq,
    lost_count: conversation.lostCount,
    lost_seq: conversation.lostSeq,
    last_send_time: last?.sendTime ?? null,
    last_msg_type: last?.msgType ?? null,
    last_preview: last?.preview ?? null
  }
}
