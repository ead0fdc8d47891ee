// The SQL of the production store: every statement named, so that each connection parses and plans it once, and of
// one stable text whatever the number of rows (many rows travel as arrays, through unnest).
import { CONVERSATION_FIELDS, CONVERSATION_STATE_FIELDS, DEVICE_FIELDS, KEY_FIELDS, MESSAGE_FIELDS, PAGE_FIELDS, RECEIVER_FIELDS } from '../row-mapper.js'

export interface Sql { readonly name: string, readonly text: string }

const sql = (name: string, text: string): Sql => ({ name: `om_${name}`, text })

const MESSAGES = MESSAGE_FIELDS.join(', ')
const CONVERSATIONS = CONVERSATION_FIELDS.join(', ')
const KEYS = KEY_FIELDS.join(', ')
const RECEIVERS = RECEIVER_FIELDS.join(', ')
const DEVICES = DEVICE_FIELDS.join(', ')
// The types of MESSAGE_FIELDS (with readers after them) and CONVERSATION_FIELDS, in their order: one array parameter per column.
const MESSAGE_TYPES = ['text', 'bigint', 'text', 'text', 'integer', 'text', 'bigint', 'bigint', 'bigint', 'integer']
const CONVERSATION_TYPES = ['text', 'integer', 'text', 'integer', 'bigint', 'bigint', 'integer', 'bigint', 'bigint', 'integer', 'text']
// A summary row's columns after its key, and as many typed NULLs named after them, for SQL.removeAcked's one result.
const ROW_STATE = (alias: string): string => CONVERSATION_STATE_FIELDS.map((column) => `${alias}.${column}`).join(', ')
const ROW_NULLS = CONVERSATION_STATE_FIELDS.map((column, i) => `NULL::${CONVERSATION_TYPES[i + 3] ?? ''} AS ${column}`).join(', ')
const ROW_STATE_NULL = CONVERSATION_STATE_FIELDS.map(() => 'NULL').join(', ')
// A summary row's part of SQL.removeAcked's result after its receiver: seq, its sender, then msg_id, expires_at, readers
// and remaining as typed NULLs (Citus plans each part of the UNION on its own, and an untyped NULL there is text).
const KEY_NULLS = 'NULL::bigint, c.sender_uid, NULL::text, NULL::bigint, NULL::integer, NULL::integer'
/** Array parameters $from, $from + 1, ... of these types. */
const arrays = (types: readonly string[], from = 1): string => types.map((type, i) => `$${i + from}::${type}[]`).join(', ')
/**
 * The bit of the reader a read is for: the receiver itself (bit 0), or the device named by parameter $n, looked up in
 * the same statement (NULL, matching nothing, when it is not registered).
 */
const readerBit = (device?: number): string =>
  device === undefined ? '1' : `(1 << (SELECT slot FROM devices WHERE receiver_uid = $1 AND device_id = $${device}))`

/** A page of one receiver's messages pending for a reader: with a device, its name in $5; of one sender, the next parameter. */
function pageSql (name: string, ofSender: boolean, ofDevice: boolean): Sql {
  const sender = ofDevice ? 6 : 5
  return sql(name, `SELECT ${PAGE_FIELDS.join(', ')} FROM messages WHERE receiver_uid = $1 ${ofSender ? `AND sender_uid = $${sender} ` : ''}` +
    `AND seq > $2 AND expires_at > $3 AND (readers & ${readerBit(ofDevice ? 5 : undefined)}) <> 0 ORDER BY seq LIMIT $4`)
}

/**
 * The receiver's row and one page of a reader's summary in one statement: no row when the receiver is unknown, one
 * row of NULL conversation columns when the reader has no summary rows. A device's (named by $4) adds its slot and its
 * pending count after the receiver's columns.
 */
