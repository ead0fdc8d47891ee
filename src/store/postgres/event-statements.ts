// The event feed's SQL on PostgreSQL, and why its order is commit order.
//
// A sequence is taken at insert, not at commit: a transaction that took 5 may commit after one that took 6, and a
// consumer that had read 6 would resume after it and never see 5. So each event carries its transaction's id (xid8,
// pg_current_xact_id(), the column's default) and its position within the transaction, and the feed serves only the
// events of transactions below pg_snapshot_xmin(pg_current_snapshot()): every transaction below that horizon has
// ended, committed or rolled back, so no event can ever appear below it again. Read in (xid, pos) order up to the
// horizon, and resumed from the last (xid, pos) served, a consumer never misses an event and never sees one twice,
// though (xid, pos) order is not exactly the order of the commits. The price: an event is served once its own
// transaction and every older one still running have ended (any transaction of the cluster that holds an xid).
import type { EventRecord } from '../../domain/events.js'
import { devicesText } from '../row-mapper.js'
import { params, type Params } from './params.js'
import { sql, type Sql } from './sql-parts.js'

const FEED_COLUMNS = "e.xid::text || ':' || e.pos AS id, e.type, e.occurred_at, e.receiver_uid, e.device_id, e.sender_uid, e.msg_id, e.seq, " +
  'e.pending_count, e.msg_type, e.content_preview, e.devices'

/** Below this, no transaction can still commit. */
export const HORIZON = 'pg_snapshot_xmin(pg_current_snapshot())'

/** insertEvents's input: one array parameter per field of the records, in this order (eventArrays binds them so). */
const EVENT_INPUT: ReadonlyArray<readonly [name: string, type: string, pick: (record: EventRecord) => unknown]> = [
  ['type', 'text', (r) => r.type], ['occurred_at', 'bigint', (r) => r.occurredAt], ['receiver_uid', 'text', (r) => r.receiverUid],
  ['reader', 'integer', (r) => r.reader], ['device_id', 'text', (r) => r.deviceId], ['sender_uid', 'text', (r) => r.senderUid],
  ['msg_id', 'text', (r) => r.msgId], ['seq', 'bigint', (r) => r.seq], ['msg_type', 'integer', (r) => r.msgType],
  ['content_preview', 'text', (r) => r.contentPreview], ['readers', 'integer', (r) => r.readers], ['later', 'integer', (r) => r.later],
  ['known_pending', 'integer', (r) => r.pendingCount], ['known_devices', 'text', (r) => devicesText(r.devices)]
]

/**
 * All of a transaction's events in one statement of their own, each at its position (the arrays' order), when some of
 * them do not give all (else they go with the write-back: insertGivenEvents). The device of a reader's slot, the
 * devices of a stored message's readers and the pending count, unless the record gives them, are read here, after the
 * transaction's other writes: a reader's count is the sum of its summary rows, ALL_READERS's (-1) the receiver's own count (0 once it is
 * erased: receiver.erased).
 */
function insertEventsSql (): Sql {
  const p = params()
  const input = EVENT_INPUT.map(([, type]) => p.next(`${type}[]`)).join(', ')
  const recordedAt = p.next()
  return sql('insert_events',
    'INSERT INTO events (pos, type, occurred_at, recorded_at, receiver_uid, device_id, sender_uid, msg_id, seq, pending_count, msg_type, content_preview, devices) ' +
    `SELECT k.i, k.type, k.occurred_at, ${recordedAt}, k.receiver_uid, ` +
    'CASE WHEN k.device_id IS NOT NULL THEN k.device_id WHEN k.reader > 0 THEN (SELECT d.device_id FROM devices d WHERE d.receiver_uid = k.receiver_uid AND d.slot = k.reader) END, ' +
    'k.sender_uid, k.msg_id, k.seq, ' +
    'coalesce(k.known_pending, CASE WHEN k.reader < 0 THEN coalesce((SELECT x.pending_count FROM receivers x WHERE x.receiver_uid = k.receiver_uid), 0) ' +
    'ELSE (SELECT coalesce(sum(c.pending_count), 0) FROM conversations c WHERE c.receiver_uid = k.receiver_uid AND c.reader = k.reader) END - k.later), ' +
    'k.msg_type, k.content_preview, ' +
    "coalesce(k.known_devices, CASE WHEN k.readers IS NOT NULL THEN (SELECT coalesce(json_agg(d.device_id ORDER BY d.slot), '[]'::json)::text FROM devices d " +
    'WHERE d.receiver_uid = k.receiver_uid AND (k.readers & (1 << d.slot)) <> 0) END) ' +
    `FROM unnest(${input}) WITH ORDINALITY AS k (${EVENT_INPUT.map(([name]) => name).join(', ')}, i)`)
}

