// How a transaction words its statements (TxStatements): the plain ones of statements.ts here, or another backend's
// shapes of them; with what every shape shares: the writes kept unsent, and rows turned into unnest's arrays.
import type { Ack, PendingMessage, ReceiverState, SummaryRow } from '../../domain/model.js'
import { bitOf } from '../../domain/readers.js'
import { DEVICE_ACK, PENDING, RECEIVER, SUMMARY_ROW, SUMMARY_ROW_KEY } from '../columns.js'
import { pendingMessageValues, receiverValues, summaryRowValues } from '../row-mapper.js'
import type { SummaryRowKey, Withdrawal } from '../types.js'
import type { Statement } from './pool.js'
import { SQL, WRITE_BACK_PARTS, writeBackOf, type Sql, type WriteBackPart } from './statements.js'
import { givenEventArrays } from './event-statements.js'
import type { EventRecord } from '../../domain/events.js'

/** Rows as one array per column, for unnest: [[a1, b1], [a2, b2]] becomes [[a1, a2], [b1, b2]]. */
export function columns (rows: ReadonlyArray<readonly unknown[]>, width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => [])
  for (const row of rows) for (let i = 0; i < width; i++) out[i]?.push(row[i])
  return out
}

/**
 * The acks as the arrays of SQL.removeAcked: (receiver, msg_id, reader's bit), and (receiver, up_to_seq, sender or
 * NULL, reader's bit).
 */
export function ackArrays (acks: readonly Ack[]): unknown[][] {
  const byIds: Array<[string, string, number]> = []
  const upTo: Array<[string, number, string | null, number]> = []
  for (const { receiverUid, reader, selector } of acks) {
    if (selector.kind === 'ids') for (const msgId of new Set(selector.msgIds)) byIds.push([receiverUid, msgId, bitOf(reader)])
    else upTo.push([receiverUid, selector.upToSeq, selector.senderUid ?? null, bitOf(reader)])
  }
  return [...columns(byIds, 3), ...columns(upTo, 4)]
}

/** What a transaction has written but not yet sent: the last write of each row. */
export interface Unsent {
  messages: PendingMessage[]
  summaryRows: Map<string, { save: SummaryRow } | { delete: SummaryRowKey }>
  receivers: Map<string, ReceiverState>
  /** Devices that acked: (receiver, slot) under mapKey, and when. */
  touched: Map<string, readonly [receiverUid: string, slot: number, at: number]>
  /** The tombstones of what a removeAcked that answers them deleted (the plain one writes them itself). */
  tombstones: unknown[][]
  /** Messages withdrawn (TxStatements.defersWithdrawals): each with when, and until when its tombstone stays (none when null). */
  withdrawals: Array<{ withdrawal: Withdrawal, now: number, tombstoneUntil: number | null }>
  /** The transaction's events, each giving all (TxStatements.carriesEvents), and when they are recorded; null: none. */
  events: { records: readonly EventRecord[], now: number } | null
}

export const nothingUnsent = (): Unsent =>
  ({ messages: [], summaryRows: new Map(), receivers: new Map(), touched: new Map(), tombstones: [], withdrawals: [], events: null })

/** Whether nothing is unsent. */
export const isEmpty = ({ messages, summaryRows, receivers, touched, tombstones, withdrawals, events }: Unsent): boolean =>
  messages.length === 0 && summaryRows.size === 0 && receivers.size === 0 && touched.size === 0 && tombstones.length === 0 &&
  withdrawals.length === 0 && events === null

/** The receivers of what is unsent. */
export function * receiversOf ({ messages, summaryRows, receivers, touched, withdrawals }: Unsent): Generator<string> {
  for (const message of messages) yield message.receiverUid
  for (const { withdrawal } of withdrawals) yield withdrawal.message.receiverUid
  for (const write of summaryRows.values()) yield 'save' in write ? write.save.receiverUid : write.delete[0]
  yield * receivers.keys()
  for (const [receiverUid] of touched.values()) yield receiverUid
}

/** What is unsent as rows (messages with their readers, summary rows saved, receivers) and as unnest's arrays (deleted, touched). */
export interface UnsentRows {
  messages: unknown[][]
  saved: unknown[][]
  tombstones: unknown[][]
  receivers: unknown[][]
  deleted: unknown[][]
  touched: unknown[][]
}

