// The pieces the PostgreSQL statements are built of: column lists, typed NULLs, array parameters, the receivers a
// statement is keyed by, and the builders of statements that come in several shapes (statements.ts names them).
import { CONVERSATION_FIELDS, CONVERSATION_STATE_FIELDS, DEVICE_FIELDS, KEY_FIELDS, MESSAGE_FIELDS, PAGE_FIELDS, RECEIVER_FIELDS } from '../row-mapper.js'

export interface Sql { readonly name: string, readonly text: string }

export const sql = (name: string, text: string): Sql => ({ name: `om_${name}`, text })

export const MESSAGES = MESSAGE_FIELDS.join(', ')
export const CONVERSATIONS = CONVERSATION_FIELDS.join(', ')
export const KEYS = KEY_FIELDS.join(', ')
export const RECEIVERS = RECEIVER_FIELDS.join(', ')
export const DEVICES = DEVICE_FIELDS.join(', ')
// The types of MESSAGE_FIELDS (with readers after them) and CONVERSATION_FIELDS, in their order: one array parameter per column.
export const MESSAGE_TYPES = ['text', 'bigint', 'text', 'text', 'integer', 'text', 'bigint', 'bigint', 'bigint', 'integer']
export const CONVERSATION_TYPES = ['text', 'integer', 'text', 'integer', 'bigint', 'bigint', 'integer', 'bigint', 'bigint', 'integer', 'text']
// A summary row's columns after its key, and as many typed NULLs named after them, for SQL.removeAcked's one result.
export const ROW_STATE = (alias: string): string => CONVERSATION_STATE_FIELDS.map((column) => `${alias}.${column}`).join(', ')
export const ROW_NULLS = CONVERSATION_STATE_FIELDS.map((column, i) => `NULL::${CONVERSATION_TYPES[i + 3] ?? ''} AS ${column}`).join(', ')
export const ROW_STATE_NULL = CONVERSATION_STATE_FIELDS.map(() => 'NULL').join(', ')
// A summary row's part of SQL.removeAcked's result after its receiver: seq, its sender, then msg_id, expires_at, readers
// and remaining as typed NULLs (a distributed planner plans each part of the UNION on its own, and an untyped NULL there is text).
export const KEY_NULLS = 'NULL::bigint, c.sender_uid, NULL::text, NULL::bigint, NULL::integer, NULL::integer'
/** Array parameters $from, $from + 1, ... of these types. */
export const arrays = (types: readonly string[], from = 1): string => types.map((type, i) => `$${i + from}::${type}[]`).join(', ')
/**
 * The bit of the reader a read is for: the receiver itself (bit 0), or the device named by parameter $n, looked up in
 * the same statement (NULL, matching nothing, when it is not registered).
 */
export const readerBit = (device?: number): string =>
  device === undefined ? '1' : `(1 << (SELECT slot FROM devices WHERE receiver_uid = $1 AND device_id = $${device}))`

/** A page of one receiver's messages pending for a reader: with a device, its name in $5; of one sender, the next parameter. */
export function pageSql (name: string, ofSender: boolean, ofDevice: boolean): Sql {
  const sender = ofDevice ? 6 : 5
  return sql(name, `SELECT ${PAGE_FIELDS.join(', ')} FROM messages WHERE receiver_uid = $1 ${ofSender ? `AND sender_uid = $${sender} ` : ''}` +
    `AND seq > $2 AND expires_at > $3 AND (readers & ${readerBit(ofDevice ? 5 : undefined)}) <> 0 ORDER BY seq LIMIT $4`)
}

/**
 * The receiver's row and one page of a reader's summary in one statement: no row when the receiver is unknown, one
 * row of NULL conversation columns when the reader has no summary rows. A device's (named by $4) adds its slot and its
 * pending count after the receiver's columns.
 */
