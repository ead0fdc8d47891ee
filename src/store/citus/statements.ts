// Citus's shapes of the statements that differ from PostgreSQL's (postgres/statements.ts): acks that answer the
// messages they delete, and the rows a transaction inserts as multi-row VALUES, each part a statement of its own.
import { PENDING, TOMBSTONE, names } from '../columns.js'
import { params } from '../postgres/params.js'
import {
  DELETE_SUMMARY_ROWS, RECEIVERS, SUMMARY_ROWS, TOMBSTONES, TOUCH_DEVICES, UPSERT_RECEIVER, UPSERT_RECEIVER_ONTO_ITSELF, UPSERT_SUMMARY_ROW,
  keyedBy, removeAckedSql, sql, type Sql
} from '../postgres/sql-parts.js'
import type { Withdrawal } from '../types.js'
import { mapKey } from '../../lib/map-key.js'

/** Citus's named statements of one text. */
export const CITUS_SQL = {
  // SQL.removeAcked without the tombstones' INSERT ... SELECT, which Citus runs through the coordinator; the removed
  // messages' columns come back instead, and the tombstones go in the transaction's write (CITUS.writeBack).
  removeAckedOnCitus: removeAckedSql('remove_acked_on_citus', 'return'),
  // SQL.withdraw without the tombstones' INSERT ... SELECT: the deleted messages come back whole, and their tombstones
  // go in a statement of their own (CITUS.withdrawnTombstones).
  withdrawOnCitus: sql('withdraw_on_citus',
    'DELETE FROM messages m USING unnest($1::text[], $2::bigint[]) AS k (receiver_uid, seq) ' +
    `WHERE ${keyedBy('m.receiver_uid', '$1::text[]')} AND m.receiver_uid = k.receiver_uid AND m.seq = k.seq RETURNING ${names(PENDING, 'm')}`)
} as const

/** On Citus, writeBack's updates as statements of their own, each of one text: named, so parsed once a connection. */
const CITUS_UPDATES = {
  deleteSummaryRows: sql('citus_delete_conversations', DELETE_SUMMARY_ROWS(params())),
  touchDevices: sql('citus_touch_devices', TOUCH_DEVICES(params()))
}

/** What CITUS.writeBack writes: rows to insert (or upsert), and the arrays of the updates by unnest. */
export interface CitusWrites {
  messages: ReadonlyArray<readonly unknown[]>
  saved: ReadonlyArray<readonly unknown[]>
  tombstones: ReadonlyArray<readonly unknown[]>
  receivers: ReadonlyArray<readonly unknown[]>
  /** DELETE_SUMMARY_ROWS's arrays (receiver_uid, reader, sender_uid), and TOUCH_DEVICES's (receiver_uid, slot, at). */
  deleted: unknown[][]
  touched: unknown[][]
}

/**
 * Citus's shapes of the statements that insert rows given by the service: multi-row VALUES. Citus sends an INSERT ...
 * VALUES whose rows all belong to one shard to that shard as one task, where it runs an INSERT ... SELECT FROM unnest
 * through the coordinator, in several steps, and prepares the transaction for a two-phase commit. Their text depends on
 * the number of rows, so they go unnamed (parsed at each call: Citus plans a multi-row INSERT at each call anyway).
 */
export const CITUS = {
  /** The tombstones of withdrawn messages deleted by withdrawOnCitus, as VALUES, each with its withdrawal's recall. */
  withdrawnTombstones (deleted: ReadonlyArray<Record<string, unknown>>, withdrawals: readonly Withdrawal[], now: number, tombstoneUntil: number): { sql: Sql, values: unknown[] } | undefined {
    if (deleted.length === 0) return undefined
    const recalls = new Map(withdrawals.map(({ message, recall }) => [mapKey(message.receiverUid, message.seq), recall]))
    const p = params()
    const rows = deleted.map((row) => {
      const values = [...TOMBSTONE.map(({ name }) => name === 'acked_at' ? now : name === 'purge_at' ? tombstoneUntil : row[name]), recalls.get(mapKey(String(row.receiver_uid), Number(row.seq))) ?? null]
      return `(${values.map((value) => p.add(value)).join(', ')})`
    }).join(', ')
    return { sql: { name: '', text: `INSERT INTO tombstones (${TOMBSTONES}, recall) VALUES ${rows}` }, values: p.values }
  },

  lockReceivers (receiverUids: readonly string[]): { sql: Sql, values: unknown[] } {
    const p = params()
    const rows = receiverUids.map((receiverUid) => `(${p.add(receiverUid)}, 0, 0, NULL, 0)`).join(', ')
    return { sql: { name: '', text: `INSERT INTO receivers (${RECEIVERS}) VALUES ${rows} ${UPSERT_RECEIVER_ONTO_ITSELF}` }, values: p.values }
  },

  /**
   * writeBack as statements of their own, one per part that has rows: its inserts as VALUES with the tombstones that
   * removeAckedOnCitus answered, the receivers' rows as an upsert of VALUES (each row exists, locked by lockReceivers:
   * it always updates), then the updates by unnest. Citus runs no CTE that writes as part of one task: it plans and
   * runs each such CTE as a subplan of its own, and then the statement around them, even when all name one shard
   * (EXPLAIN: a "Distributed Subplan" per part). A part keyed by an empty array would go to every shard. The receivers
   * as VALUES, not UPDATE_RECEIVERS: Citus routes an INSERT's rows to their shards without planning a join on each
   * (the cost per statement measured: docs/postgresql-and-citus.md#scaling-out-citus).
   */
  writeBack (writes: CitusWrites): Array<{ sql: Sql, values: unknown[] }> {
    const statements: Array<{ sql: Sql, values: unknown[] }> = []
    const insert = (into: string, list: ReadonlyArray<readonly unknown[]>, suffix = ''): void => {
      if (list.length === 0) return
      const p = params()
      const rows = list.map((row) => `(${row.map((value) => p.add(value)).join(', ')})`).join(', ')
      statements.push({ sql: { name: '', text: `INSERT INTO ${into} VALUES ${rows}${suffix}` }, values: p.values })
    }
    insert(`messages (${names(PENDING)})`, writes.messages)
    insert(`conversations (${SUMMARY_ROWS})`, writes.saved, ` ${UPSERT_SUMMARY_ROW}`)
    insert(`tombstones (${TOMBSTONES})`, writes.tombstones)
    insert(`receivers (${RECEIVERS})`, writes.receivers, ` ${UPSERT_RECEIVER}`)
    if ((writes.deleted[0]?.length ?? 0) > 0) statements.push({ sql: CITUS_UPDATES.deleteSummaryRows, values: writes.deleted })
    if ((writes.touched[0]?.length ?? 0) > 0) statements.push({ sql: CITUS_UPDATES.touchDevices, values: writes.touched })
    return statements
  }
}
