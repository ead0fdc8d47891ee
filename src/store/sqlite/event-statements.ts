// The event feed's SQL on SQLite: one writer commits at a time, so the AUTOINCREMENT id is commit order.
import type { Statement } from 'better-sqlite3'
import type { EventRecord } from '../../domain/events.js'

/** The columns the feed reads, in this order (eventFromValues). */
export const EVENT_COLUMNS = 'id, type, occurred_at, receiver_uid, device_id, sender_uid, msg_id, seq, pending_count, msg_type, content_preview, devices'

/** The records as the one JSON parameter of insertEvents: an array per record, in EVENT_INPUT's order. */
export const eventRecordsJson = (records: readonly EventRecord[]): string => JSON.stringify(records.map((r) => [
  r.type, r.occurredAt, r.receiverUid, r.reader, r.deviceId, r.senderUid, r.msgId, r.seq, r.msgType, r.contentPreview, r.readers, r.later
]))

export function eventStatements (p: (sql: string) => Statement) {
  // All of a transaction's events in one statement, from one JSON array, in its order (the ids follow it). The device
  // of a reader's slot, the devices of a stored message's readers and the pending count are read here, at the end of
  // the transaction: a reader's count is the sum of its summary rows, ALL_READERS's (-1) the receiver's own count (0
  // once it is erased: receiver.erased).
  const record = (i: number): string => `json_extract(r.value, '$[${i}]')`
  const receiver = record(2)
  const reader = record(3)
  const insertEvents = p('INSERT INTO events (type, occurred_at, recorded_at, receiver_uid, device_id, sender_uid, msg_id, seq, pending_count, msg_type, content_preview, devices) ' +
    `SELECT ${record(0)}, ${record(1)}, ?, ${receiver}, ` +
    `CASE WHEN ${record(4)} IS NOT NULL THEN ${record(4)} WHEN ${reader} > 0 THEN (SELECT d.device_id FROM devices d WHERE d.receiver_uid = ${receiver} AND d.slot = ${reader}) END, ` +
    `${record(5)}, ${record(6)}, ${record(7)}, ` +
    `CASE WHEN ${reader} < 0 THEN coalesce((SELECT x.pending_count FROM receivers x WHERE x.receiver_uid = ${receiver}), 0) ` +
    `ELSE (SELECT coalesce(sum(c.pending_count), 0) FROM conversations c WHERE c.receiver_uid = ${receiver} AND c.reader = ${reader}) END - ${record(11)}, ` +
    `${record(8)}, ${record(9)}, ` +
    `CASE WHEN ${record(10)} IS NOT NULL THEN (SELECT json_group_array(device_id) FROM (SELECT d.device_id FROM devices d ` +
    `WHERE d.receiver_uid = ${receiver} AND (${record(10)} & (1 << d.slot)) <> 0 ORDER BY d.slot)) END ` +
    'FROM json_each(?) r ORDER BY r.key')
  return {
    insertEvents,
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