function summarySql (name: string, ofDevice: boolean): Sql {
  return sql(name, `SELECT ${RECEIVER_FIELDS.map((column) => `r.${column}`).join(', ')}${ofDevice ? ', d.slot, p.device_pending' : ''}, ` +
    `${CONVERSATION_FIELDS.map((column) => `c.${column}`).join(', ')} FROM receivers r ` +
    // The device's pending count joined before the page's rows, so that it is summed once, not once per row.
    (ofDevice
      ? 'LEFT JOIN devices d ON d.receiver_uid = $1 AND d.device_id = $4 LEFT JOIN LATERAL (SELECT coalesce(sum(pending_count), 0) AS device_pending ' +
        'FROM conversations WHERE receiver_uid = $1 AND reader = d.slot) AS p ON true '
      : '') +
    `LEFT JOIN LATERAL (SELECT ${CONVERSATIONS} FROM conversations WHERE receiver_uid = $1 AND reader = ${ofDevice ? 'd.slot' : '0'} ` +
    'AND sort_seq < $2 ORDER BY sort_seq DESC LIMIT $3) AS c ON true WHERE r.receiver_uid = $1')
}
/**
 * The receivers of a table joined on an unnest's receiver_uid, named again beside the join: Citus prunes shards by
 * this alone (a join on an unnest names no receiver), so that a statement reaches only its receivers' shards. Compared
 * under the C collation, which no index has, it stays a filter on PostgreSQL: as an index condition beside the join's
 * equality, it made the planner misjudge how few rows match and pick a worse index for the generic plan.
 */
const keyedBy = (column: string, receivers: string): string => `${column} = ANY((${receivers}) COLLATE "C")`
/**
 * Rows whose (receiver_uid, id) is one of the pairs given as two arrays, $from and the next: a semi-join that looks
 * each pair up in the index. (An `= ANY` of each array instead would scan every combination, 10,000 for a batch of 100.)
 */
const inPairs = (id: string, from = 1): string =>
  `${keyedBy('receiver_uid', `$${from}::text[]`)} AND (receiver_uid, ${id}) IN (SELECT * FROM unnest($${from}::text[], $${from + 1}::text[]))`

/** An INSERT's ON CONFLICT on its key that sets these columns to the inserted row's. */
const onConflictSet = (key: string, columns: readonly string[]): string =>
  `ON CONFLICT (${key}) DO UPDATE SET ${columns.map((column) => `${column} = excluded.${column}`).join(', ')}`
const UPSERT_CONVERSATION = onConflictSet('receiver_uid, reader, sender_uid', CONVERSATION_STATE_FIELDS)
// A receiver's row as given, all but its key: on Citus the write-back of the receivers' rows (CITUS.writeBack).
const UPSERT_RECEIVER = onConflictSet('receiver_uid', RECEIVER_FIELDS.slice(1))
const UPSERT_RECEIVER_ONTO_ITSELF = `ON CONFLICT (receiver_uid) DO UPDATE SET receiver_uid = excluded.receiver_uid RETURNING ${RECEIVERS}`

// writeBack's parts after its inserts, each from parameter $from: summary rows deleted (3 arrays), receivers' rows (5),
// devices' last acks (3). Citus routes these (an UPDATE or DELETE joined on an unnest, keyed) to one shard as they are;
// the receivers' rows go to Citus as an upsert of VALUES instead (CITUS.writeBack).
const DELETE_CONVERSATIONS = (from: number): string =>
  `DELETE FROM conversations WHERE ${keyedBy('receiver_uid', `$${from}::text[]`)} AND (receiver_uid, reader, sender_uid) IN ` +
  `(SELECT * FROM unnest(${arrays(['text', 'integer', 'text'], from)}))`
const UPDATE_RECEIVERS = (from: number): string =>
  'UPDATE receivers AS r SET last_seq = v.last_seq, pending_count = v.pending_count, next_expiry = v.next_expiry, devices = v.devices ' +
  `FROM unnest(${arrays(['text', 'bigint', 'integer', 'bigint', 'integer'], from)}) AS v (receiver_uid, last_seq, pending_count, next_expiry, devices) ` +
  // The key as an index condition, here: each receiver's row is the one it finds.
  `WHERE r.receiver_uid = ANY($${from}::text[]) AND r.receiver_uid = v.receiver_uid`
const TOUCH_DEVICES = (from: number): string =>
  `UPDATE devices AS d SET last_ack_at = t.at FROM unnest(${arrays(['text', 'integer', 'bigint'], from)}) AS t (receiver_uid, slot, at) ` +
  `WHERE ${keyedBy('d.receiver_uid', `$${from}::text[]`)} AND d.receiver_uid = t.receiver_uid AND d.slot = t.slot`

