// The SQL of the production store: every statement named, so that each connection parses and plans it once, and of
// one stable text whatever the number of rows (many rows travel as arrays, through unnest).
import { CONVERSATION_FIELDS, CONVERSATION_STATE_FIELDS, MESSAGE_FIELDS, PAGE_FIELDS } from './row-mapper.js'

export interface Sql { readonly name: string, readonly text: string }

const sql = (name: string, text: string): Sql => ({ name: `om_${name}`, text })

const MESSAGES = MESSAGE_FIELDS.join(', ')
const CONVERSATIONS = CONVERSATION_FIELDS.join(', ')
const KEYS = 'receiver_uid, seq, sender_uid, msg_id, expires_at'
const RECEIVERS = 'receiver_uid, last_seq, pending_count, next_expiry'
// The types of MESSAGE_FIELDS and CONVERSATION_FIELDS, in their order: one array parameter per column.
const MESSAGE_TYPES = ['text', 'bigint', 'text', 'text', 'integer', 'text', 'bigint', 'bigint', 'bigint']
const CONVERSATION_TYPES = ['text', 'text', 'integer', 'bigint', 'bigint', 'integer', 'bigint', 'bigint', 'integer', 'text']
// A summary row's columns after its key, and as many typed NULLs named after them, for SQL.removeAcked's one result.
const ROW_STATE = (alias: string): string => CONVERSATION_STATE_FIELDS.map((column) => `${alias}.${column}`).join(', ')
const ROW_NULLS = CONVERSATION_STATE_FIELDS.map((column, i) => `NULL::${CONVERSATION_TYPES[i + 2] ?? ''} AS ${column}`).join(', ')
const ROW_STATE_NULL = CONVERSATION_STATE_FIELDS.map(() => 'NULL').join(', ')
/** Array parameters $from, $from + 1, ... of these types. */
const arrays = (types: readonly string[], from = 1): string => types.map((type, i) => `$${i + from}::${type}[]`).join(', ')
/**
 * Rows whose (receiver_uid, id) is one of the pairs given as two arrays, $1 and $2: a semi-join that looks each pair
 * up in the index. (An `= ANY` of each array instead would scan every combination, 10,000 for a batch of 100; one
 * beside the join makes the planner misjudge how few rows match and pick a worse index.)
 */
const inPairs = (id: string, alias = ''): string =>
  `(${alias}receiver_uid, ${alias}${id}) IN (SELECT * FROM unnest($1::text[], $2::text[]))`

