// The event feed's SQL on SQLite: one writer commits at a time, so the AUTOINCREMENT id is commit order.
import type { Statement } from 'better-sqlite3'
import type { EventRecord } from '../../domain/events.js'
import { devicesText } from '../row-mapper.js'

/** The columns the feed reads, in this order (eventFromValues). */
export const EVENT_COLUMNS = 'id, type, occurred_at, receiver_uid, device_id, sender_uid, msg_id, seq, pending_count, msg_type, content_preview, devices'

/** The columns an event is inserted into, in this order. */
const INSERTED = 'type, occurred_at, recorded_at, receiver_uid, device_id, sender_uid, msg_id, seq, pending_count, msg_type, content_preview, devices'

/** A record that gives all (givesAll) as insertGivenEvent's parameters, recorded at `now`. */
export const eventValues = (r: EventRecord, now: number): unknown[] => [
  r.type, r.occurredAt, now, r.receiverUid, r.deviceId, r.senderUid, r.msgId, r.seq, r.pendingCount, r.msgType, r.contentPreview,
  devicesText(r.devices)
]

/** Any record as insertEvent's parameters, recorded at `now` (each `?` of it in turn: some values more than once). */
export const eventLookupValues = (r: EventRecord, now: number): unknown[] => [
  r.type, r.occurredAt, now, r.receiverUid, r.deviceId, r.deviceId, r.reader, r.receiverUid, r.reader, r.senderUid, r.msgId, r.seq,
  r.pendingCount, r.reader, r.receiverUid, r.receiverUid, r.reader, r.later, r.msgType, r.contentPreview,
  devicesText(r.devices), r.readers, r.receiverUid, r.readers
]

export function eventStatements (p: (sql: string) => Statement) {
  // A transaction's events one statement each, in its order (the ids follow it): a record that gives all by value, the
  // others with what only the database knows read here, at the end of the transaction: the device of a reader's slot,
  // the devices of a stored message's readers and the pending count. A reader's count is the sum of its summary rows,
  // ALL_READERS's (-1) the receiver's own count (0 once it is erased: receiver.erased). (Measured on this machine, a
  // batch of 100 stored events: 3.2 µs an event by value, 4.7-5.0 with the lookups, 7.2 as one INSERT from a JSON array.)
  const insertGivenEvent = p(`INSERT INTO events (${INSERTED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  const insertEvent = p(`INSERT INTO events (${INSERTED}) SELECT ?, ?, ?, ?, ` +
    'CASE WHEN ? IS NOT NULL THEN ? WHEN ? > 0 THEN (SELECT d.device_id FROM devices d WHERE d.receiver_uid = ? AND d.slot = ?) END, ?, ?, ?, ' +
    'coalesce(?, CASE WHEN ? < 0 THEN coalesce((SELECT x.pending_count FROM receivers x WHERE x.receiver_uid = ?), 0) ' +
    'ELSE (SELECT coalesce(sum(c.pending_count), 0) FROM conversations c WHERE c.receiver_uid = ? AND c.reader = ?) END - ?), ?, ?, ' +
    'coalesce(?, CASE WHEN ? IS NOT NULL THEN (SELECT json_group_array(device_id) FROM (SELECT d.device_id FROM devices d ' +
    'WHERE d.receiver_uid = ? AND (? & (1 << d.slot)) <> 0 ORDER BY d.slot)) END)')
  return {
    insertGivenEvent,
    insertEvent,
    eventsAfter: p(`SELECT ${EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?`).raw(true),
    eventsPruned: p('SELECT coalesce(pruned_id, 0) AS v FROM event_feed WHERE id = 1'),
    // A receiver's events: those the sweep listed under it, those recorded since (a range of ids, looked up by id), and
    // its list (migration 007).
    eraseListedEvents: p('DELETE FROM events WHERE id IN (SELECT id FROM event_receivers WHERE receiver_uid = ?)'),
    eraseRecentEvents: p('DELETE FROM events WHERE id > (SELECT indexed_id FROM event_feed WHERE id = 1) AND receiver_uid = ?'),
    eraseEventList: p('DELETE FROM event_receivers WHERE receiver_uid = ?'),
    // The sweep's listing: the last of the next $1 events not yet listed (NULL: none); those up to it listed, sorted so
    // that each page of event_receivers is written once; how far it went.
    nextToList: p('SELECT max(id) AS v FROM (SELECT id FROM events WHERE id > (SELECT indexed_id FROM event_feed WHERE id = 1) ORDER BY id LIMIT ?)'),
    listEvents: p('INSERT INTO event_receivers (receiver_uid, id) SELECT receiver_uid, id FROM events ' +
      'WHERE id > (SELECT indexed_id FROM event_feed WHERE id = 1) AND id <= ? ORDER BY receiver_uid, id'),
    noteListed: p('UPDATE event_feed SET indexed_id = ? WHERE id = 1'),
    unlistEvent: p('DELETE FROM event_receivers WHERE id = ?'),
    eventCursorKey: p('SELECT cursor_key FROM event_feed WHERE id = 1'),
    // Oldest first by id (commit order), never past the retention's horizon: a delete by id keeps the feed a suffix.
    purgeEvents: p('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE recorded_at <= ? ORDER BY id LIMIT ?) RETURNING id')
      .raw(true),
    notePruned: p('UPDATE event_feed SET pruned_id = max(coalesce(pruned_id, 0), ?) WHERE id = 1')
  }
}
