// The mappers made from the table of columns (src/store/columns.ts): each domain value goes to its column values and
// back unchanged, from arrays and from row objects, with PostgreSQL's bigint strings read as numbers; and the
// parameter builder numbers `$n` in the order asked.
import t from 'tap'
import type { Device, PendingMessage, ReceiverState, SummaryRow } from '../../src/domain/model.js'
import { DEVICE, PENDING, RECEIVER, SUMMARY_ROW, type Column } from '../../src/store/columns.js'
import { arrays, params } from '../../src/store/postgres/params.js'
import {
  deviceValues, pendingMessageValues, receiverValues, summaryRowValues, toDevice, toReceiverMessageFromValues, toReceiverState,
  toReceiverStateFromValues, toRemovedMessage, toStoredMessage, toStoredMessageFromValues, toSummaryRow, toSummaryRowFromValues,
  toSummaryRowFromValuesAt, toTombstoneFromValues
} from '../../src/store/row-mapper.js'

const message: PendingMessage = {
  receiverUid: 'bob', seq: 7, msgId: 'm-7', senderUid: 'alice', msgType: 2, content: 'hi', sendTime: 1000, storedAt: 2000, expiresAt: 3000, collapseKey: null, readers: 5
}
const { readers: _readers, ...stored } = message

/** A row object as pg answers it: each column by name, bigints as strings. */
function asRow (columns: readonly Column[], values: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(columns.map(({ name, type }, i) => [name, type === 'bigint' && values[i] !== null ? String(values[i]) : values[i]]))
}

t.test('a message goes to its column values and back, whole or as a page leaves out its receiver', async (t) => {
  const values = pendingMessageValues(message)
  t.strictSame(values, ['bob', 7, 'm-7', 'alice', 2, 'hi', 1000, 2000, 3000, null, 5])
  t.strictSame(toStoredMessageFromValues(values), stored)
  t.strictSame(toStoredMessage(asRow(PENDING, values)), stored)
  t.strictSame(toReceiverMessageFromValues('bob', values.slice(1)), stored)
  t.strictSame(toTombstoneFromValues([...values.slice(0, -1), 4000]), { message: stored, purgeAt: 4000 })
})

t.test('a collapse key is read as the string it is, and its absence as null (never "null")', async (t) => {
  const keyed = pendingMessageValues({ ...message, collapseKey: 'typing' })
  t.equal(toStoredMessageFromValues(keyed).collapseKey, 'typing')
  t.equal(toStoredMessage(asRow(PENDING, keyed)).collapseKey, 'typing')
  t.equal(toStoredMessage({ ...asRow(PENDING, keyed), collapse_key: null }).collapseKey, null)
  t.equal(toStoredMessage({ ...asRow(PENDING, keyed), collapse_key: undefined }).collapseKey, null)
})

t.test('a removed message reads its readers, and remaining as 0 when a row has none', async (t) => {
  const row = asRow(PENDING, pendingMessageValues(message))
  const key = { receiverUid: 'bob', seq: 7, senderUid: 'alice', msgId: 'm-7', expiresAt: 3000, readers: 5 }
  t.strictSame(toRemovedMessage(row), { ...key, remaining: 0 })
  t.strictSame(toRemovedMessage({ ...row, remaining: '4' }), { ...key, remaining: 4 })
})

t.test('a summary row keeps its latest message, or none, and nullable columns as null', async (t) => {
  const last = { seq: 9, sendTime: 1500, msgType: 1, preview: 'hel' }
  const rows: SummaryRow[] = [
    { receiverUid: 'bob', reader: 2, senderUid: 'alice', pendingCount: 3, last, sortSeq: 9, lostCount: 1, lostSeq: 4 },
    { receiverUid: 'bob', reader: 0, senderUid: 'carol', pendingCount: 0, last: null, sortSeq: 6, lostCount: 2, lostSeq: 6 }
  ]
  for (const row of rows) {
    const values = summaryRowValues(row)
    t.equal(values.length, SUMMARY_ROW.length)
    t.strictSame(toSummaryRowFromValues(values), row)
    t.strictSame(toSummaryRowFromValuesAt(['x', 'y', ...values], 2), row)
    t.strictSame(toSummaryRow(asRow(SUMMARY_ROW, values)), row)
  }
})

t.test('receivers and devices go to their column values and back', async (t) => {
  const receiver: ReceiverState = { receiverUid: 'bob', lastSeq: 12, pendingCount: 3, nextExpiry: null, devices: 6 }
  t.strictSame(toReceiverStateFromValues(receiverValues(receiver)), receiver)
  t.strictSame(toReceiverState(asRow(RECEIVER, receiverValues(receiver))), receiver)
  const device: Device = { receiverUid: 'bob', deviceId: 'phone', slot: 1, registeredAt: 1000, lastAckAt: null }
  t.strictSame(toDevice(asRow(DEVICE, deviceValues(device))), device)
  t.strictSame(toDevice(asRow(DEVICE, deviceValues({ ...device, lastAckAt: 2000 }))), { ...device, lastAckAt: 2000 })
})

t.test('the parameter builder numbers $n in the order asked, casts and binds', async (t) => {
  const p = params()
  t.equal(p.next(), '$1')
  t.equal(arrays(p, RECEIVER), '$2::text[], $3::bigint[], $4::integer[], $5::bigint[], $6::integer[]')
  t.equal(p.next('text'), '$7::text')
  const bound = params()
  t.strictSame(['a', 'b'].map((value) => bound.add(value)), ['$1', '$2'])
  t.strictSame(bound.values, ['a', 'b'])
})