export const SQL = {
  // Locks in the order given (callers sort it), so that two writers never wait for each other in a cycle.
  lockReceivers: sql('lock_receivers',
    `INSERT INTO receivers (${RECEIVERS}) SELECT u, 0, 0, NULL FROM unnest($1::text[]) WITH ORDINALITY AS t (u, i) ORDER BY i ` +
    `ON CONFLICT (receiver_uid) DO UPDATE SET receiver_uid = excluded.receiver_uid RETURNING ${RECEIVERS}`),
  lockExistingReceivers: sql('lock_existing_receivers',
    'SELECT r.receiver_uid, r.last_seq, r.pending_count, r.next_expiry FROM unnest($1::text[]) WITH ORDINALITY AS t (u, i) ' +
    'JOIN receivers r ON r.receiver_uid = t.u WHERE r.receiver_uid = ANY($1::text[]) ORDER BY t.i FOR UPDATE OF r'),
  // What a group of stores reads up front, in one round trip: pending messages and tombstones under the pairs $1, $2
  // (receiver_uid, msg_id), and summary rows under the pairs $3, $4 (receiver_uid, sender_uid). One result: each
  // part's columns, NULL where another part's are.
  findForStores: sql('find_for_stores',
    `SELECT 'pending' AS part, ${MESSAGES}, NULL::bigint AS purge_at, ${ROW_NULLS} FROM messages WHERE ${inPairs('msg_id')} ` +
    `UNION ALL SELECT 'tombstone', ${MESSAGES}, purge_at, ${ROW_STATE_NULL} FROM tombstones WHERE ${inPairs('msg_id')} ` +
    `UNION ALL SELECT 'row', receiver_uid, NULL, NULL, sender_uid, NULL, NULL, NULL, NULL, NULL, NULL, ${ROW_STATE('conversations')} ` +
    'FROM conversations WHERE (receiver_uid, sender_uid) IN (SELECT * FROM unnest($3::text[], $4::text[]))'),
  deleteTombstone: sql('delete_tombstone', 'DELETE FROM tombstones WHERE receiver_uid = $1 AND msg_id = $2'),

  oldestPending: sql('oldest_pending', `SELECT ${KEYS} FROM messages WHERE receiver_uid = $1 ORDER BY seq LIMIT 1`),
  expiredPending: sql('expired_pending', `SELECT ${KEYS} FROM messages WHERE receiver_uid = $1 AND expires_at <= $2 ORDER BY seq LIMIT $3`),
  earliestExpiry: sql('earliest_expiry', 'SELECT min(expires_at) AS earliest FROM messages WHERE receiver_uid = $1'),
  // Acks by ids ($1, $2) and up to a seq ($3, $4, $5: a NULL sender for all senders), alive at $6: one delete, the
  // tombstones (when $7, their purge time, is not NULL) written from what it returns, and in the same statement the
  // summary rows the acks touch: those of the deleted messages' senders ('row') and those whose losses the up-to acks
  // cover ('lost'), as they were. One result: each part's columns, NULL where another part's are.
  removeAcked: sql('remove_acked',
    'WITH chosen AS (' +
    `SELECT m.receiver_uid, m.seq FROM messages m WHERE ${inPairs('msg_id', 'm.')} AND m.expires_at > $6 ` +
    // Each receiver's range of seqs up to its bound, through the primary key: a LATERAL subquery kept as one (OFFSET 0
    // stops the planner from flattening it into a join), so that the prepared statement's generic plan, which cannot
    // know how few receivers the array holds, never hashes a scan of the whole table instead.
    'UNION SELECT u.receiver_uid, l.seq FROM unnest($3::text[], $4::bigint[], $5::text[]) AS u (receiver_uid, up_to_seq, sender_uid) ' +
    'CROSS JOIN LATERAL (SELECT m.seq FROM messages m WHERE m.receiver_uid = u.receiver_uid AND m.seq <= u.up_to_seq ' +
    'AND (u.sender_uid IS NULL OR m.sender_uid = u.sender_uid) AND m.expires_at > $6 OFFSET 0) AS l' +
    '), deleted AS (' +
    'DELETE FROM messages m USING chosen c WHERE m.receiver_uid = c.receiver_uid AND m.seq = c.seq ' +
    `RETURNING ${MESSAGE_FIELDS.map((column) => `m.${column}`).join(', ')}` +
    '), kept AS (' +
    `INSERT INTO tombstones (${MESSAGES}, acked_at, purge_at) SELECT ${MESSAGES}, $6, $7::bigint FROM deleted WHERE $7::bigint IS NOT NULL` +
    `) SELECT 'removed' AS part, ${KEYS}, ${ROW_NULLS} FROM deleted ` +
    // Both read only the acks' receivers' rows (an index scan on = ANY), then match them.
    `UNION ALL SELECT 'row', c.receiver_uid, NULL, c.sender_uid, NULL, NULL, ${ROW_STATE('c')} FROM conversations c ` +
    'WHERE c.receiver_uid = ANY($1::text[] || $3::text[]) AND EXISTS (SELECT 1 FROM deleted d WHERE d.receiver_uid = c.receiver_uid AND d.sender_uid = c.sender_uid) ' +
    `UNION ALL SELECT 'lost', c.receiver_uid, NULL, c.sender_uid, NULL, NULL, ${ROW_STATE('c')} ` +
    'FROM conversations c WHERE c.receiver_uid = ANY($3::text[]) AND c.lost_count > 0 AND EXISTS (' +
    'SELECT 1 FROM unnest($3::text[], $4::bigint[], $5::text[]) AS u (receiver_uid, up_to_seq, sender_uid) ' +
    'WHERE u.receiver_uid = c.receiver_uid AND (u.sender_uid IS NULL OR u.sender_uid = c.sender_uid) AND c.lost_seq <= u.up_to_seq)'),
  removePending: sql('remove_pending', 'DELETE FROM messages WHERE receiver_uid = $1 AND seq = ANY($2::bigint[])'),
  lastPendingOfSenders: sql('last_pending_of_senders',
    'SELECT l.* FROM unnest($1::text[], $2::text[]) AS k (receiver_uid, sender_uid) CROSS JOIN LATERAL (' +
    `SELECT ${MESSAGES} FROM messages m WHERE m.receiver_uid = k.receiver_uid AND m.sender_uid = k.sender_uid ` +
    'ORDER BY m.seq DESC LIMIT 1) AS l'),

  findConversations: sql('find_conversations',
    `SELECT ${CONVERSATIONS} FROM conversations WHERE ${inPairs('sender_uid')}`),
  // What a transaction wrote since its last statement, in one: new messages ($1-$9), summary rows upserted ($10-$19)
  // and deleted ($20, $21), receivers' rows ($22-$25). No row is in two of them (postgres-transaction.ts keeps the
  // last write of each), so the parts, which see one snapshot, never touch the same row.
  writeBack: sql('write_back',
    `WITH inserted AS (INSERT INTO messages (${MESSAGES}) SELECT * FROM unnest(${arrays(MESSAGE_TYPES)})), ` +
    `saved AS (INSERT INTO conversations (${CONVERSATIONS}) SELECT * FROM unnest(${arrays(CONVERSATION_TYPES, 10)}) ` +
    `ON CONFLICT (receiver_uid, sender_uid) DO UPDATE SET ${CONVERSATION_STATE_FIELDS.map((column) => `${column} = excluded.${column}`).join(', ')}), ` +
    'deleted AS (DELETE FROM conversations WHERE (receiver_uid, sender_uid) IN (SELECT * FROM unnest($20::text[], $21::text[]))), ' +
    'updated AS (UPDATE receivers AS r SET last_seq = v.last_seq, pending_count = v.pending_count, next_expiry = v.next_expiry ' +
    'FROM unnest($22::text[], $23::bigint[], $24::integer[], $25::bigint[]) AS v (receiver_uid, last_seq, pending_count, next_expiry) ' +
    'WHERE r.receiver_uid = v.receiver_uid) ' +
    'SELECT 1'),
  // Sent after the commit, on its own: one row, one notification, per payload.
  announce: sql('announce', 'SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload'),

  receiver: sql('receiver', `SELECT ${RECEIVERS} FROM receivers WHERE receiver_uid = $1`),
  // The receiver's row and one page of its summary in one statement: no row when the receiver is unknown, one row of
  // NULL conversation columns when it has no summary rows.
  summary: sql('summary',
    `SELECT r.receiver_uid, r.last_seq, r.pending_count, r.next_expiry, ${CONVERSATION_FIELDS.map((column) => `c.${column}`).join(', ')} ` +
    `FROM receivers r LEFT JOIN LATERAL (SELECT ${CONVERSATIONS} FROM conversations WHERE receiver_uid = r.receiver_uid AND sort_seq < $2 ` +
    'ORDER BY sort_seq DESC LIMIT $3) AS c ON true WHERE r.receiver_uid = $1'),
  page: sql('page',
    `SELECT ${PAGE_FIELDS.join(', ')} FROM messages WHERE receiver_uid = $1 AND seq > $2 AND expires_at > $3 ORDER BY seq LIMIT $4`),
  pageOfSender: sql('page_of_sender',
    `SELECT ${PAGE_FIELDS.join(', ')} FROM messages WHERE receiver_uid = $1 AND sender_uid = $5 AND seq > $2 AND expires_at > $3 ORDER BY seq LIMIT $4`),
  findPendingLive: sql('find_pending_live', `SELECT ${MESSAGES} FROM messages WHERE receiver_uid = $1 AND msg_id = $2 AND expires_at > $3`),

  // Off the request path (the sweep and the metrics): these cross receivers, each bounded by its limit or an index.
  dueForExpiry: sql('due_for_expiry', 'SELECT receiver_uid FROM receivers WHERE next_expiry <= $1 ORDER BY next_expiry LIMIT $2'),
  purgeTombstones: sql('purge_tombstones',
    'DELETE FROM tombstones WHERE (receiver_uid, msg_id) IN (SELECT receiver_uid, msg_id FROM tombstones WHERE purge_at <= $1 LIMIT $2) RETURNING 1 AS purged'),
  // Expired messages still waiting for the sweep are not pending; only receivers due for expiry can hold them.
  totalPending: sql('total_pending',
    'SELECT (SELECT coalesce(sum(pending_count), 0) FROM receivers) - (SELECT count(*) FROM messages m JOIN receivers r ' +
    'ON r.receiver_uid = m.receiver_uid WHERE r.next_expiry <= $1 AND m.expires_at <= $1) AS pending'),
  ping: sql('ping', 'SELECT 1')
} as const
