// The SQL of the embedded store: every statement prepared once on its connection (raw rows where a row becomes a
// message: arrays are much cheaper to read than objects in better-sqlite3).
import type { Database, Statement } from 'better-sqlite3'
import {
  DEVICE, MESSAGE, PAGE, PENDING, RECEIVER, RECEIVER_KEY, RECEIVER_STATE, REMOVED_MESSAGE_ROW, SUMMARY_ROW, SUMMARY_ROW_KEY, SUMMARY_ROW_STATE, SUMMARY_VIEW,
  names, type Column
} from '../columns.js'
import { toNullableNumber } from '../row-mapper.js'
import { eventStatements } from './event-statements.js'
import { webhookStatements } from './webhook-statements.js'

export type Row = Record<string, unknown>

const MESSAGE_COLUMNS = names(MESSAGE)
// A page leaves out receiver_uid: turning a value into a JavaScript string is most of a page's cost in better-sqlite3.
const PAGE_COLUMNS = names(PAGE)
const REMOVED_COLUMNS = names(REMOVED_MESSAGE_ROW)
const DEVICE_COLUMNS = names(DEVICE)
const SUMMARY_ROW_COLUMNS = names(SUMMARY_ROW)
/** One `?` per column. */
const placeholders = (columns: readonly Column[]): string => columns.map(() => '?').join(', ')
/** `column = ?` for each of these columns. */
const assignments = (columns: readonly Column[], value: (name: string) => string): string => columns.map(({ name }) => `${name} = ${value(name)}`).join(', ')

export type Statements = ReturnType<typeof prepareStatements>

/** Counts every execution of the statement in counts.statements (for the metrics: SQL statements per request). */
function counted (statement: Statement, counts: { statements: number }): Statement {
  for (const method of ['run', 'get', 'all'] as const) {
    const execute = statement[method].bind(statement) as (...params: unknown[]) => never
    statement[method] = (...params: unknown[]) => {
      counts.statements++
      return execute(...params)
    }
  }
  return statement
}

