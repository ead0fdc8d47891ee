// Turns domain values into the contract's JSON shapes (snake_case, RFC 3339 UTC with milliseconds).
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
