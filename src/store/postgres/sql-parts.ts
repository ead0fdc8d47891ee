// The pieces the PostgreSQL statements are built of: column lists, typed NULLs, array parameters, the receivers a
// statement is keyed by, and the builders of statements that come in several shapes (statements.ts names them).
import {
  DEVICE, DEVICE_ACK, MESSAGE, PAGE, PENDING, RECEIVER, RECEIVER_KEY, RECEIVER_STATE, REMOVED_MESSAGE, REMOVED_MESSAGE_ROW, SUMMARY_ROW,
  SUMMARY_ROW_KEY, SUMMARY_ROW_STATE, TOMBSTONE, names, pick, withoutReceiverUid, type Column
} from '../columns.js'
import { arrays, params, type Params } from './params.js'

export interface Sql { readonly name: string, readonly text: string }

export const sql = (name: string, text: string): Sql => ({ name: `om_${name}`, text })

export const MESSAGES = names(MESSAGE)
export const SUMMARY_ROWS = names(SUMMARY_ROW)
export const REMOVED_COLUMNS = names(REMOVED_MESSAGE_ROW)
export const RECEIVERS = names(RECEIVER)
export const DEVICES = names(DEVICE)
export const TOMBSTONES = names(TOMBSTONE)
const READER = pick(SUMMARY_ROW, ['reader'])
const PURGE_AT = pick(TOMBSTONE, ['purge_at'])

/**
 * NULLs in place of these columns, for the parts of a UNION: typed (a distributed planner plans each part on its own,
 * and an untyped NULL there is text) and named after them as asked; a column that `given` names is its expression instead.
 */
export const nulls = (columns: readonly Column[], { typed = true, named = false } = {}, given: Readonly<Record<string, string>> = {}): string =>
  columns.map(({ name, type }) => given[name] ?? `NULL${typed ? `::${type}` : ''}${named ? ` AS ${name}` : ''}`).join(', ')

// A summary row's columns after its key; for a removal's own rows, its reader and those as typed NULLs named after them.
export const ROW_STATE = (alias: string): string => names(SUMMARY_ROW_STATE, alias)
export const ROW_NULLS = nulls(SUMMARY_ROW_STATE, { named: true })
export const READER_AND_ROW_NULLS = nulls([...READER, ...SUMMARY_ROW_STATE], { named: true })
// The same in a later part of a UNION, which the first part has typed.
export const READER_AND_ROW_LATER_NULLS = nulls([...READER, ...SUMMARY_ROW_STATE], { typed: false })
// A summary row's part of a removal's result after its receiver: a removed message's columns (REMOVED_MESSAGE) as typed NULLs, but its sender.
export const REMOVED_NULLS = nulls(withoutReceiverUid(REMOVED_MESSAGE), {}, { sender_uid: 'c.sender_uid' })
// SQL.removeExpired's part of each receiver's earliest expiry: its receiver, min(expires_at), and NULL for the rest.
export const NEXT_EXPIRY = `receiver_uid, ${nulls([...withoutReceiverUid(REMOVED_MESSAGE), ...READER], {}, { expires_at: 'min(expires_at)' })}, ${ROW_NULLS}`

/**
 * The bit of the reader a read is for: the receiver itself (bit 0), or the device named by the parameter `device`, looked
 * up in the same statement (NULL, matching nothing, when it is not registered). `receiver` picks the receiver's devices
 * (the receiver given as $1 unless told).
 */
export const readerBit = (device?: string, receiver = 'receiver_uid = $1'): string =>
  device === undefined ? '1' : `(1 << (SELECT slot FROM devices WHERE ${receiver} AND device_id = ${device}))`

/** A page of one receiver's messages pending for a reader: with a device, its name after the limit; of one sender, the next parameter. */
export function pageSql (name: string, ofSender: boolean, ofDevice: boolean): Sql {
  const p = params()
  const [receiver, after, now, limit] = [p.next(), p.next(), p.next(), p.next()]
  const device = ofDevice ? p.next() : undefined
  const sender = ofSender ? p.next() : undefined
  return sql(name, `SELECT ${names(PAGE)} FROM messages WHERE receiver_uid = ${receiver} ${sender === undefined ? '' : `AND sender_uid = ${sender} `}` +
    `AND seq > ${after} AND expires_at > ${now} AND (readers & ${readerBit(device)}) <> 0 ORDER BY seq LIMIT ${limit}`)
}

