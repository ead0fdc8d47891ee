// The SQL of the production store: every statement named, so that each connection parses and plans it once, and of
// one stable text whatever the number of rows (many rows travel as arrays, through unnest).
import { DEVICE, MESSAGE, PAGE, PENDING, RECEIVER, REMOVED_MESSAGE_ROW, SUMMARY_ROW, TOMBSTONE, names, withoutReceiverUid } from '../columns.js'
import { params } from './params.js'
import { insertGivenEvents } from './event-statements.js'
import {
  DEVICES, MESSAGES, NEXT_EXPIRY, READER_AND_ROW_LATER_NULLS, READER_AND_ROW_NULLS, RECEIVERS, REMOVED_COLUMNS, REMOVED_NULLS, ROW_STATE, SUMMARY_ROWS,
  TOMBSTONES, UPSERT_RECEIVER_ONTO_ITSELF, WRITE_BACK_PARTS, type Sql, type WriteBackPart, findForStoresSql, inPairs, keyedBy, nulls, pageSql, pairParams, readerBit, removeAckedSql, sql, summarySql, writeBackSql
} from './sql-parts.js'

export type { Sql } from './sql-parts.js'
export { WRITE_BACK_PARTS, type WriteBackPart } from './sql-parts.js'

// The pairs (receiver_uid, msg_id) that SQL.findForRecalls reads, its two parameters.
const RECALLED = pairParams(params())