/** A tombstone's columns: the message's, then when it was acked and when it goes. */
const TOMBSTONE_FIELDS = [...MESSAGE_FIELDS, 'acked_at', 'purge_at']
// The message columns a tombstone keeps beyond KEY_FIELDS: what removeAckedOnCitus adds to each removed row.
const TOMBSTONE_EXTRA = MESSAGE_FIELDS.filter((column) => !KEY_FIELDS.includes(column))
const TOMBSTONE_EXTRA_NULLS = TOMBSTONE_EXTRA.map((column) => `NULL::${MESSAGE_TYPES[MESSAGE_FIELDS.indexOf(column)] ?? ''}`).join(', ')

/**
 * Acks by ids ($1, $2, and $3 the bit of each one's reader) and up to a seq ($4, $5, $6: a NULL sender for all
 * senders, $7 the reader's bit), alive at $8. Each chosen message loses the bits of the readers that acked it: the
 * messages left with none are deleted; the others keep the readers they still have. The deleted ones' tombstones are
 * written in the same statement ('insert': when $9, their purge time, is not NULL) or their columns answered
 * ('return', for Citus: removed rows end with TOMBSTONE_EXTRA, NULL for messages kept). In the same statement, the
 * summary rows the acks touch: those of the removed messages' senders, for the readers they left ('row'), and those
 * whose losses the up-to acks cover ('lost'), as they were. One result: each part's columns, NULL where another part's are.
 */
function removeAckedSql (name: string, tombstones: 'insert' | 'return'): Sql {
  const returned = tombstones === 'return'
  // The receivers each part is keyed by: its own array, or on Citus both. Citus cannot prune shards by an empty array
  // (every ack of a group by ids, or every one up to a seq) and would send that part to every shard.
  const [byIds, upTo] = returned ? ['$1::text[] || $4::text[]', '$1::text[] || $4::text[]'] : ['$1::text[]', '$4::text[]']
  const extra = returned ? `, ${TOMBSTONE_EXTRA.join(', ')}` : ''
  const extraNulls = returned ? `, ${TOMBSTONE_EXTRA_NULLS}` : ''
  return sql(name,
    'WITH chosen AS (SELECT receiver_uid, seq, bit_or(bit) AS bits FROM (' +
    // Each part answers m.readers & bit, which is the reader's bit (it has it), not the bit itself: Citus cannot plan a
    // UNION whose parts select a column of an unnest ("could not convert type text to integer").
    'SELECT m.receiver_uid, m.seq, m.readers & k.bit AS bit FROM unnest($1::text[], $2::text[], $3::integer[]) AS k (receiver_uid, msg_id, bit) ' +
    `JOIN messages m ON m.receiver_uid = k.receiver_uid AND m.msg_id = k.msg_id WHERE ${keyedBy('m.receiver_uid', byIds)} AND m.expires_at > $8 AND (m.readers & k.bit) <> 0 ` +
    // Each receiver's range of seqs up to its bound, through the primary key. (Not a LATERAL subquery with a LIMIT or
    // OFFSET: Citus cannot push one down that refers to an unnest. With the key beside the join a filter, the generic
    // plan is a nested loop over the unnest, each range a scan of the primary key: never a scan of the whole table.)
    'UNION ALL SELECT m.receiver_uid, m.seq, m.readers & u.bit FROM unnest($4::text[], $5::bigint[], $6::text[], $7::integer[]) AS u (receiver_uid, up_to_seq, sender_uid, bit) ' +
    `JOIN messages m ON m.receiver_uid = u.receiver_uid AND m.seq <= u.up_to_seq WHERE ${keyedBy('m.receiver_uid', upTo)} ` +
    'AND (u.sender_uid IS NULL OR m.sender_uid = u.sender_uid) AND m.expires_at > $8 AND (m.readers & u.bit) <> 0' +
    ') AS s GROUP BY receiver_uid, seq), deleted AS (' +
    `DELETE FROM messages m USING chosen c WHERE ${keyedBy('m.receiver_uid', '$1::text[] || $4::text[]')} AND m.receiver_uid = c.receiver_uid AND m.seq = c.seq AND (m.readers & ~c.bits) = 0 ` +
    `RETURNING ${MESSAGE_FIELDS.map((column) => `m.${column}`).join(', ')}, m.readers` +
    '), taken AS (' +
    `UPDATE messages m SET readers = m.readers & ~c.bits FROM chosen c WHERE ${keyedBy('m.receiver_uid', '$1::text[] || $4::text[]')} AND m.receiver_uid = c.receiver_uid ` +
    'AND m.seq = c.seq AND (m.readers & ~c.bits) <> 0 ' +
    `RETURNING m.receiver_uid, m.seq, m.sender_uid, m.msg_id, m.expires_at, c.bits AS readers, m.readers AS remaining${extraNulls}` +
    (returned ? '), ' : `), kept AS (INSERT INTO tombstones (${MESSAGES}, acked_at, purge_at) SELECT ${MESSAGES}, $8, $9::bigint FROM deleted WHERE $9::bigint IS NOT NULL), `) +
    `removed AS (SELECT ${KEYS}, 0 AS remaining${extra} FROM deleted UNION ALL SELECT * FROM taken) ` +
    `SELECT 'removed' AS part, ${KEYS}, remaining, NULL::integer AS reader, ${ROW_NULLS}${extra} FROM removed ` +
    // Both read only the acks' receivers' rows (an index scan on = ANY), then match them.
    `UNION ALL SELECT 'row', c.receiver_uid, ${KEY_NULLS}, c.reader, ${ROW_STATE('c')}${extraNulls} FROM conversations c ` +
    'WHERE c.receiver_uid = ANY($1::text[] || $4::text[]) AND EXISTS (SELECT 1 FROM removed d WHERE d.receiver_uid = c.receiver_uid ' +
    'AND d.sender_uid = c.sender_uid AND (d.readers & (1 << c.reader)) <> 0) ' +
    `UNION ALL SELECT 'lost', c.receiver_uid, ${KEY_NULLS}, c.reader, ${ROW_STATE('c')}${extraNulls} ` +
    `FROM conversations c WHERE c.receiver_uid = ANY(${upTo}) AND c.lost_count > 0 AND EXISTS (` +
    'SELECT 1 FROM unnest($4::text[], $5::bigint[], $6::text[], $7::integer[]) AS u (receiver_uid, up_to_seq, sender_uid, bit) ' +
    'WHERE u.receiver_uid = c.receiver_uid AND u.bit = (1 << c.reader) AND (u.sender_uid IS NULL OR u.sender_uid = c.sender_uid) AND c.lost_seq <= u.up_to_seq)')
}

