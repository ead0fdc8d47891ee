// Turns validated request bodies into the domain's camelCase commands (the counterpart of presenters.ts).
import type { AckSelector, MessagePayload, NewMessage } from '../domain/model.js'
import { httpErrors } from './errors.js'
import { PAYLOAD_FIELDS, type NewMessageBody } from './message-schemas.js'
import type { AckBodyInput } from './receiver-schemas.js'
import { parseDateTime } from './time.js'

/** Epoch milliseconds of a date-time that the schema's format has already accepted. */
function epochOf (dateTime: string): number {
  const epoch = parseDateTime(dateTime)
  if (epoch === null) throw new TypeError(`date-time ${dateTime} passed validation but does not parse`)
  return epoch
}

const PAYLOAD = Object.entries(PAYLOAD_FIELDS).map(([name, { field }]) => [name as keyof NewMessageBody, field] as const)

/** The payload's fields after sender_uid under the domain's names; the table's types are checked where it is written. */
function payloadOf (body: NewMessageBody): Omit<MessagePayload, 'senderUid' | 'collapseKey'> {
  const payload: Record<string, unknown> = {}
  for (const [name, field] of PAYLOAD) payload[field] = body[name]
  return payload as Omit<MessagePayload, 'senderUid' | 'collapseKey'>
}

export function toNewMessage (body: NewMessageBody): NewMessage {
  return {
    receiverUid: body.receiver_uid,
    senderUid: body.sender_uid,
    msgId: body.msg_id,
    ...payloadOf(body),
    collapseKey: body.collapse_key ?? null,
    sendTime: body.send_time === undefined ? undefined : epochOf(body.send_time),
    ttlSeconds: body.ttl_seconds
  }
}

/** The ack body's two forms; "never both" and "one of them" are checked here, with messages that say which. */
export function toAckSelector (body: AckBodyInput): AckSelector {
  if (body.msg_ids !== undefined && body.up_to_seq !== undefined) throw httpErrors.invalid('body must have either msg_ids or up_to_seq, not both')
  if (body.msg_ids !== undefined) {
    if (body.sender_uid !== undefined) throw httpErrors.invalid('body/sender_uid goes only with up_to_seq')
    return { kind: 'ids', msgIds: body.msg_ids }
  }
  if (body.up_to_seq !== undefined) return { kind: 'up-to', upToSeq: body.up_to_seq, senderUid: body.sender_uid }
  throw httpErrors.invalid('body must have msg_ids or up_to_seq')
}
