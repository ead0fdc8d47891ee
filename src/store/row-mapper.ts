// The one place where database quirks are undone: PostgreSQL's bigint and count strings, SQLite's loose numbers. Every
// mapper is made once, at load, from the table of columns (columns.ts): each reads its row into one object literal,
// with each column's position written into it, as a mapper written by hand would.
import type { EventType, EventView } from '../domain/events.js'
import type { Device, PendingMessage, ReceiverState, RemovedMessage, StoredMessage, SummaryRow, Tombstone } from '../domain/model.js'
import { mapKey } from '../lib/map-key.js'
import type { RecallKey, RecallsFound, RecallTarget } from './types.js'
import { DEVICE, MESSAGE, PAGE, PENDING, RECEIVER, RECEIVER_KEY, RECEIVER_STATE, REMOVED_MESSAGE, SUMMARY_ROW, SUMMARY_VIEW, type Column } from './columns.js'

type Row = Record<string, unknown>

export function toNumber (value: unknown): number {
  const number = typeof value === 'number' ? value : Number(value)
  if (!Number.isSafeInteger(number)) throw new TypeError(`expected an integer from the database, got ${String(value)}`)
  return number
}

export function toNullableNumber (value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value)
}

// What the generated source may name: column names and fields of the table of columns, never anything else.
const NAME = /^[a-z][a-z_]*$/
const FIELD = /^[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)?$/

function checked (column: Column): Column & { field: string } {
  if (!NAME.test(column.name) || column.field === undefined || !FIELD.test(column.field)) throw new Error(`column ${column.name} cannot be mapped`)
  return column as Column & { field: string }
}

/** The source of one column's value read from `source`. */
function readOf (column: Column, source: string): string {
  if (column.type === 'text') return column.nullable === true ? `(${source} === null || ${source} === undefined ? null : String(${source}))` : `String(${source})`
  if (column.nullable === true) return `toNullableNumber(${source})`
  return column.absentAs === undefined ? `toNumber(${source})` : `toNumber(${source} ?? ${column.absentAs})`
}

interface Entry { read?: string, inner: string[], nullWhen?: string }

/**
 * The source of an object literal of these columns' fields, each read from `sourceOf(column, i)`, after the `given`
 * fields (the reader's first arguments). A field of an object ('last.seq') goes into that object, which is null when
 * its first column is NULL.
 */
function literalOf (columns: readonly Column[], sourceOf: (column: Column, i: number) => string, given: readonly string[] = []): string {
  const entries = new Map<string, Entry>(given.map((field) => [field, { read: field, inner: [] }]))
  columns.map(checked).forEach((column, i) => {
    const [name = '', inner] = column.field.split('.')
    const source = sourceOf(column, i)
    if (inner === undefined) {
      entries.set(name, { read: readOf(column, source), inner: [] })
      return
    }
    const entry = entries.get(name) ?? { inner: [], nullWhen: column.nullable === true ? source : undefined }
    // The column the object's null is read from is not null within the object.
    entry.inner.push(`${inner}: ${readOf(entry.nullWhen === source ? { ...column, nullable: false } : column, source)}`)
    entries.set(name, entry)
  })
  const fields = [...entries].map(([name, { read, inner, nullWhen }]) => {
    if (read !== undefined) return `${name}: ${read}`
    const object = `{ ${inner.join(', ')} }`
    return `${name}: ${nullWhen === undefined ? object : `${nullWhen} === null || ${nullWhen} === undefined ? null : ${object}`}`
  })
  return `({ ${fields.join(', ')} })`
}

function compile<F> (parameters: readonly string[], body: string): F {
  // Made once at load, from the table of columns alone.
  // eslint-disable-next-line no-new-func
  return new Function('toNumber', 'toNullableNumber', `return (${parameters.join(', ')}) => ${body}`)(toNumber, toNullableNumber) as F
}

/** A reader of column values in these columns' order (arrays: better-sqlite3's raw rows, pg's arrays), from index 0. */
function valuesReader<T> (columns: readonly Column[]): (values: readonly unknown[]) => T {
  return compile(['values'], literalOf(columns, (_, i) => `values[${i}]`))
}

/** The same from index `at`. */
function valuesReaderAt<T> (columns: readonly Column[]): (values: readonly unknown[], at: number) => T {
  return compile(['values', 'at'], literalOf(columns, (_, i) => `values[at + ${i}]`))
}

/** A reader of a row object with these columns. */
function rowReader<T> (columns: readonly Column[]): (row: Row) => T {
  return compile(['row'], literalOf(columns, (column) => `row.${column.name}`))
}

/** A writer of these columns' values, in their order, from a domain value (positional parameters: cheaper to bind than named ones). */
function writer<T> (columns: readonly Column[]): (value: T) => unknown[] {
  const values = columns.map(checked).map(({ field }) => field.includes('.') ? `value.${field.replace('.', '?.')} ?? null` : `value.${field}`)
  return compile(['value'], `[${values.join(', ')}]`)
}

