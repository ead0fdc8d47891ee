// The schemas of a receiver's calls (TypeBox): summary, pages, one message, acks, and its devices.
import { Type, type Static } from 'typebox'
import { EXAMPLES } from './examples.js'
import { MessageSchema } from './message-schemas.js'
import {
  DateTimeSchema, DeviceIdFieldSchema, DeviceIdSchema, MsgIdSchema, Nullable, ReceiverUidSchema, SenderUidSchema, SeqSchema, USER_ID
} from './schemas.js'

/** The page sizes a caller gets without `limit`. */
export const SUMMARY_LIMIT_DEFAULT = 50
export const PAGE_LIMIT_DEFAULT = 100
/** The longest a page request may be held (wait_seconds). */
export const WAIT_SECONDS_MAX = 30

/** The query of the calls on one message: the device, for a receiver with devices. */
export const MessageQuerySchema = Type.Object({ device_id: Type.Optional(DeviceIdFieldSchema) }, { additionalProperties: false })

const CursorSchema = Type.String({ description: 'opaque cursor from a previous page' })

export const SummaryQuerySchema = Type.Object({
  device_id: Type.Optional(DeviceIdFieldSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: SUMMARY_LIMIT_DEFAULT })),
  cursor: Type.Optional(CursorSchema)
}, { additionalProperties: false })

/** A summary row as the API shows it (its title, SenderSummary, is the OpenAPI document's name for it). */
export const SummaryRowSchema = Type.Object({
  sender_uid: SenderUidSchema,
  pending_count: Type.Integer(),
  last_seq: Nullable(Type.Integer()),
  last_send_time: Nullable(DateTimeSchema),
  last_msg_type: Nullable(Type.Integer()),
  last_content_preview: Nullable(Type.String({ description: 'content cut to 100 Unicode code points' })),
  lost_count: Type.Integer({ description: 'messages of this sender removed without an ack (expired or dropped) since the last ack of one of its messages' })
}, { title: 'SenderSummary' })
export type ApiSummaryRow = Static<typeof SummaryRowSchema>

export const SummaryResponseSchema = Type.Object({
  receiver_uid: ReceiverUidSchema,
  total_pending: Type.Integer(),
  senders: Type.Array(SummaryRowSchema),
  next_cursor: Nullable(Type.String({ description: 'null on the last page' }))
}, { title: 'Summary', description: 'One row per sender, most recent first', examples: [EXAMPLES.summary] })

export const PageQuerySchema = Type.Object({
  // No example: Swagger UI would fill it in, and "Try it out" would then show one sender's messages only.
  sender_uid: Type.Optional(Type.String({ ...USER_ID, description: "only this sender's messages (1-50 of A-Z a-z 0-9 . _ - : @ +); all senders' when omitted" })),
  device_id: Type.Optional(DeviceIdFieldSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: PAGE_LIMIT_DEFAULT })),
  cursor: Type.Optional(CursorSchema),
  wait_seconds: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: WAIT_SECONDS_MAX,
    default: 0,
    description: 'while the page would be empty, hold the request up to this many seconds and answer as soon as a matching message commits (long-poll); 0 answers at once'
  }))
}, { additionalProperties: false })

export const PageResponseSchema = Type.Object({
  messages: Type.Array(MessageSchema),
  next_cursor: Type.String({ description: 'always a cursor to resume from, also after an empty page' }),
  has_more: Type.Boolean()
}, { title: 'MessagePage', description: 'One page of pending messages, seq ascending', examples: [EXAMPLES.page] })

export const AckBodySchema = Type.Object({
  msg_ids: Type.Optional(Type.Array(MsgIdSchema, { minItems: 1, maxItems: 1000 })),
  up_to_seq: Type.Optional(SeqSchema),
  sender_uid: Type.Optional(SenderUidSchema),
  device_id: Type.Optional(DeviceIdFieldSchema)
}, {
  additionalProperties: false,
  title: 'Ack',
  description: 'either {msg_ids} or {up_to_seq, sender_uid?}, never both; with device_id for a receiver with devices',
  'x-examples': { by_ids: EXAMPLES.ackByIds, up_to_seq: EXAMPLES.ackUpToSeq }
})

export type AckBodyInput = Static<typeof AckBodySchema>

export const AckResponseSchema = Type.Object({ deleted: Type.Integer({ description: 'messages deleted by this ack; 0 when acked again' }) }, {
  title: 'AckResult',
  description: 'Acknowledged',
  examples: [EXAMPLES.ackResult]
})

const DEVICE_PROPERTIES = {
  device_id: DeviceIdSchema,
  registered_at: DateTimeSchema,
  pending_count: Type.Integer({ description: 'messages pending for this device' })
}

export const DeviceResponseSchema = Type.Object(DEVICE_PROPERTIES, { title: 'Device', examples: [EXAMPLES.device] })

export const DevicesResponseSchema = Type.Object({
  devices: Type.Array(Type.Object({
    ...DEVICE_PROPERTIES,
    last_ack_at: Nullable(Type.String({ format: 'date-time', description: "the time of this device's last ack; null before its first" }))
  }, { title: 'DeviceState' }))
}, { title: 'Devices', description: 'The registered devices, in the order they registered', examples: [EXAMPLES.devices] })

