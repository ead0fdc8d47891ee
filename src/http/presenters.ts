// Turns domain values into the contract's JSON shapes (snake_case, RFC 3339 UTC with milliseconds).
import type { StoredMessage, SummaryRow } from '../store/types.js'
import { formatTime } from '../domain/time.js'
import type { ApiMessage } from './schemas.js'

export const PREVIEW_LENGTH = 100

export function presentMessage (message: StoredMessage): ApiMessage {
  return {
    msg_id: message.msgId,
    receiver_uid: message.receiverUid,
    sender_uid: message.senderUid,
    msg_type: message.msgType,
    content: message.content,
    send_time: formatTime(message.sendTime),
    seq: message.seq,
    stored_at: formatTime(message.storedAt),
    expires_at: formatTime(message.expiresAt)
  }
}

/** The first 100 Unicode code points (not UTF-16 units, so a surrogate pair is never cut in half). */
export function preview (content: string): string {
  return Array.from(content).slice(0, PREVIEW_LENGTH).join('')
}

export function presentSummaryRow (row: SummaryRow) {
  return {
    sender_uid: row.senderUid,
    pending_count: row.pendingCount,
    last_seq: row.last?.seq ?? null,
    last_send_time: row.last === null ? null : formatTime(row.last.sendTime),
    last_msg_type: row.last?.msgType ?? null,
    last_content_preview: row.last === null ? null : preview(row.last.content),
    lost_count: row.lostCount
  }
}