/** The columns of an event that gives all (givesAll), as insertGivenEvents's arrays, in this order (givenEventArrays binds them so). */
const GIVEN_INPUT: ReadonlyArray<readonly [name: string, type: string, pick: (record: EventRecord) => unknown]> = [
  ['type', 'text', (r) => r.type], ['occurred_at', 'bigint', (r) => r.occurredAt], ['receiver_uid', 'text', (r) => r.receiverUid],
  ['device_id', 'text', (r) => r.deviceId], ['sender_uid', 'text', (r) => r.senderUid], ['msg_id', 'text', (r) => r.msgId],
  ['seq', 'bigint', (r) => r.seq], ['pending_count', 'integer', (r) => r.pendingCount], ['msg_type', 'integer', (r) => r.msgType],
  ['content_preview', 'text', (r) => r.contentPreview], ['devices', 'text', (r) => devicesText(r.devices)]
]

/**
 * A transaction's events that all give all (givesAll), on the next parameters of `p`: nothing to read after the
 * transaction's other writes, so they can go in the write-back's statement (SQL.writeBackEvents), whose parts see one
 * snapshot, instead of a round trip of their own before the COMMIT.
 */
export function insertGivenEvents (p: Params): string {
  const names = GIVEN_INPUT.map(([name]) => name).join(', ')
  const input = GIVEN_INPUT.map(([, type]) => p.next(`${type}[]`)).join(', ')
  return `INSERT INTO events (${names}, pos, recorded_at) SELECT k.*, ${p.next('bigint')} FROM unnest(${input}) WITH ORDINALITY AS k (${names}, pos)`
}

/** Records that all give all as insertGivenEvents's arrays, then the time they are recorded. */
export const givenEventArrays = (records: readonly EventRecord[], now: number): unknown[] =>
  [...GIVEN_INPUT.map(([, , pick]) => records.map(pick)), now]

export const EVENT_SQL = {
  // Events with what they lack read after the transaction's other writes (insertEventsSql).
  insertEvents: insertEventsSql(),
  // Up to $3 events after ($1, $2) below the horizon, with whether retention deleted any after it, and whether any after
  // it committed above the horizon (held back: visible in this snapshot, so committed); one row with a NULL id when
  // there is none to serve.
  events: sql('events',
    'SELECT coalesce((f.pruned_xid, f.pruned_pos) > ($1::xid8, $2::integer), false) AS missed, ' +
    `EXISTS (SELECT 1 FROM events h WHERE (h.xid, h.pos) > ($1::xid8, $2::integer) AND h.xid >= ${HORIZON}) AS held_back, ` +
    'p.* FROM event_feed f LEFT JOIN LATERAL (' +
    `SELECT ${FEED_COLUMNS} FROM events e WHERE (e.xid, e.pos) > ($1::xid8, $2::integer) AND e.xid < ${HORIZON} ` +
    'ORDER BY e.xid, e.pos LIMIT $3) p ON true WHERE f.id = 1'),
  eraseEvents: sql('erase_events', 'DELETE FROM events WHERE receiver_uid = $1'),
  // The key with the database's name: a database copied from another (CREATE DATABASE ... TEMPLATE, as the tests do)
  // has its key too, and must still refuse its cursors.
  eventCursorKey: sql('event_cursor_key', "SELECT cursor_key || ':' || current_database() AS cursor_key FROM event_feed WHERE id = 1"),
  // The oldest events recorded at or before $1, at most $2, in feed order and below the horizon (so the feed loses a
  // prefix, never a gap), and the position of the last one noted for `missed`.
  purgeEvents: sql('purge_events',
    'WITH gone AS (DELETE FROM events WHERE (xid, pos) IN (SELECT xid, pos FROM events WHERE recorded_at <= $1 AND xid < ' + HORIZON + ' ' +
    'ORDER BY xid, pos LIMIT $2) RETURNING xid, pos), last AS (SELECT xid, pos FROM gone ORDER BY xid DESC, pos DESC LIMIT 1), ' +
    'noted AS (UPDATE event_feed f SET pruned_xid = l.xid, pruned_pos = l.pos FROM last l WHERE f.id = 1 ' +
    'AND (f.pruned_xid IS NULL OR (l.xid, l.pos) > (f.pruned_xid, f.pruned_pos)) RETURNING 1) ' +
    'SELECT (SELECT count(*) FROM gone) AS purged, (SELECT count(*) FROM noted) AS noted')
} as const

/** The records as insertEvents's arrays, one per field (EVENT_INPUT), then the time they are recorded. */
export const eventArrays = (records: readonly EventRecord[], now: number): unknown[] =>
  [...EVENT_INPUT.map(([, , pick]) => records.map(pick)), now]

/** A feed position 'xid:pos' as the statement's two parameters. */
export function positionParams (position: string | null): [string, number] {
  if (position === null) return ['0', 0]
  const match = /^([0-9]{1,20}):([0-9]{1,9})$/.exec(position)
  if (match === null) throw new Error(`not an event position: ${position}`)
  return [match[1] as string, Number(match[2])]
}