export function summarySql (name: string, ofDevice: boolean): Sql {
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
 * The receivers of a table joined on an unnest's receiver_uid, named again beside the join: a planner that routes by
 * receiver_uid prunes by this alone (a join on an unnest names no receiver), so that a statement reaches only its
 * receivers' nodes. Compared
 * under the C collation, which no index has, it stays a filter on PostgreSQL: as an index condition beside the join's
 * equality, it made the planner misjudge how few rows match and pick a worse index for the generic plan.
 */
export const keyedBy = (column: string, receivers: string): string => `${column} = ANY((${receivers}) COLLATE "C")`
/**
 * Rows whose (receiver_uid, id) is one of the pairs given as two arrays, $from and the next: a semi-join that looks
 * each pair up in the index. (An `= ANY` of each array instead would scan every combination, 10,000 for a batch of 100.)
 */
export const inPairs = (id: string, from = 1): string =>
  `${keyedBy('receiver_uid', `$${from}::text[]`)} AND (receiver_uid, ${id}) IN (SELECT * FROM unnest($${from}::text[], $${from + 1}::text[]))`

/** An INSERT's ON CONFLICT on its key that sets these columns to the inserted row's. */
export const onConflictSet = (key: string, columns: readonly string[]): string =>
  `ON CONFLICT (${key}) DO UPDATE SET ${columns.map((column) => `${column} = excluded.${column}`).join(', ')}`
export const UPSERT_CONVERSATION = onConflictSet('receiver_uid, reader, sender_uid', CONVERSATION_STATE_FIELDS)
// A receiver's row as given, all but its key: the write-back of the receivers' rows as an upsert of VALUES, for a backend that shapes it so.
export const UPSERT_RECEIVER = onConflictSet('receiver_uid', RECEIVER_FIELDS.slice(1))
export const UPSERT_RECEIVER_ONTO_ITSELF = `ON CONFLICT (receiver_uid) DO UPDATE SET receiver_uid = excluded.receiver_uid RETURNING ${RECEIVERS}`

// writeBack's parts after its inserts, each from parameter $from: summary rows deleted (3 arrays), receivers' rows (5),
// devices' last acks (3). A distributed planner routes these (an UPDATE or DELETE joined on an unnest, keyed) to one
// node as they are; the receivers' rows it gets as an upsert of VALUES instead (UPSERT_RECEIVER).
export const DELETE_CONVERSATIONS = (from: number): string =>
  `DELETE FROM conversations WHERE ${keyedBy('receiver_uid', `$${from}::text[]`)} AND (receiver_uid, reader, sender_uid) IN ` +
  `(SELECT * FROM unnest(${arrays(['text', 'integer', 'text'], from)}))`
export const UPDATE_RECEIVERS = (from: number): string =>
  'UPDATE receivers AS r SET last_seq = v.last_seq, pending_count = v.pending_count, next_expiry = v.next_expiry, devices = v.devices ' +
  `FROM unnest(${arrays(['text', 'bigint', 'integer', 'bigint', 'integer'], from)}) AS v (receiver_uid, last_seq, pending_count, next_expiry, devices) ` +
  // The key as an index condition, here: each receiver's row is the one it finds.
  `WHERE r.receiver_uid = ANY($${from}::text[]) AND r.receiver_uid = v.receiver_uid`
export const TOUCH_DEVICES = (from: number): string =>
  `UPDATE devices AS d SET last_ack_at = t.at FROM unnest(${arrays(['text', 'integer', 'bigint'], from)}) AS t (receiver_uid, slot, at) ` +
  `WHERE ${keyedBy('d.receiver_uid', `$${from}::text[]`)} AND d.receiver_uid = t.receiver_uid AND d.slot = t.slot`

/** A tombstone's columns: the message's, then when it was acked and when it goes. */
export const TOMBSTONE_FIELDS = [...MESSAGE_FIELDS, 'acked_at', 'purge_at']
// The message columns a tombstone keeps beyond KEY_FIELDS: what removeAckedSql's 'return' adds to each removed row.
export const TOMBSTONE_EXTRA = MESSAGE_FIELDS.filter((column) => !KEY_FIELDS.includes(column))
export const TOMBSTONE_EXTRA_NULLS = TOMBSTONE_EXTRA.map((column) => `NULL::${MESSAGE_TYPES[MESSAGE_FIELDS.indexOf(column)] ?? ''}`).join(', ')

/**
 * Acks by ids ($1, $2, and $3 the bit of each one's reader) and up to a seq ($4, $5, $6: a NULL sender for all
 * senders, $7 the reader's bit), alive at $8. Each chosen message loses the bits of the readers that acked it: the
 * messages left with none are deleted; the others keep the readers they still have. The deleted ones' tombstones are
 * written in the same statement ('insert': when $9, their purge time, is not NULL) or their columns answered
 * ('return', for a backend that writes them itself: removed rows end with TOMBSTONE_EXTRA, NULL for messages kept). In the same statement, the
 * summary rows the acks touch: those of the removed messages' senders, for the readers they left ('row'), and those
 * whose losses the up-to acks cover ('lost'), as they were. One result: each part's columns, NULL where another part's are.
 */
export function removeAckedSql (name: string, tombstones: 'insert' | 'return'): Sql {
  const returned = tombstones === 'return'
  // The receivers each part is keyed by: its own array, or with 'return' both. A distributed planner cannot prune by an
  // empty array (every ack of a group by ids, or every one up to a seq) and would send that part to every node.
  const [byIds, upTo] = returned ? ['$1::text[] || $4::text[]', '$1::text[] || $4::text[]'] : ['$1::text[]', '$4::text[]']
  const extra = returned ? `, ${TOMBSTONE_EXTRA.join(', ')}` : ''
  const extraNulls = returned ? `, ${TOMBSTONE_EXTRA_NULLS}` : ''
  return sql(name,
    'WITH chosen AS (SELECT receiver_uid, seq, bit_or(bit) AS bits FROM (' +
    // Each part answers m.readers & bit, which is the reader's bit (it has it), not the bit itself: a distributed planner cannot plan a
    // UNION whose parts select a column of an unnest ("could not convert type text to integer").
    'SELECT m.receiver_uid, m.seq, m.readers & k.bit AS bit FROM unnest($1::text[], $2::text[], $3::integer[]) AS k (receiver_uid, msg_id, bit) ' +
    `JOIN messages m ON m.receiver_uid = k.receiver_uid AND m.msg_id = k.msg_id WHERE ${keyedBy('m.receiver_uid', byIds)} AND m.expires_at > $8 AND (m.readers & k.bit) <> 0 ` +
    // Each receiver's range of seqs up to its bound, through the primary key. (Not a LATERAL subquery with a LIMIT or
    // OFFSET: a distributed planner cannot push one down that refers to an unnest. With the key beside the join a filter, the generic
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