export function rowsOf ({ messages, summaryRows, receivers, touched, tombstones }: Unsent): UnsentRows {
  const saved: SummaryRow[] = []
  const deleted: SummaryRowKey[] = []
  for (const write of summaryRows.values()) {
    if ('save' in write) saved.push(write.save)
    else deleted.push(write.delete)
  }
  return {
    messages: messages.map(pendingMessageValues),
    saved: saved.map(summaryRowValues),
    tombstones,
    receivers: [...receivers.values()].map(receiverValues),
    deleted: columns(deleted, SUMMARY_ROW_KEY.length),
    touched: columns([...touched.values()], DEVICE_ACK.length)
  }
}

/** How one transaction words its statements. Each call names the receivers of its statement. */
export interface TxStatements {
  /** A statement of one shape whatever the backend, naming these receivers, as this transaction sends it. */
  on (sql: Sql, receiverUids: Iterable<string>): Sql
  /** The lock of these receivers' rows, made when missing. */
  lockReceivers (receiverUids: readonly string[]): Statement
  /**
   * The removal of what these acks select, as statements run one after the other; with `returnsTombstones`, their
   * removed rows are the deleted messages whole, for the write-back to keep as tombstones.
   */
  removeAcked (acks: readonly Ack[], now: number, tombstoneUntil: number | null): { statements: Statement[], returnsTombstones: boolean }
  /** The write of what is unsent, as statements run one after the other. */
  writeBack (unsent: Unsent): Statement[]
  /**
   * The deletion of withdrawn messages with their tombstones: one statement, or, with `tombstones`, one that answers
   * the deleted rows whole and a second, made from them, that writes their tombstones.
   */
  withdraw (withdrawals: readonly Withdrawal[], now: number, tombstoneUntil: number | null): { statement: Statement, tombstones?: (deleted: ReadonlyArray<Record<string, unknown>>) => Statement | undefined }
  /** Whether withdrawals may wait for the write-back (Unsent.withdrawals), instead of `withdraw`'s statements at once. */
  readonly defersWithdrawals: boolean
  /** Whether events that give all may wait for the write-back (Unsent.events), instead of their own statement. */
  readonly carriesEvents: boolean
}

/** The plain statements, each as `named` names it (by default as it is). */
export function plainStatements (named: (sql: Sql) => Sql = (sql) => sql): TxStatements {
  return {
    on: (sql) => named(sql),
    lockReceivers: (receiverUids) => ({ sql: named(SQL.lockReceivers), values: [receiverUids] }),
    removeAcked: (acks, now, tombstoneUntil) => ({ statements: [{ sql: named(SQL.removeAcked), values: [...ackArrays(acks), now, tombstoneUntil] }], returnsTombstones: false }),
    withdraw: (withdrawals, now, tombstoneUntil) => ({
      statement: { sql: named(SQL.withdraw), values: [...columns(withdrawals.map(({ message, recall }) => [message.receiverUid, message.seq, recall]), 3), now, tombstoneUntil] }
    }),
    defersWithdrawals: true,
    carriesEvents: true,
    writeBack (unsent) {
      const rows = rowsOf(unsent)
      // Only the parts that have rows, each on its arrays (writeBackOf).
      const arraysOf: Record<WriteBackPart, unknown[][]> = {
        messages: columns(rows.messages, PENDING.length),
        saved: columns(rows.saved, SUMMARY_ROW.length),
        deleted: rows.deleted,
        receivers: columns(rows.receivers, RECEIVER.length),
        touched: rows.touched
      }
      const parts = WRITE_BACK_PARTS.filter((part) => (arraysOf[part][0]?.length ?? 0) > 0)
      const values: unknown[] = parts.flatMap((part) => arraysOf[part])
      const withdrawing = unsent.withdrawals.length > 0
      if (withdrawing) {
        const withdrawn = unsent.withdrawals.map(({ withdrawal: { message, recall }, now, tombstoneUntil }) => [message.receiverUid, message.seq, recall, now, tombstoneUntil])
        values.push(...columns(withdrawn, 5))
      }
      if (unsent.events !== null) values.push(...givenEventArrays(unsent.events.records, unsent.events.now))
      return [{ sql: named(writeBackOf(parts, withdrawing, unsent.events !== null)), values }]
    }
  }
}