/** A message from its column values in MESSAGE order. */
export const toStoredMessageFromValues = valuesReader<StoredMessage>(MESSAGE)
export const toStoredMessage = rowReader<StoredMessage>(MESSAGE)
/** A message of `receiverUid` from its column values in PAGE order (a page leaves receiver_uid out). */
export const toReceiverMessageFromValues: (receiverUid: string, values: readonly unknown[]) => StoredMessage =
  compile(['receiverUid', 'values'], literalOf(PAGE, (_, i) => `values[${i}]`, ['receiverUid']))
export const storedMessageValues = writer<StoredMessage>(MESSAGE)
export const toPendingMessage = rowReader<PendingMessage>(PENDING)
/** A message's column values with its readers, in PENDING order. */
export const pendingMessageValues = writer<PendingMessage>(PENDING)

/** A tombstone from the MESSAGE values followed by purge_at. */
export function toTombstoneFromValues (values: readonly unknown[]): Tombstone {
  return { message: toStoredMessageFromValues(values), purgeAt: toNumber(values[MESSAGE.length]) }
}

export function toTombstone (row: Row): Tombstone {
  return { message: toStoredMessage(row), purgeAt: toNumber(row.purge_at) }
}

/**
 * A removed message from a row with REMOVED_MESSAGE's columns: `readers` the bits taken from it (all it had when it is removed whole),
 * `remaining` those still pending (0, or absent, when it is deleted).
 */
export const toRemovedMessage = rowReader<RemovedMessage>(REMOVED_MESSAGE)

export const toReceiverState = rowReader<ReceiverState>(RECEIVER)
export const toReceiverStateFromValues = valuesReader<ReceiverState>(RECEIVER)
export const receiverValues = writer<ReceiverState>(RECEIVER)
/** A receiver's row as an UPDATE of it binds it: what it sets (RECEIVER_STATE), then its key. */
export const receiverUpdateValues = writer<ReceiverState>([...RECEIVER_STATE, ...RECEIVER_KEY])

export const toDevice = rowReader<Device>(DEVICE)
export const deviceValues = writer<Device>(DEVICE)

/** A summary row from its column values in SUMMARY_ROW order. */
export const toSummaryRowFromValues = valuesReader<SummaryRow>(SUMMARY_ROW)
/** The same from `values[at]` on. */
export const toSummaryRowFromValuesAt = valuesReaderAt<SummaryRow>(SUMMARY_ROW)
/** A summary row of `receiverUid` and `reader` from its column values in SUMMARY_VIEW order. */
export const toReaderSummaryRowFromValues: (receiverUid: string, reader: number, values: readonly unknown[]) => SummaryRow =
  compile(['receiverUid', 'reader', 'values'], literalOf(SUMMARY_VIEW, (_, i) => `values[${i}]`, ['receiverUid', 'reader']))
export const toSummaryRow = rowReader<SummaryRow>(SUMMARY_ROW)
export const summaryRowValues = writer<SummaryRow>(SUMMARY_ROW)

/**
 * An event from its values in the feed's column order (id, type, occurred_at, receiver_uid, device_id, sender_uid,
 * msg_id, seq, pending_count, msg_type, content_preview, devices as JSON text); its id is also its position.
 */
export function eventFromValues (values: readonly unknown[], position: string): EventView {
  const text = (value: unknown): string | null => value === null || value === undefined ? null : String(value)
  const devices = text(values[11])
  return {
    position,
    id: String(values[0]),
    type: String(values[1]) as EventType,
    occurredAt: toNumber(values[2]),
    receiverUid: String(values[3]),
    deviceId: text(values[4]),
    senderUid: text(values[5]),
    msgId: text(values[6]),
    seq: toNullableNumber(values[7]),
    pendingCount: toNumber(values[8]),
    msgType: toNullableNumber(values[9]),
    contentPreview: text(values[10]),
    devices: devices === null ? null : (JSON.parse(devices) as unknown[]).map(String)
  }
}

/** An event's devices as its `devices` column keeps them (JSON text; eventFromValues reads it back). */
export const devicesText = (devices: readonly string[] | null): string | null => devices === null ? null : JSON.stringify(devices)

/**
 * The rows of SQL.findForRecalls (each a 'pending', a 'tombstone' or a summary 'row' part) as one RecallTarget per
 * target, in the targets' order, and the summary rows. Pending comes first: a tombstone is the answer only for a
 * message no longer pending.
 */
export function toRecallsFound (targets: readonly RecallKey[], found: readonly Row[]): RecallsFound {
  const byKey = new Map<string, RecallTarget>()
  const summaryRows: SummaryRow[] = []
  for (const row of found) {
    if (row.part === 'row') {
      summaryRows.push(toSummaryRow(row))
      continue
    }
    const key = mapKey(String(row.receiver_uid), String(row.msg_id))
    const target = byKey.get(key) ?? {}
    if (row.part === 'pending') target.pending = toPendingMessage(row)
    else target.tombstone = { message: toStoredMessage(row), recall: row.recall === null ? null : String(row.recall) }
    byKey.set(key, target)
  }
  return {
    targets: targets.map(({ receiverUid, msgId }) => {
      const target = byKey.get(mapKey(receiverUid, msgId)) ?? {}
      return target.pending !== undefined ? { pending: target.pending } : target
    }),
    summaryRows
  }
}
