// The one place where database quirks are undone: PostgreSQL's bigint and count strings, SQLite's loose numbers.
import type { Conversation, Device, MessageKey, ReceiverState, StoredMessage, Tombstone } from '../domain/model.js'

type Row = Record<string, unknown>

/** The map key of a (receiver_uid, msg_id or sender_uid) pair, or of a (receiver_uid, reader, sender_uid), for the rows of a group: the domain's own. */
export { keyOf as pairKey } from '../domain/group-state.js'

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

/** The columns of a page of one receiver's messages: MESSAGE_FIELDS without receiver_uid, which the caller knows. */
export const PAGE_FIELDS = MESSAGE_FIELDS.slice(1)

/** A message from the column values at `values[at]` onwards, in MESSAGE_FIELDS order after receiver_uid. */
function toMessageOf (receiverUid: string, values: readonly unknown[], at: number): StoredMessage {
  return {
    receiverUid,
    seq: toNumber(values[at]),
    msgId: String(values[at + 1]),
    senderUid: String(values[at + 2]),
    msgType: toNumber(values[at + 3]),
    content: String(values[at + 4]),
    sendTime: toNumber(values[at + 5]),
    storedAt: toNumber(values[at + 6]),
    expiresAt: toNumber(values[at + 7])
  }
}

/** A message from its column values in MESSAGE_FIELDS order (better-sqlite3's raw rows: arrays are much cheaper than objects). */
export function toStoredMessageFromValues (values: readonly unknown[]): StoredMessage {
  return toMessageOf(String(values[0]), values, 1)
}

/** A message of `receiverUid` from its column values in PAGE_FIELDS order. */
export function toReceiverMessageFromValues (receiverUid: string, values: readonly unknown[]): StoredMessage {
  return toMessageOf(receiverUid, values, 0)
}

export function toStoredMessage (row: Row): StoredMessage {
  return toStoredMessageFromValues(MESSAGE_FIELDS.map((column) => row[column]))
}

export function toTombstone (row: Row): Tombstone {
  return toTombstoneFromValues([...MESSAGE_FIELDS.map((column) => row[column]), row.purge_at])
}

/** A tombstone from the MESSAGE_FIELDS values followed by purge_at. */
export function toTombstoneFromValues (values: readonly unknown[]): Tombstone {
  return { message: toStoredMessageFromValues(values), purgeAt: toNumber(values[MESSAGE_FIELDS.length]) }
}

/** A row object from column values in `fields` order. */
function zip (fields: readonly string[], values: readonly unknown[]): Row {
  const row: Row = {}
  fields.forEach((field, i) => { row[field] = values[i] })
  return row
}

/** A message's column values in MESSAGE_FIELDS order (for positional parameters, cheaper to bind than named ones). */
export function storedMessageValues (message: StoredMessage): unknown[] {
  return [message.receiverUid, message.seq, message.msgId, message.senderUid, message.msgType, message.content, message.sendTime, message.storedAt, message.expiresAt]
}

export function fromStoredMessage (message: StoredMessage): Row {
  return zip(MESSAGE_FIELDS, storedMessageValues(message))
}

/**
 * A message key from a row with KEY_FIELDS: `readers` the bits taken from it (all it had when it is removed whole),
 * `remaining` those still pending (0, or absent, when it is deleted).
 */
export function toMessageKey (row: Row): MessageKey {
  return {
    receiverUid: String(row.receiver_uid),
    seq: toNumber(row.seq),
    senderUid: String(row.sender_uid),
    msgId: String(row.msg_id),
    expiresAt: toNumber(row.expires_at),
    readers: toNumber(row.readers),
    remaining: toNumber(row.remaining ?? 0)
  }
}

/** The columns of a message key (toMessageKey). */
export const KEY_FIELDS = ['receiver_uid', 'seq', 'sender_uid', 'msg_id', 'expires_at', 'readers']

export function toReceiverState (row: Row): ReceiverState {
  return {
    receiverUid: String(row.receiver_uid),
    lastSeq: toNumber(row.last_seq),
    pendingCount: toNumber(row.pending_count),
    nextExpiry: toNullableNumber(row.next_expiry),
    devices: toNumber(row.devices ?? 0)
  }
}

/** The receivers columns, in the order every statement selects them. */
export const RECEIVER_FIELDS = ['receiver_uid', 'last_seq', 'pending_count', 'next_expiry', 'devices']

export const receiverValues = (state: ReceiverState): unknown[] =>
  [state.receiverUid, state.lastSeq, state.pendingCount, state.nextExpiry, state.devices]

/** The devices columns, in the order every statement selects them. */
export const DEVICE_FIELDS = ['receiver_uid', 'device_id', 'slot', 'registered_at', 'last_ack_at']

export function toDevice (row: Row): Device {
  return {
    receiverUid: String(row.receiver_uid),
    deviceId: String(row.device_id),
    slot: toNumber(row.slot),
    registeredAt: toNumber(row.registered_at),
    lastAckAt: toNullableNumber(row.last_ack_at)
  }
}

export const deviceValues = (device: Device): unknown[] =>
  [device.receiverUid, device.deviceId, device.slot, device.registeredAt, device.lastAckAt]

/** The conversation columns, in the order every statement selects them. */
export const CONVERSATION_FIELDS = [
  'receiver_uid', 'reader', 'sender_uid', 'pending_count', 'last_seq', 'sort_seq', 'lost_count', 'lost_seq', 'last_send_time', 'last_msg_type', 'last_preview'
]
/** The conversation columns an upsert overwrites: all but the key (receiver_uid, reader, sender_uid). */
export const CONVERSATION_STATE_FIELDS = CONVERSATION_FIELDS.slice(3)

/** A conversation from its column values in CONVERSATION_FIELDS order. */
export function toConversationFromValues (values: readonly unknown[]): Conversation {
  const lastSeq = toNullableNumber(values[4])
  return {
    receiverUid: String(values[0]),
    reader: toNumber(values[1]),
    senderUid: String(values[2]),
    pendingCount: toNumber(values[3]),
    last: lastSeq === null ? null : { seq: lastSeq, sendTime: toNumber(values[8]), msgType: toNumber(values[9]), preview: String(values[10]) },
    sortSeq: toNumber(values[5]),
    lostCount: toNumber(values[6]),
    lostSeq: toNullableNumber(values[7])
  }
}

export function toConversation (row: Row): Conversation {
  return toConversationFromValues(CONVERSATION_FIELDS.map((column) => row[column]))
}

/** A conversation's column values in CONVERSATION_FIELDS order. */
export function conversationValues (conversation: Conversation): unknown[] {
  const { last } = conversation
  return [
    conversation.receiverUid, conversation.reader, conversation.senderUid, conversation.pendingCount, last?.seq ?? null, conversation.sortSeq,
    conversation.lostCount, conversation.lostSeq, last?.sendTime ?? null, last?.msgType ?? null, last?.preview ?? null
  ]
}

export function fromConversation (conversation: Conversation): Row {
  return zip(CONVERSATION_FIELDS, conversationValues(conversation))
}