export function prepareStatements (db: Database, counts: { statements: number }) {
  const p = (sql: string): Statement => counted(db.prepare(sql), counts)
  return {
    begin: p('BEGIN IMMEDIATE'),
    // A group of reads (store.ts): one snapshot, one lock on the WAL's read mark for all of them.
    beginRead: p('BEGIN DEFERRED'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),
    receiver: p(`SELECT ${names(RECEIVER)} FROM receivers WHERE receiver_uid = ?`),
    insertReceiver: p('INSERT INTO receivers (receiver_uid, last_seq, pending_count, next_expiry) VALUES (?, 0, 0, NULL)'),
    saveReceiver: p(`UPDATE receivers SET ${assignments(RECEIVER_STATE, () => '?')} WHERE ${assignments(RECEIVER_KEY, () => '?')}`),
    findPending: p(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND msg_id = ?`).raw(true),
    findPendingLive: p(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND msg_id = ? AND expires_at > ? AND (readers & ?) <> 0`).raw(true),
    findTombstone: p(`SELECT ${MESSAGE_COLUMNS}, purge_at FROM tombstones WHERE receiver_uid = ? AND msg_id = ?`).raw(true),
    deleteTombstone: p('DELETE FROM tombstones WHERE receiver_uid = ? AND msg_id = ?'),
    insertMessage: p(`INSERT INTO messages (${names(PENDING)}) VALUES (${placeholders(PENDING)})`),
    oldestPending: p(`SELECT ${REMOVED_COLUMNS} FROM messages WHERE receiver_uid = ? ORDER BY seq ASC LIMIT 1`),
    expiredPending: p(`SELECT ${REMOVED_COLUMNS} FROM messages WHERE receiver_uid = ? AND expires_at <= ? ORDER BY seq ASC LIMIT ?`),
    earliestExpiry: p('SELECT min(expires_at) AS v FROM messages WHERE receiver_uid = ?'),
    // An ack keeps what it takes as tombstones first, then deletes it: the same selection, twice.
    tombstoneById: p(`INSERT INTO tombstones (${MESSAGE_COLUMNS}, acked_at, purge_at) SELECT ${MESSAGE_COLUMNS}, ?, ? FROM messages WHERE receiver_uid = ? AND msg_id = ? AND expires_at > ?`),
    ackById: p(`DELETE FROM messages WHERE receiver_uid = ? AND msg_id = ? AND expires_at > ? RETURNING ${REMOVED_COLUMNS}`),
    tombstoneUpTo: p(`INSERT INTO tombstones (${MESSAGE_COLUMNS}, acked_at, purge_at) SELECT ${MESSAGE_COLUMNS}, ?, ? FROM messages WHERE receiver_uid = ? AND seq <= ? AND expires_at > ?`),
    ackUpTo: p(`DELETE FROM messages WHERE receiver_uid = ? AND seq <= ? AND expires_at > ? RETURNING ${REMOVED_COLUMNS}`),
    tombstoneUpToOfSender: p(`INSERT INTO tombstones (${MESSAGE_COLUMNS}, acked_at, purge_at) SELECT ${MESSAGE_COLUMNS}, ?, ? FROM messages ` +
      'WHERE receiver_uid = ? AND sender_uid = ? AND seq <= ? AND expires_at > ?'),
    ackUpToOfSender: p(`DELETE FROM messages WHERE receiver_uid = ? AND sender_uid = ? AND seq <= ? AND expires_at > ? RETURNING ${REMOVED_COLUMNS}`),
    deleteMessage: p('DELETE FROM messages WHERE receiver_uid = ? AND seq = ?'),
    // A device's ack takes its bit (the first parameter, also the last) from what it selects; remaining is what is left.
    takeById: p(`UPDATE messages SET readers = readers & ~? WHERE receiver_uid = ? AND msg_id = ? AND expires_at > ? AND (readers & ?) <> 0 RETURNING ${REMOVED_COLUMNS.replace('readers', 'readers AS remaining')}`),
    takeUpTo: p(`UPDATE messages SET readers = readers & ~? WHERE receiver_uid = ? AND seq <= ? AND expires_at > ? AND (readers & ?) <> 0 RETURNING ${REMOVED_COLUMNS.replace('readers', 'readers AS remaining')}`),
    takeUpToOfSender: p('UPDATE messages SET readers = readers & ~? WHERE receiver_uid = ? AND sender_uid = ? AND seq <= ? AND expires_at > ? AND (readers & ?) <> 0 ' +
      `RETURNING ${REMOVED_COLUMNS.replace('readers', 'readers AS remaining')}`),
    tombstoneBySeq: p(`INSERT INTO tombstones (${MESSAGE_COLUMNS}, acked_at, purge_at) SELECT ${MESSAGE_COLUMNS}, ?, ? FROM messages WHERE receiver_uid = ? AND seq = ?`),
    lastPendingOfSender: p(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND sender_uid = ? AND (readers & ?) <> 0 ORDER BY seq DESC LIMIT 1`).raw(true),
    findConversations: p(`SELECT ${SUMMARY_ROW_COLUMNS} FROM conversations WHERE receiver_uid = ? AND sender_uid = ?`).raw(true),
    saveConversation: p(`INSERT INTO conversations (${SUMMARY_ROW_COLUMNS}) VALUES (${placeholders(SUMMARY_ROW)}) ` +
      `ON CONFLICT (${names(SUMMARY_ROW_KEY)}) DO UPDATE SET ${assignments(SUMMARY_ROW_STATE, (name) => `excluded.${name}`)}`),
    deleteConversation: p('DELETE FROM conversations WHERE receiver_uid = ? AND reader = ? AND sender_uid = ?'),
    lostConversations: p(`SELECT ${SUMMARY_ROW_COLUMNS} FROM conversations WHERE receiver_uid = ? AND reader = ? AND lost_count > 0 AND lost_seq <= ?`).raw(true),
    lostConversationOfSender: p(`SELECT ${SUMMARY_ROW_COLUMNS} FROM conversations WHERE receiver_uid = ? AND reader = ? AND sender_uid = ? AND lost_count > 0 AND lost_seq <= ?`).raw(true),
    summary: p(`SELECT ${names(SUMMARY_VIEW)} FROM conversations WHERE receiver_uid = ? AND reader = ? AND sort_seq < ? ORDER BY sort_seq DESC LIMIT ?`).raw(true),
    readerPending: p('SELECT coalesce(sum(pending_count), 0) AS v FROM conversations WHERE receiver_uid = ? AND reader = ?'),
    page: p(`SELECT ${PAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND seq > ? AND expires_at > ? AND (readers & ?) <> 0 ORDER BY seq ASC LIMIT ?`).raw(true),
    pageOfSender: p(`SELECT ${PAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND sender_uid = ? AND seq > ? AND expires_at > ? AND (readers & ?) <> 0 ORDER BY seq ASC LIMIT ?`).raw(true),
    deviceSlot: p('SELECT slot AS v FROM devices WHERE receiver_uid = ? AND device_id = ?'),
    findDevices: p(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE receiver_uid = ?`),
    devices: p(`SELECT ${names(DEVICE, 'd')}, (SELECT coalesce(sum(c.pending_count), 0) FROM conversations c ` +
      'WHERE c.receiver_uid = d.receiver_uid AND c.reader = d.slot) AS pending_count FROM devices d WHERE d.receiver_uid = ? ORDER BY d.registered_at, d.slot'),
    insertDevice: p(`INSERT INTO devices (${DEVICE_COLUMNS}) VALUES (${placeholders(DEVICE)})`),
    deleteDevice: p('DELETE FROM devices WHERE receiver_uid = ? AND device_id = ?'),
    deleteReaderConversations: p('DELETE FROM conversations WHERE receiver_uid = ? AND reader = ?'),
    takeOverMessages: p('UPDATE messages SET readers = ? WHERE receiver_uid = ?'),
    takeOverConversations: p('UPDATE conversations SET reader = ? WHERE receiver_uid = ? AND reader = 0'),
    touchDevice: p('UPDATE devices SET last_ack_at = ? WHERE receiver_uid = ? AND slot = ?'),
    dueForExpiry: p('SELECT receiver_uid FROM receivers WHERE next_expiry <= ? ORDER BY next_expiry ASC LIMIT ?'),
    purgeTombstones: p('DELETE FROM tombstones WHERE (receiver_uid, msg_id) IN (SELECT receiver_uid, msg_id FROM tombstones WHERE purge_at <= ? LIMIT ?)'),
    sumPending: p('SELECT coalesce(sum(pending_count), 0) AS v FROM receivers'),
    expiredUnswept: p('SELECT count(*) AS v FROM messages m JOIN receivers r ON r.receiver_uid = m.receiver_uid WHERE r.next_expiry <= ? AND m.expires_at <= ?'),
    // v1.2: collapse keys, recall, erasure (none of them on a v1 request's path).
    findCollapsible: p(`SELECT ${REMOVED_COLUMNS}, collapse_key, stored_at FROM messages WHERE receiver_uid = ? AND sender_uid = ? AND collapse_key = ?`),
    findWithReaders: p(`SELECT ${names(PENDING)} FROM messages WHERE receiver_uid = ? AND msg_id = ?`),
    findTombstoneForRecall: p(`SELECT ${MESSAGE_COLUMNS}, recall FROM tombstones WHERE receiver_uid = ? AND msg_id = ?`),
    tombstoneWithdrawn: p(`INSERT INTO tombstones (${MESSAGE_COLUMNS}, acked_at, purge_at, recall) SELECT ${MESSAGE_COLUMNS}, ?, ?, ? FROM messages WHERE receiver_uid = ? AND seq = ?`),
    eraseMessages: p('DELETE FROM messages WHERE receiver_uid = ?'),
    eraseTombstones: p('DELETE FROM tombstones WHERE receiver_uid = ?'),
    eraseDevices: p('DELETE FROM devices WHERE receiver_uid = ?'),
    eraseConversations: p('DELETE FROM conversations WHERE receiver_uid = ?'),
    eraseReceiver: p('DELETE FROM receivers WHERE receiver_uid = ?'),
    ping: p('SELECT 1 AS v'),
    ...eventStatements(p),
    ...webhookStatements(p)
  }
}

export const one = (statement: Statement, ...params: unknown[]) => statement.get(...params) as Row | undefined
export const all = (statement: Statement, ...params: unknown[]) => statement.all(...params) as Row[]
/** The column v of a one-row statement, as a number. */
export const value = (statement: Statement, ...params: unknown[]) => toNullableNumber(one(statement, ...params)?.v)
/** For statements prepared with raw(true): the row as an array of column values. */
export const values = (statement: Statement, ...params: unknown[]) => statement.get(...params) as unknown[] | undefined