export const SQL = {
  // Locks in the order given (callers sort it), so that two writers never wait for each other in a cycle.
  lockReceivers: sql('lock_receivers',
    `INSERT INTO receivers (${RECEIVERS}) SELECT u, 0, 0, NULL, 0 FROM unnest($1::text[]) WITH ORDINALITY AS t (u, i) ORDER BY i ` +
    UPSERT_RECEIVER_ONTO_ITSELF),
  // The rows that exist, locked in the order given as lockReceivers locks them, none created: an upsert of each row
  // onto itself, which always conflicts. (Not SELECT ... FOR UPDATE: Citus runs that on one shard only.)
  lockExistingReceivers: sql('lock_existing_receivers',
    `INSERT INTO receivers (${RECEIVERS}) SELECT ${RECEIVER_FIELDS.map((column) => `r.${column}`).join(', ')} FROM unnest($1::text[]) WITH ORDINALITY AS t (u, i) ` +
    'JOIN receivers r ON r.receiver_uid = t.u WHERE r.receiver_uid = ANY($1::text[]) ORDER BY t.i ' +
    UPSERT_RECEIVER_ONTO_ITSELF),
  // What a group of stores reads up front, in one round trip: pending messages and tombstones under the pairs $1, $2
  // (receiver_uid, msg_id), and summary rows under the pairs $3, $4 (receiver_uid, sender_uid). One result: each
  // part's columns, NULL where another part's are. The UNION in a subquery: Citus pushes that down, one task per
  // shard with all three parts, where it plans a UNION at the top over several shards as a subplan per part, each
  // read into an intermediate result (EXPLAIN: 3 subplans of a task per shard, and a task that appends them).
  // PostgreSQL flattens the subquery: the same plan.
  findForStores: sql('find_for_stores',
    `SELECT * FROM (SELECT 'pending' AS part, ${MESSAGES}, NULL::bigint AS purge_at, NULL::integer AS reader, ${ROW_NULLS} FROM messages WHERE ${inPairs('msg_id')} ` +
    `UNION ALL SELECT 'tombstone', ${MESSAGES}, purge_at, NULL, ${ROW_STATE_NULL} FROM tombstones WHERE ${inPairs('msg_id')} ` +
    `UNION ALL SELECT 'row', receiver_uid, NULL, NULL, sender_uid, NULL, NULL, NULL, NULL, NULL, NULL, reader, ${ROW_STATE('c')} ` +
    `FROM conversations c WHERE ${inPairs('sender_uid', 3)}) AS found`),
  deleteTombstone: sql('delete_tombstone', 'DELETE FROM tombstones WHERE receiver_uid = $1 AND msg_id = $2'),

  oldestPending: sql('oldest_pending', `SELECT ${KEYS} FROM messages WHERE receiver_uid = $1 ORDER BY seq LIMIT 1`),
  // The expired messages of the receivers $1 at $2, at most $3 of each (lowest seqs first), deleted; in the same
  // statement, the summary rows of their senders for the readers they left ('row', as they were), and each receiver's
  // earliest expiry of what it keeps ('next', in expires_at: the messages not expired are the ones it keeps when none
  // is left behind by the bound). One result in the columns of SQL.removeAcked's.
  removeExpired: sql('remove_expired',
    'WITH chosen AS (SELECT receiver_uid, seq, row_number() OVER (PARTITION BY receiver_uid ORDER BY seq) AS n FROM messages ' +
    'WHERE receiver_uid = ANY($1::text[]) AND expires_at <= $2), gone AS (' +
    `DELETE FROM messages m USING chosen c WHERE ${keyedBy('m.receiver_uid', '$1::text[]')} AND m.receiver_uid = c.receiver_uid AND m.seq = c.seq AND c.n <= $3 ` +
    `RETURNING ${KEY_FIELDS.map((column) => `m.${column}`).join(', ')}) ` +
    `SELECT 'removed' AS part, ${KEYS}, 0 AS remaining, NULL::integer AS reader, ${ROW_NULLS} FROM gone ` +
    `UNION ALL SELECT 'row', c.receiver_uid, ${KEY_NULLS}, c.reader, ${ROW_STATE('c')} FROM conversations c ` +
    'WHERE c.receiver_uid = ANY($1::text[]) AND EXISTS (SELECT 1 FROM gone d WHERE d.receiver_uid = c.receiver_uid ' +
    'AND d.sender_uid = c.sender_uid AND (d.readers & (1 << c.reader)) <> 0) ' +
    `UNION ALL SELECT 'next', receiver_uid, NULL::bigint, NULL::text, NULL::text, min(expires_at), NULL::integer, NULL::integer, NULL::integer, ${ROW_NULLS} ` +
    'FROM messages WHERE receiver_uid = ANY($1::text[]) AND expires_at > $2 GROUP BY receiver_uid'),
  // Acks by ids ($1, $2, and $3 the bit of each one's reader) and up to a seq ($4, $5, $6: a NULL sender for all
  // senders, $7 the reader's bit), alive at $8. Each chosen message loses the bits of the readers that acked it: the
  // messages left with none are deleted, their tombstones written (when $9, their purge time, is not NULL) from what the
  // delete returns; the others keep the readers they still have. In the same statement, the summary rows the acks
  // touch: those of the removed messages' senders, for the readers they left ('row'), and those whose losses the up-to
  // acks cover ('lost'), as they were. One result: each part's columns, NULL where another part's are.
  removeAcked: removeAckedSql('remove_acked', 'insert'),
  // On Citus: the same without the tombstones' INSERT ... SELECT, which Citus runs through the coordinator; the removed
  // messages' columns come back instead, and the tombstones go in the transaction's write (CITUS.writeBack).
  removeAckedOnCitus: removeAckedSql('remove_acked_on_citus', 'return'),
  removePending: sql('remove_pending', 'DELETE FROM messages WHERE receiver_uid = $1 AND seq = ANY($2::bigint[])'),
  // One receiver's ($1) latest pending message of each (reader, sender) given, through the index on (receiver_uid,
  // sender_uid, seq) backwards. One receiver a statement: Citus cannot push down a LATERAL ... LIMIT over an unnest of
  // several receivers, and a shape that names them all made the generic plan read every pending message of a sender.
  lastPendingOfSenders: sql('last_pending_of_senders',
    'SELECT k.reader, l.* FROM unnest($2::integer[], $3::text[]) AS k (reader, sender_uid) CROSS JOIN LATERAL (' +
    `SELECT ${MESSAGES} FROM messages m WHERE m.receiver_uid = $1 AND m.sender_uid = k.sender_uid ` +
    'AND (m.readers & (1 << k.reader)) <> 0 ORDER BY m.seq DESC LIMIT 1) AS l'),

  findConversations: sql('find_conversations',
    `SELECT ${CONVERSATIONS} FROM conversations WHERE ${inPairs('sender_uid')}`),
  // What a transaction wrote since its last statement, in one: new messages ($1-$10), summary rows upserted ($11-$21)
  // and deleted ($22-$24), receivers' rows ($25-$29), devices' last acks ($30-$32). No row is in two of them
  // (transaction.ts keeps the last write of each), so the parts, which see one snapshot, never touch the same row.
  writeBack: sql('write_back',
    `WITH inserted AS (INSERT INTO messages (${MESSAGES}, readers) SELECT * FROM unnest(${arrays(MESSAGE_TYPES)})), ` +
    `saved AS (INSERT INTO conversations (${CONVERSATIONS}) SELECT * FROM unnest(${arrays(CONVERSATION_TYPES, 11)}) ${UPSERT_CONVERSATION}), ` +
    `deleted AS (${DELETE_CONVERSATIONS(22)}), updated AS (${UPDATE_RECEIVERS(25)}), touched AS (${TOUCH_DEVICES(30)}) SELECT 1`),
  findDevices: sql('find_devices', `SELECT ${DEVICES} FROM devices WHERE receiver_uid = ANY($1::text[])`),
  insertDevice: sql('insert_device', `INSERT INTO devices (${DEVICES}) VALUES ($1, $2, $3, $4, $5)`),
  removeDevice: sql('remove_device',
    'WITH gone AS (DELETE FROM devices WHERE receiver_uid = $1 AND device_id = $2) DELETE FROM conversations WHERE receiver_uid = $1 AND reader = $3'),
  // A receiver without devices has every message pending for itself alone (readers = 1): they all become the device's ($2, its bit).
  takeOver: sql('take_over',
    'WITH moved AS (UPDATE messages SET readers = $2 WHERE receiver_uid = $1) UPDATE conversations SET reader = $3 WHERE receiver_uid = $1 AND reader = 0'),
  devices: sql('devices',
    `SELECT ${DEVICE_FIELDS.map((column) => `d.${column}`).join(', ')}, (SELECT coalesce(sum(c.pending_count), 0) FROM conversations c ` +
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
    `SELECT k.i, ${RECEIVER_FIELDS.map((column) => `r.${column}`).join(', ')}, d.slot, p.device_pending, ` +
    `${CONVERSATION_FIELDS.map((column) => `c.${column}`).join(', ')} ` +
    'FROM unnest($1::text[], $2::text[], $3::bigint[], $4::integer[]) WITH ORDINALITY AS k (receiver_uid, device_id, before_sort_seq, lim, i) ' +
    'JOIN receivers r ON r.receiver_uid = k.receiver_uid ' +
    `LEFT JOIN devices d ON d.receiver_uid = k.receiver_uid AND ${keyedBy('d.receiver_uid', '$1::text[]')} AND d.device_id = k.device_id ` +
    'LEFT JOIN LATERAL (SELECT CASE WHEN k.device_id IS NULL THEN NULL ELSE coalesce(sum(pending_count), 0) END AS device_pending FROM conversations ' +
    `WHERE receiver_uid = k.receiver_uid AND ${keyedBy('receiver_uid', '$1::text[]')} AND reader = d.slot) AS p ON true ` +
    `LEFT JOIN LATERAL (SELECT ${CONVERSATIONS} FROM conversations WHERE receiver_uid = k.receiver_uid AND ${keyedBy('receiver_uid', '$1::text[]')} ` +
    'AND reader = CASE WHEN k.device_id IS NULL THEN 0 ELSE d.slot END AND sort_seq < k.before_sort_seq ORDER BY sort_seq DESC LIMIT k.lim) AS c ON true ' +
    `WHERE ${keyedBy('r.receiver_uid', '$1::text[]')} ORDER BY k.i, c.sort_seq DESC`),
  page: pageSql('page', false, false),
  pageOfSender: pageSql('page_of_sender', true, false),
  pageOfDevice: pageSql('page_of_device', false, true),
  pageOfDeviceAndSender: pageSql('page_of_device_and_sender', true, true),
  findPendingLive: sql('find_pending_live', `SELECT ${MESSAGES} FROM messages WHERE receiver_uid = $1 AND msg_id = $2 AND expires_at > $3 AND (readers & ${readerBit()}) <> 0`),
  findPendingLiveOfDevice: sql('find_pending_live_of_device',
    `SELECT ${MESSAGES} FROM messages WHERE receiver_uid = $1 AND msg_id = $2 AND expires_at > $3 AND (readers & ${readerBit(4)}) <> 0`),

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

/** On Citus, writeBack's updates as statements of their own, each of one text: named, so parsed once a connection. */
const CITUS_UPDATES = {
  deleteConversations: sql('citus_delete_conversations', DELETE_CONVERSATIONS(1)),
  touchDevices: sql('citus_touch_devices', TOUCH_DEVICES(1))
}

/** What CITUS.writeBack writes: rows to insert (or upsert), and the arrays of the updates by unnest. */
export interface CitusWrites {
  messages: ReadonlyArray<readonly unknown[]>
  saved: ReadonlyArray<readonly unknown[]>
  tombstones: ReadonlyArray<readonly unknown[]>
  receivers: ReadonlyArray<readonly unknown[]>
  /** DELETE_CONVERSATIONS's arrays (receiver_uid, reader, sender_uid), and TOUCH_DEVICES's (receiver_uid, slot, at). */
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
  lockReceivers (receiverUids: readonly string[]): { sql: Sql, values: unknown[] } {
    return { sql: { name: '', text: `INSERT INTO receivers (${RECEIVERS}) VALUES ${receiverUids.map((_, i) => `($${i + 1}, 0, 0, NULL, 0)`).join(', ')} ${UPSERT_RECEIVER_ONTO_ITSELF}` }, values: [...receiverUids] }
  },

  /**
   * writeBack as statements of their own, one per part that has rows: its inserts as VALUES with the tombstones that
   * removeAckedOnCitus answered, the receivers' rows as an upsert of VALUES (each row exists, locked by lockReceivers:
   * it always updates), then the updates by unnest. Citus runs no CTE that writes as part of one task: it plans and
   * runs each such CTE as a subplan of its own, and then the statement around them, even when all name one shard
   * (EXPLAIN: a "Distributed Subplan" per part). A part keyed by an empty array would go to every shard. The receivers
   * as VALUES, not UPDATE_RECEIVERS: Citus routes an INSERT's rows to their shards without planning a join on each,
   * 0.9 ms against 1.6 for 8 receivers on 6 shards of one node (measured in one transaction on a worker).
   */
  writeBack (writes: CitusWrites): Array<{ sql: Sql, values: unknown[] }> {
    const statements: Array<{ sql: Sql, values: unknown[] }> = []
    const insert = (into: string, list: ReadonlyArray<readonly unknown[]>, suffix = ''): void => {
      if (list.length === 0) return
      const values: unknown[] = []
      const rows = list.map((row) => `(${row.map((value) => { values.push(value); return `$${values.length}` }).join(', ')})`).join(', ')
      statements.push({ sql: { name: '', text: `INSERT INTO ${into} VALUES ${rows}${suffix}` }, values })
    }
    insert(`messages (${MESSAGES}, readers)`, writes.messages)
    insert(`conversations (${CONVERSATIONS})`, writes.saved, ` ${UPSERT_CONVERSATION}`)
    insert(`tombstones (${TOMBSTONE_FIELDS.join(', ')})`, writes.tombstones)
    insert(`receivers (${RECEIVERS})`, writes.receivers, ` ${UPSERT_RECEIVER}`)
    if ((writes.deleted[0]?.length ?? 0) > 0) statements.push({ sql: CITUS_UPDATES.deleteConversations, values: writes.deleted })
    if ((writes.touched[0]?.length ?? 0) > 0) statements.push({ sql: CITUS_UPDATES.touchDevices, values: writes.touched })
    return statements
  }
}