export const SQL = {
  // Locks in the order given (callers sort it), so that two writers never wait for each other in a cycle.
  lockReceivers: sql('lock_receivers',
    `INSERT INTO receivers (${RECEIVERS}) SELECT u, 0, 0, NULL, 0 FROM unnest($1::text[]) WITH ORDINALITY AS t (u, i) ORDER BY i ` +
    UPSERT_RECEIVER_ONTO_ITSELF),
  // The rows that exist, locked in the order given as lockReceivers locks them, none created: an upsert of each row
  // onto itself, which always conflicts. (Not SELECT ... FOR UPDATE: a distributed planner runs that on one node only.)
  lockExistingReceivers: sql('lock_existing_receivers',
    `INSERT INTO receivers (${RECEIVERS}) SELECT ${names(RECEIVER, 'r')} FROM unnest($1::text[]) WITH ORDINALITY AS t (u, i) ` +
    'JOIN receivers r ON r.receiver_uid = t.u WHERE r.receiver_uid = ANY($1::text[]) ORDER BY t.i ' +
    UPSERT_RECEIVER_ONTO_ITSELF),
  // What a group of stores reads up front, in one round trip: pending messages and tombstones under the pairs $1, $2
  // (receiver_uid, msg_id), and summary rows under the pairs $3, $4 (receiver_uid, sender_uid). One result: each
  // part's columns, NULL where another part's are. The UNION in a subquery, which PostgreSQL flattens (the same plan
  // as a UNION at the top); why a distributed planner needs it so: the scaling-out part of the PostgreSQL docs.
  findForStores: findForStoresSql(),
  deleteTombstone: sql('delete_tombstone', 'DELETE FROM tombstones WHERE receiver_uid = $1 AND msg_id = $2'),

  oldestPending: sql('oldest_pending', `SELECT ${REMOVED_COLUMNS} FROM messages WHERE receiver_uid = $1 ORDER BY seq LIMIT 1`),
  // The expired messages of the receivers $1 at $2, at most $3 of each (lowest seqs first), deleted; in the same
  // statement, the summary rows of their senders for the readers they left ('row', as they were), and each receiver's
  // earliest expiry of what it keeps ('next', in expires_at: the messages not expired are the ones it keeps when none
  // is left behind by the bound). One result in the columns of SQL.removeAcked's.
  removeExpired: sql('remove_expired',
    'WITH chosen AS (SELECT receiver_uid, seq, row_number() OVER (PARTITION BY receiver_uid ORDER BY seq) AS n FROM messages ' +
    'WHERE receiver_uid = ANY($1::text[]) AND expires_at <= $2), gone AS (' +
    `DELETE FROM messages m USING chosen c WHERE ${keyedBy('m.receiver_uid', '$1::text[]')} AND m.receiver_uid = c.receiver_uid AND m.seq = c.seq AND c.n <= $3 ` +
    `RETURNING ${names(REMOVED_MESSAGE_ROW, 'm')}) ` +
    `SELECT 'removed' AS part, ${REMOVED_COLUMNS}, 0 AS remaining, ${READER_AND_ROW_NULLS} FROM gone ` +
    `UNION ALL SELECT 'row', c.receiver_uid, ${REMOVED_NULLS}, c.reader, ${ROW_STATE('c')} FROM conversations c ` +
    'WHERE c.receiver_uid = ANY($1::text[]) AND EXISTS (SELECT 1 FROM gone d WHERE d.receiver_uid = c.receiver_uid ' +
    'AND d.sender_uid = c.sender_uid AND (d.readers & (1 << c.reader)) <> 0) ' +
    `UNION ALL SELECT 'next', ${NEXT_EXPIRY} FROM messages WHERE receiver_uid = ANY($1::text[]) AND expires_at > $2 GROUP BY receiver_uid`),
  // Acks by ids ($1, $2, and $3 the bit of each one's reader) and up to a seq ($4, $5, $6: a NULL sender for all
  // senders, $7 the reader's bit), alive at $8. Each chosen message loses the bits of the readers that acked it: the
  // messages left with none are deleted, their tombstones written (when $9, their purge time, is not NULL) from what the
  // delete returns; the others keep the readers they still have. In the same statement, the summary rows the acks
  // touch: those of the removed messages' senders, for the readers they left ('row'), and those whose losses the up-to
  // acks cover ('lost'), as they were. One result: each part's columns, NULL where another part's are.
  removeAcked: removeAckedSql('remove_acked', 'insert'),
  removePending: sql('remove_pending', 'DELETE FROM messages WHERE receiver_uid = $1 AND seq = ANY($2::bigint[])'),
  // One receiver's ($1) latest pending message of each (reader, sender) given, through the index on (receiver_uid,
  // sender_uid, seq) backwards. One receiver a statement: a distributed planner cannot push down a LATERAL ... LIMIT over an unnest of
  // several receivers, and a shape that names them all made the generic plan read every pending message of a sender.
  lastPendingOfSenders: sql('last_pending_of_senders',
    'SELECT k.reader, l.* FROM unnest($2::integer[], $3::text[]) AS k (reader, sender_uid) CROSS JOIN LATERAL (' +
    `SELECT ${MESSAGES} FROM messages m WHERE m.receiver_uid = $1 AND m.sender_uid = k.sender_uid ` +
    'AND (m.readers & (1 << k.reader)) <> 0 ORDER BY m.seq DESC LIMIT 1) AS l'),

  findConversations: sql('find_conversations',
    `SELECT ${SUMMARY_ROWS} FROM conversations WHERE ${inPairs('sender_uid', pairParams(params()))}`),
  // What a transaction wrote since its last statement, in one: new messages, summary rows upserted and deleted,
  // receivers' rows, devices' last acks, each an array per column (tx-statements.ts binds them in that order). No row
  // is in two of them (transaction.ts keeps the last write of each), so the parts, which see one snapshot, never touch
  // the same row.
  writeBack: writeBackSql(),
  writeBackWithdrawing: writeBackSql({ withdrawing: true }),
  // The same with the transaction's events (EVENTS=on), when each one gives all (insertGivenEvents): one round trip less.
  writeBackEvents: writeBackSql({ events: insertGivenEvents }),
  writeBackWithdrawingEvents: writeBackSql({ withdrawing: true, events: insertGivenEvents }),
  findDevices: sql('find_devices', `SELECT ${DEVICES} FROM devices WHERE receiver_uid = ANY($1::text[])`),
  insertDevice: sql('insert_device', `INSERT INTO devices (${DEVICES}) VALUES ($1, $2, $3, $4, $5)`),
  removeDevice: sql('remove_device',
    'WITH gone AS (DELETE FROM devices WHERE receiver_uid = $1 AND device_id = $2) DELETE FROM conversations WHERE receiver_uid = $1 AND reader = $3'),
  // A receiver without devices has every message pending for itself alone (readers = 1): they all become the device's ($2, its bit).
  takeOver: sql('take_over',
    'WITH moved AS (UPDATE messages SET readers = $2 WHERE receiver_uid = $1) UPDATE conversations SET reader = $3 WHERE receiver_uid = $1 AND reader = 0'),
  devices: sql('devices',
    `SELECT ${names(DEVICE, 'd')}, (SELECT coalesce(sum(c.pending_count), 0) FROM conversations c ` +
    'WHERE c.receiver_uid = $1 AND c.reader = d.slot) AS pending_count FROM devices d WHERE d.receiver_uid = $1 ORDER BY d.registered_at, d.slot'),
  // Sent after the commit, on its own: one row, one notification, per payload.
  announce: sql('announce', 'SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload'),

  receiver: sql('receiver', `SELECT ${RECEIVERS} FROM receivers WHERE receiver_uid = $1`),
  summary: summarySql('summary', false),
  summaryOfDevice: summarySql('summary_of_device', true),
  // The summaries of several reads at once ($1 receivers, $2 devices or NULL, $3 before which sort_seq, $4 how many),
  // each read's rows under its position (i, from 1), then as summaryOfDevice's (slot and device_pending NULL without a
  // device). Reads that arrive together share it: one round trip for many (store.ts).
  summaries: sql('summaries',
    `SELECT k.i, ${names(RECEIVER, 'r')}, d.slot, p.device_pending, ${names(SUMMARY_ROW, 'c')} ` +
    'FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[]) WITH ORDINALITY AS k (receiver_uid, device_id, before_sort_seq, lim, i) ' +
    'JOIN receivers r ON r.receiver_uid = k.receiver_uid ' +
    `LEFT JOIN devices d ON d.receiver_uid = k.receiver_uid AND ${keyedBy('d.receiver_uid', '$1::text[]')} AND d.device_id = k.device_id ` +
    'LEFT JOIN LATERAL (SELECT CASE WHEN k.device_id IS NULL THEN NULL ELSE coalesce(sum(pending_count), 0) END AS device_pending FROM conversations ' +
    `WHERE receiver_uid = k.receiver_uid AND ${keyedBy('receiver_uid', '$1::text[]')} AND reader = d.slot) AS p ON true ` +
    `LEFT JOIN LATERAL (SELECT ${SUMMARY_ROWS} FROM conversations WHERE receiver_uid = k.receiver_uid AND ${keyedBy('receiver_uid', '$1::text[]')} ` +
    'AND reader = CASE WHEN k.device_id IS NULL THEN 0 ELSE d.slot END AND sort_seq < k.before_sort_seq ORDER BY sort_seq DESC LIMIT k.lim) AS c ON true ' +
    `WHERE ${keyedBy('r.receiver_uid', '$1::text[]')} ORDER BY k.i, c.sort_seq DESC`),
  // Pages of any sender for several readers, each the next rows of its page after the ordinal of its read (k.i), read
  // at $5 (pages.ts). A device's bit is that of its slot; a device not registered has none, and so no messages.
  pages: sql('pages',
    `SELECT k.i, m.* FROM unnest($1::text[], $2::bigint[], $3::text[], $4::integer[]) WITH ORDINALITY AS k (receiver_uid, after_seq, device_id, lim, i) ` +
    `CROSS JOIN LATERAL (SELECT ${names(PAGE)} FROM messages WHERE receiver_uid = k.receiver_uid AND ${keyedBy('receiver_uid', '$1::text[]')} ` +
    `AND seq > k.after_seq AND expires_at > $5 AND (readers & CASE WHEN k.device_id IS NULL THEN ${readerBit()} ` +
    `ELSE ${readerBit('k.device_id', `receiver_uid = k.receiver_uid AND ${keyedBy('receiver_uid', '$1::text[]')}`)} END) <> 0 ` +
    'ORDER BY seq LIMIT k.lim) AS m ORDER BY k.i, m.seq'),
  page: pageSql('page', false, false),
  pageOfSender: pageSql('page_of_sender', true, false),
  pageOfDevice: pageSql('page_of_device', false, true),
  pageOfDeviceAndSender: pageSql('page_of_device_and_sender', true, true),
  findPendingLive: sql('find_pending_live', `SELECT ${MESSAGES} FROM messages WHERE receiver_uid = $1 AND msg_id = $2 AND expires_at > $3 AND (readers & ${readerBit()}) <> 0`),
  findPendingLiveOfDevice: sql('find_pending_live_of_device',
    `SELECT ${MESSAGES} FROM messages WHERE receiver_uid = $1 AND msg_id = $2 AND expires_at > $3 AND (readers & ${readerBit('$4')}) <> 0`),

  // v1.2, none of them on a v1 request's path. The pending messages of the triples ($1, $2, $3) (receiver, sender,
  // collapse key), through the partial index on collapse_key.
  findCollapsible: sql('find_collapsible',
    `SELECT ${REMOVED_COLUMNS}, collapse_key, stored_at FROM messages WHERE ${keyedBy('receiver_uid', '$1::text[]')} AND collapse_key IS NOT NULL ` +
    'AND (receiver_uid, sender_uid, collapse_key) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))'),
  // The messages ($1, $2) (receiver, seq) deleted for every reader, their tombstones written with $3, their recall, when
  // $5, their purge time, is not NULL (acked at $4).
  withdraw: sql('withdraw',
    'WITH gone AS (DELETE FROM messages m USING unnest($1::text[], $2::bigint[], $3::text[]) AS k (receiver_uid, seq, recall) ' +
    `WHERE ${keyedBy('m.receiver_uid', '$1::text[]')} AND m.receiver_uid = k.receiver_uid AND m.seq = k.seq RETURNING ${names(PENDING, 'm')}, k.recall), ` +
    `kept AS (INSERT INTO tombstones (${TOMBSTONES}, recall) SELECT ${names(TOMBSTONE, undefined, { acked_at: '$4', purge_at: '$5::bigint' })}, recall ` +
    'FROM gone WHERE $5::bigint IS NOT NULL) ' +
    'SELECT 1'),
  // Recalls' messages under the pairs $1, $2 (receiver_uid, msg_id): pending (with their readers) and tombstones (with
  // the recall that made each, if one did); in the same statement, the summary rows of the pending ones' senders, every
  // reader's ('row', as they are: the receivers are locked), which the withdrawal corrects. One result: each part's
  // columns, NULL where another part's are.
  findForRecalls: sql('find_for_recalls',
    `WITH pending AS (SELECT ${names(PENDING)} FROM messages WHERE ${inPairs('msg_id', RECALLED)}) ` +
    `SELECT 'pending' AS part, ${names(PENDING)}, NULL::text AS recall, ${READER_AND_ROW_NULLS} FROM pending ` +
    `UNION ALL SELECT 'tombstone', ${MESSAGES}, NULL, recall, ${READER_AND_ROW_LATER_NULLS} ` +
    `FROM tombstones WHERE ${inPairs('msg_id', RECALLED)} ` +
    `UNION ALL SELECT 'row', c.receiver_uid, ${nulls(withoutReceiverUid(MESSAGE), { typed: false }, { sender_uid: 'c.sender_uid' })}, NULL, NULL, ` +
    `c.reader, ${ROW_STATE('c')} FROM conversations c WHERE ${keyedBy('c.receiver_uid', RECALLED[0])} ` +
    'AND EXISTS (SELECT 1 FROM pending p WHERE p.receiver_uid = c.receiver_uid AND p.sender_uid = c.sender_uid)'),
  // Every row of the receiver $1, in one statement (one snapshot): what it removed, counted.
  erase: sql('erase',
    'WITH m AS (DELETE FROM messages WHERE receiver_uid = $1 RETURNING 1), t AS (DELETE FROM tombstones WHERE receiver_uid = $1 RETURNING 1), ' +
    'd AS (DELETE FROM devices WHERE receiver_uid = $1 RETURNING 1), c AS (DELETE FROM conversations WHERE receiver_uid = $1), ' +
    'r AS (DELETE FROM receivers WHERE receiver_uid = $1) ' +
    'SELECT (SELECT count(*) FROM m) AS messages, (SELECT count(*) FROM t) AS tombstones, (SELECT count(*) FROM d) AS devices'),

  // Off the request path (the sweep and the metrics): these cross receivers, each bounded by its limit or an index.
  dueForExpiry: sql('due_for_expiry', 'SELECT receiver_uid FROM receivers WHERE next_expiry <= $1 ORDER BY next_expiry LIMIT $2'),
  purgeTombstones: sql('purge_tombstones',
    'DELETE FROM tombstones WHERE (receiver_uid, msg_id) IN (SELECT receiver_uid, msg_id FROM tombstones WHERE purge_at <= $1 LIMIT $2) RETURNING 1 AS purged'),
  // Expired messages still waiting for the sweep are not pending; only receivers due for expiry can hold them.
  totalPending: sql('total_pending',
    'SELECT (SELECT coalesce(sum(pending_count), 0) FROM receivers) - (SELECT count(*) FROM messages m JOIN receivers r ' +
    'ON r.receiver_uid = m.receiver_uid WHERE r.next_expiry <= $1 AND m.expires_at <= $1) AS pending'),
  ping: sql('ping', 'SELECT 1'),
  // The store's own upkeep, at start and after a new connection (durability.ts): as the role's sessions see them.
  durability: sql('durability',
    "SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit, " +
    "current_setting('full_page_writes') AS full_page_writes")
} as const

const writeBacks = new Map<string, Sql>()

/**
 * The write-back of these parts (writeBackSql), with withdrawals, with events: SQL.writeBack and its kin when it has
 * every part, else one made once for the parts it has.
 */
export function writeBackOf (parts: readonly WriteBackPart[], withdrawing: boolean, events: boolean): Sql {
  if (parts.length === WRITE_BACK_PARTS.length) {
    return events ? (withdrawing ? SQL.writeBackWithdrawingEvents : SQL.writeBackEvents) : (withdrawing ? SQL.writeBackWithdrawing : SQL.writeBack)
  }
  const key = `${parts.join()}|${String(withdrawing)}|${String(events)}`
  let made = writeBacks.get(key)
  if (made === undefined) {
    made = writeBackSql({ parts, withdrawing, ...(events ? { events: insertGivenEvents } : {}) })
    writeBacks.set(key, made)
  }
  return made
}
