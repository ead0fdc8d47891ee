// The table of columns: each table's columns in the order every statement names them, with their SQL type and the
// domain field each holds. The select lists, the row mappers (row-mapper.ts), PostgreSQL's array parameters and typed
// NULLs (postgres/sql-parts.ts) are derived from it: a new column is one entry here.
import type { Device, PendingMessage, ReceiverState, StoredMessage, SummaryRow } from '../domain/model.js'

export type SqlType = 'text' | 'bigint' | 'integer'

/**
 * A column: its name, its SQL type, and the domain field it holds. Read, a text becomes a string and a number type a
 * number (null when `nullable`, `absentAs` when the row lacks it); written, the field's value as it is. A field of an
 * object that may be null ('last.seq') is read into that object, which is null when its first column is NULL.
 */
export interface Column {
  readonly name: string
  readonly type: SqlType
  readonly field?: string
  readonly nullable?: boolean
  readonly absentAs?: number
}

/** The fields of a domain type that columns hold: 'seq', or 'last.seq' for a field of an object that may be null. */
export type FieldOf<T> = {
  [K in keyof T & string]-?: NonNullable<T[K]> extends object ? `${K}.${FieldOf<NonNullable<T[K]>>}` : K
}[keyof T & string]

type ColumnOf<T> = Column & { readonly field: FieldOf<T> }

/**
 * The columns of a domain type, in order. Each holds a field of T, and the compiler names a field of T that none
 * holds (a new field without its column does not compile).
 */
function columnsOf<T> () {
  return <const C extends ReadonlyArray<ColumnOf<T>>>(
    columns: C & ([Exclude<FieldOf<T>, C[number]['field']>] extends [never] ? unknown : { missing: Exclude<FieldOf<T>, C[number]['field']> })
  ): C => columns
}

/** The columns of a message, shared by pending messages and tombstones. */
export const MESSAGE = columnsOf<StoredMessage>()([
  { name: 'receiver_uid', type: 'text', field: 'receiverUid' },
  { name: 'seq', type: 'bigint', field: 'seq' },
  { name: 'msg_id', type: 'text', field: 'msgId' },
  { name: 'sender_uid', type: 'text', field: 'senderUid' },
  { name: 'msg_type', type: 'integer', field: 'msgType' },
  { name: 'content', type: 'text', field: 'content' },
  { name: 'send_time', type: 'bigint', field: 'sendTime' },
  { name: 'stored_at', type: 'bigint', field: 'storedAt' },
  { name: 'expires_at', type: 'bigint', field: 'expiresAt' },
  { name: 'collapse_key', type: 'text', field: 'collapseKey', nullable: true }
])
const READERS = { name: 'readers', type: 'integer', field: 'readers' } as const
/** The columns of the messages table: a message's, and the readers that still have it pending. */
export const PENDING = columnsOf<PendingMessage>()([...MESSAGE, READERS])
/** These columns but receiver_uid: what a statement answers of rows whose receiver the caller knows. */
export const withoutReceiverUid = (columns: readonly Column[]): Column[] => columns.filter((column) => column.name !== 'receiver_uid')
/** A page's columns: a message's without receiver_uid. */
export const PAGE = withoutReceiverUid(MESSAGE)

/** The columns of the tombstones table: a message's, when it was acked and when it goes. */
export const TOMBSTONE: readonly Column[] = [...MESSAGE, { name: 'acked_at', type: 'bigint' }, { name: 'purge_at', type: 'bigint' }]

/** These columns, by name, in the order given. */
export function pick (columns: readonly Column[], names: readonly string[]): Column[] {
  return names.map((name) => {
    const found = columns.find((column) => column.name === name)
    if (found === undefined) throw new Error(`no column ${name}`)
    return found
  })
}

/**
 * The columns of a removed message (REMOVED_MESSAGE_ROW, from the messages table), and `remaining`, the readers a removal left
 * it: not a column of the table but of what a removal answers (0 when it does not answer it).
 */
export const REMOVED_MESSAGE_ROW = pick(PENDING, ['receiver_uid', 'seq', 'sender_uid', 'msg_id', 'expires_at', 'readers'])
export const REMOVED_MESSAGE: readonly Column[] = [...REMOVED_MESSAGE_ROW, { name: 'remaining', type: 'integer', field: 'remaining', absentAs: 0 }]

export const RECEIVER = columnsOf<ReceiverState>()([
  { name: 'receiver_uid', type: 'text', field: 'receiverUid' },
  { name: 'last_seq', type: 'bigint', field: 'lastSeq' },
  { name: 'pending_count', type: 'integer', field: 'pendingCount' },
  { name: 'next_expiry', type: 'bigint', field: 'nextExpiry', nullable: true },
  { name: 'devices', type: 'integer', field: 'devices' }
])
export const RECEIVER_KEY = pick(RECEIVER, ['receiver_uid'])
/** What a write of a receiver's row sets: all but its key. */
export const RECEIVER_STATE = RECEIVER.filter((column) => !RECEIVER_KEY.includes(column))

export const DEVICE = columnsOf<Device>()([
  { name: 'receiver_uid', type: 'text', field: 'receiverUid' },
  { name: 'device_id', type: 'text', field: 'deviceId' },
  { name: 'slot', type: 'integer', field: 'slot' },
  { name: 'registered_at', type: 'bigint', field: 'registeredAt' },
  { name: 'last_ack_at', type: 'bigint', field: 'lastAckAt', nullable: true }
])

/** A device's last ack, as a write of it names the device: its receiver and slot. */
export const DEVICE_ACK = pick(DEVICE, ['receiver_uid', 'slot', 'last_ack_at'])

export const SUMMARY_ROW = columnsOf<SummaryRow>()([
  { name: 'receiver_uid', type: 'text', field: 'receiverUid' },
  { name: 'reader', type: 'integer', field: 'reader' },
  { name: 'sender_uid', type: 'text', field: 'senderUid' },
  { name: 'pending_count', type: 'integer', field: 'pendingCount' },
  { name: 'last_seq', type: 'bigint', field: 'last.seq', nullable: true },
  { name: 'sort_seq', type: 'bigint', field: 'sortSeq' },
  { name: 'lost_count', type: 'integer', field: 'lostCount' },
  { name: 'lost_seq', type: 'bigint', field: 'lostSeq', nullable: true },
  { name: 'last_send_time', type: 'bigint', field: 'last.sendTime' },
  { name: 'last_msg_type', type: 'integer', field: 'last.msgType' },
  { name: 'last_preview', type: 'text', field: 'last.preview' }
])
/**
 * A summary row as one reader's summary reads it: without the receiver and the reader, which the read names (a value
 * turned into a JavaScript string is a large part of a read's cost in better-sqlite3).
 */
export const SUMMARY_VIEW = SUMMARY_ROW.filter((column) => column.name !== 'receiver_uid' && column.name !== 'reader')
/** The key of a summary row. */
export const SUMMARY_ROW_KEY = pick(SUMMARY_ROW, ['receiver_uid', 'reader', 'sender_uid'])
/** What an upsert of a summary row sets: all but its key. */
export const SUMMARY_ROW_STATE = SUMMARY_ROW.filter((column) => !SUMMARY_ROW_KEY.includes(column))

/** These columns' names, joined: `alias.name` with an alias; a name that `given` has is its expression instead. */
export const names = (columns: readonly Column[], alias?: string, given: Readonly<Record<string, string>> = {}): string =>
  columns.map(({ name }) => given[name] ?? (alias === undefined ? name : `${alias}.${name}`)).join(', ')
