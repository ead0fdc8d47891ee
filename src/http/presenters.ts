// Turns domain values into the contract's JSON shapes (snake_case, RFC 3339 UTC with milliseconds).
import type { EventView } from '../domain/events.js'
import type { StoredMessage, SummaryRow } from '../domain/model.js'
import { formatTime } from './time.js'
import type { ApiMessage } from './message-schemas.js'
import type { ApiSummaryRow } from './receiver-schemas.js'

// Written out rather than looped over PAYLOAD_FIELDS (message-schemas.ts): it runs for every message of a page, and the
// loop costs more per message than this literal. The compiler names it when MessageSchema gains a field.
export function presentMessage (message: StoredMessage): ApiMessage {
  return {
    msg_id: message.msgId,
    receiver_uid: message.receiverUid,
    sender_uid: message.senderUid,
    msg_type: message.msgType,
    content: message.content,
    send_time: formatTime(message.sendTime),
    collapse_key: message.collapseKey,
    seq: message.seq,
    stored_at: formatTime(message.storedAt),
    expires_at: formatTime(message.expiresAt)
  }
}

export function presentSummaryRow (row: SummaryRow): ApiSummaryRow {
  return {
    sender_uid: row.senderUid,
    pending_count: row.pendingCount,
    last_seq: row.last?.seq ?? null,
    last_send_time: row.last === null ? null : formatTime(row.last.sendTime),
    last_msg_type: row.last?.msgType ?? null,
    last_content_preview: row.last?.preview ?? null,
    lost_count: row.lostCount
  }
}

/** An event as the API (the feed, and the webhook's bodies) shows it: the stored message's fields only on message.stored, no message on receiver.erased. */
export function presentEvent (event: EventView) {
  const shown = {
    id: event.id,
    occurred_at: formatTime(event.occurredAt),
    receiver_uid: event.receiverUid,
    device_id: event.deviceId,
    pending_count: event.pendingCount
  }
  if (event.type === 'receiver.erased') return { ...shown, type: event.type, sender_uid: null, msg_id: null, seq: null }
  if (event.senderUid === null || event.msgId === null || event.seq === null) throw new Error(`event ${event.id} (${event.type}) names no message`)
  const message = { ...shown, type: event.type, sender_uid: event.senderUid, msg_id: event.msgId, seq: event.seq }
  if (event.type !== 'message.stored') return message
  return { ...message, msg_type: event.msgType, content_preview: event.contentPreview, devices: event.devices ?? [] }
}