/**
 * The receiver's row and one page of a reader's summary in one statement: no row when the receiver is unknown, one
 * row of NULL summary row columns when the reader has no summary rows. A device's (named by $4) adds its slot and its
 * pending count after the receiver's columns.
 */
export function summarySql (name: string, ofDevice: boolean): Sql {
  return sql(name, `SELECT ${names(RECEIVER, 'r')}${ofDevice ? ', d.slot, p.device_pending' : ''}, ${names(SUMMARY_ROW, 'c')} FROM receivers r ` +
    // The device's pending count joined before the page's rows, so that it is summed once, not once per row.
    (ofDevice
      ? 'LEFT JOIN devices d ON d.receiver_uid = $1 AND d.device_id = $4 LEFT JOIN LATERAL (SELECT coalesce(sum(pending_count), 0) AS device_pending ' +
        'FROM conversations WHERE receiver_uid = $1 AND reader = d.slot) AS p ON true '
      : '') +
    `LEFT JOIN LATERAL (SELECT ${SUMMARY_ROWS} FROM conversations WHERE receiver_uid = $1 AND reader = ${ofDevice ? 'd.slot' : '0'} ` +
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
 * Rows whose (receiver_uid, id) is one of the pairs given as two arrays (receivers and ids, text[] parameters): a
 * semi-join that looks each pair up in the index. (An `= ANY` of each array instead would scan every combination,
 * 10,000 for a batch of 100.)
 */
export const inPairs = (id: string, [receivers, ids]: readonly [string, string]): string =>
  `${keyedBy('receiver_uid', receivers)} AND (receiver_uid, ${id}) IN (SELECT * FROM unnest(${receivers}, ${ids}))`
/** The next two parameters, for inPairs. */
export const pairParams = (p: Params): [string, string] => [p.next('text[]'), p.next('text[]')]

/**
 * SQL.findForStores: after 'part', a message's columns, a tombstone's purge_at, then a summary row's reader and columns
 * after its key. Each part has its own and NULLs for the others (typed in the first part, which types the result).
 */
export function findForStoresSql (): Sql {
  const p = params()
  const [messages, senders] = [pairParams(p), pairParams(p)]
  return sql('find_for_stores',
    `SELECT * FROM (SELECT 'pending' AS part, ${MESSAGES}, ${nulls([...PURGE_AT, ...READER, ...SUMMARY_ROW_STATE], { named: true })} ` +
    `FROM messages WHERE ${inPairs('msg_id', messages)} ` +
    `UNION ALL SELECT 'tombstone', ${MESSAGES}, purge_at, ${READER_AND_ROW_LATER_NULLS} ` +
    `FROM tombstones WHERE ${inPairs('msg_id', messages)} ` +
    `UNION ALL SELECT 'row', receiver_uid, ${nulls([...withoutReceiverUid(MESSAGE), ...PURGE_AT], { typed: false }, { sender_uid: 'sender_uid' })}, ` +
    `reader, ${ROW_STATE('c')} FROM conversations c WHERE ${inPairs('sender_uid', senders)}) AS found`)
}

/** An INSERT's ON CONFLICT on its key that sets these columns to the inserted row's. */
export const onConflictSet = (key: readonly Column[], columns: readonly Column[]): string =>
  `ON CONFLICT (${names(key)}) DO UPDATE SET ${columns.map(({ name }) => `${name} = excluded.${name}`).join(', ')}`
export const UPSERT_SUMMARY_ROW = onConflictSet(SUMMARY_ROW_KEY, SUMMARY_ROW_STATE)
// A receiver's row as given, all but its key: the write-back of the receivers' rows as an upsert of VALUES, for a backend that shapes it so.
export const UPSERT_RECEIVER = onConflictSet(RECEIVER_KEY, RECEIVER_STATE)
export const UPSERT_RECEIVER_ONTO_ITSELF = `ON CONFLICT (receiver_uid) DO UPDATE SET receiver_uid = excluded.receiver_uid RETURNING ${RECEIVERS}`

// writeBack's parts after its inserts, each on the next parameters of `p` (the first its receivers): summary rows
// deleted, receivers' rows, devices' last acks. A distributed planner routes these (an UPDATE or DELETE joined on an
// unnest, keyed) to one node as they are; the receivers' rows it gets as an upsert of VALUES instead (UPSERT_RECEIVER).
export function DELETE_SUMMARY_ROWS (p: Params): string {
  const receivers = p.next('text[]')
  return `DELETE FROM conversations WHERE ${keyedBy('receiver_uid', receivers)} AND (${names(SUMMARY_ROW_KEY)}) IN ` +
    `(SELECT * FROM unnest(${receivers}, ${arrays(p, withoutReceiverUid(SUMMARY_ROW_KEY))}))`
}
export function UPDATE_RECEIVERS (p: Params): string {
  const receivers = p.next('text[]')
  return `UPDATE receivers AS r SET ${RECEIVER_STATE.map(({ name }) => `${name} = v.${name}`).join(', ')} ` +
    `FROM unnest(${receivers}, ${arrays(p, RECEIVER_STATE)}) AS v (${RECEIVERS}) ` +
    // The key as an index condition, here: each receiver's row is the one it finds.
    `WHERE r.receiver_uid = ANY(${receivers}) AND r.receiver_uid = v.receiver_uid`
}
export function TOUCH_DEVICES (p: Params): string {
  const receivers = p.next('text[]')
  return `UPDATE devices AS d SET last_ack_at = t.at FROM unnest(${receivers}, ${arrays(p, withoutReceiverUid(DEVICE_ACK))}) AS t (receiver_uid, slot, at) ` +
    `WHERE ${keyedBy('d.receiver_uid', receivers)} AND d.receiver_uid = t.receiver_uid AND d.slot = t.slot`
}

/** The parts of a write-back, in the order of its parameters: new messages, summary rows saved and deleted, receivers' rows, devices' last acks. */
export const WRITE_BACK_PARTS = ['messages', 'saved', 'deleted', 'receivers', 'touched'] as const
export type WriteBackPart = typeof WRITE_BACK_PARTS[number]

/**
 * What a transaction wrote since its last statement, in one: of new messages, summary rows upserted and deleted,
 * receivers' rows, devices' last acks, the `parts` it has (all by default; a part left out costs nothing, where an
 * empty one still opens its table and indexes), each on the next parameters; with `withdrawing`, then messages
 * withdrawn (receivers, seqs, recalls, and each one's acked_at and purge_at, a NULL purge_at for no tombstone), deleted
 * and kept as tombstones; with `events`, then the transaction's events, on the parameters after those
 * (insertGivenEvents). A statement per combination, so that a write without withdrawals or events (every v1 request)
 * sends the same text as before them; one with every part is named write_back, one with fewer by the initials of the
 * parts it has (write_back_msr), or `none`.
 */
export function writeBackSql ({ parts = WRITE_BACK_PARTS, withdrawing = false, events }: { parts?: readonly WriteBackPart[], withdrawing?: boolean, events?: (p: Params) => string } = {}): Sql {
  const p = params()
  const written: Record<WriteBackPart, () => string> = {
    messages: () => `inserted AS (INSERT INTO messages (${names(PENDING)}) SELECT * FROM unnest(${arrays(p, PENDING)}))`,
    saved: () => `saved AS (INSERT INTO conversations (${SUMMARY_ROWS}) SELECT * FROM unnest(${arrays(p, SUMMARY_ROW)}) ${UPSERT_SUMMARY_ROW})`,
    deleted: () => `deleted AS (${DELETE_SUMMARY_ROWS(p)})`,
    receivers: () => `updated AS (${UPDATE_RECEIVERS(p)})`,
    touched: () => `touched AS (${TOUCH_DEVICES(p)})`
  }
  const chosen = WRITE_BACK_PARTS.filter((part) => parts.includes(part))
  const ctes = chosen.map((part) => written[part]())
  if (withdrawing) {
    const receivers = p.next('text[]')
    const withdrawn = `unnest(${receivers}, ${p.next('bigint[]')}, ${p.next('text[]')}, ${p.next('bigint[]')}, ${p.next('bigint[]')}) ` +
      'AS k (receiver_uid, seq, recall, acked_at, purge_at)'
    ctes.push(`gone AS (DELETE FROM messages m USING ${withdrawn} WHERE ${keyedBy('m.receiver_uid', receivers)} AND m.receiver_uid = k.receiver_uid ` +
      `AND m.seq = k.seq RETURNING ${names(MESSAGE, 'm')}, k.recall, k.acked_at, k.purge_at)`,
    `kept AS (INSERT INTO tombstones (${TOMBSTONES}, recall) SELECT ${names(TOMBSTONE)}, recall FROM gone WHERE purge_at IS NOT NULL)`)
  }
  if (events !== undefined) ctes.push(`recorded AS (${events(p)})`)
  if (ctes.length === 0) throw new Error('a write-back of nothing')
  const fewer = chosen.length === WRITE_BACK_PARTS.length ? [] : [chosen.length === 0 ? 'none' : chosen.map((part) => part[0]).join('')]
  return sql(['write_back', ...fewer, ...(withdrawing ? ['withdrawing'] : []), ...(events !== undefined ? ['events'] : [])].join('_'), `WITH ${ctes.join(', ')} SELECT 1`)
}

// The message columns a tombstone keeps beyond a removed message's: what removeAckedSql's 'return' adds to each removed row.
const TOMBSTONE_EXTRA = MESSAGE.filter((column) => !REMOVED_MESSAGE.includes(column))

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
  const extra = returned ? `, ${names(TOMBSTONE_EXTRA)}` : ''
  const extraNulls = returned ? `, ${nulls(TOMBSTONE_EXTRA)}` : ''
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
    `RETURNING ${names(PENDING, 'm')}` +
    '), taken AS (' +
    `UPDATE messages m SET readers = m.readers & ~c.bits FROM chosen c WHERE ${keyedBy('m.receiver_uid', '$1::text[] || $4::text[]')} AND m.receiver_uid = c.receiver_uid ` +
    'AND m.seq = c.seq AND (m.readers & ~c.bits) <> 0 ' +
    `RETURNING ${names(REMOVED_MESSAGE, 'm', { readers: 'c.bits AS readers', remaining: 'm.readers AS remaining' })}${extraNulls}` +
    (returned ? '), ' : `), kept AS (INSERT INTO tombstones (${TOMBSTONES}) SELECT ${names(TOMBSTONE, undefined, { acked_at: '$8', purge_at: '$9::bigint' })} FROM deleted WHERE $9::bigint IS NOT NULL), `) +
    `removed AS (SELECT ${REMOVED_COLUMNS}, 0 AS remaining${extra} FROM deleted UNION ALL SELECT * FROM taken) ` +
    `SELECT 'removed' AS part, ${names(REMOVED_MESSAGE)}, ${READER_AND_ROW_NULLS}${extra} FROM removed ` +
    // Both read only the acks' receivers' rows (an index scan on = ANY), then match them.
    `UNION ALL SELECT 'row', c.receiver_uid, ${REMOVED_NULLS}, c.reader, ${ROW_STATE('c')}${extraNulls} FROM conversations c ` +
    'WHERE c.receiver_uid = ANY($1::text[] || $4::text[]) AND EXISTS (SELECT 1 FROM removed d WHERE d.receiver_uid = c.receiver_uid ' +
    'AND d.sender_uid = c.sender_uid AND (d.readers & (1 << c.reader)) <> 0) ' +
    `UNION ALL SELECT 'lost', c.receiver_uid, ${REMOVED_NULLS}, c.reader, ${ROW_STATE('c')}${extraNulls} ` +
    `FROM conversations c WHERE c.receiver_uid = ANY(${upTo}) AND c.lost_count > 0 AND EXISTS (` +
    'SELECT 1 FROM unnest($4::text[], $5::bigint[], $6::text[], $7::integer[]) AS u (receiver_uid, up_to_seq, sender_uid, bit) ' +
    'WHERE u.receiver_uid = c.receiver_uid AND u.bit = (1 << c.reader) AND (u.sender_uid IS NULL OR u.sender_uid = c.sender_uid) AND c.lost_seq <= u.up_to_seq)')
}
