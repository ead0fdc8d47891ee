// Message schemas (TypeBox): a message as the API shows it, a new message and a batch of them, and what storing answers.
import { Type, type Static } from 'typebox'
import { EXAMPLES } from './examples.js'
import { CONTENT_PATTERN, DateTimeSchema, MsgIdSchema, Nullable, ReceiverUidSchema, SenderUidSchema, type SchemaLimits } from './schemas.js'

export const MessageSchema = Type.Object({
  msg_id: MsgIdSchema,
  receiver_uid: ReceiverUidSchema,
  sender_uid: SenderUidSchema,
  msg_type: Type.Integer({ minimum: 0, maximum: 65535 }),
  content: Type.String(),
  send_time: DateTimeSchema,
  seq: Type.Integer({ description: 'server-assigned, strictly increasing per receiver in commit order' }),
  stored_at: DateTimeSchema,
  expires_at: DateTimeSchema
}, { title: 'Message', description: 'A pending message', examples: [EXAMPLES.message] })
export type ApiMessage = Static<typeof MessageSchema>

export const StoredResponseSchema = Type.Object({
  ...MessageSchema.properties,
  duplicate: Type.Boolean({ description: 'true when this (receiver_uid, msg_id) was already stored with the same payload' })
}, { title: 'StoredMessage', examples: [EXAMPLES.stored] })

export function newMessageSchema (limits: SchemaLimits) {
  return Type.Object({
    receiver_uid: ReceiverUidSchema,
    sender_uid: SenderUidSchema,
    msg_id: Type.Optional(Type.String({ ...MsgIdSchema, description: 'fingerprint for dedup; the server makes a time-ordered UUIDv7 when omitted' })),
    msg_type: Type.Integer({ minimum: 0, maximum: 65535, description: 'opaque to the service: 1 text, 2 image, 3 voice, ...' }),
    content: Type.String({
      maxLength: limits.maxContentLength,
      pattern: CONTENT_PATTERN,
      description: `text, or a URL for media; at most ${limits.maxContentLength} Unicode code points, no U+0000, no lone surrogates`
    }),
    send_time: Type.Optional(Type.String({ format: 'date-time', description: "the sender's clock, RFC 3339 with a zone; the server's time when omitted" })),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.messageTtlSeconds, description: 'expire sooner than the default' }))
  }, {
    additionalProperties: false,
    title: 'NewMessage',
    examples: [EXAMPLES.newMessage]
  })
}
export type NewMessageBody = Static<ReturnType<typeof newMessageSchema>>

export const BATCH_MAX = 500

export function batchSchema (limits: SchemaLimits) {
  return Type.Object({
    messages: Type.Array(newMessageSchema(limits), { minItems: 1, maxItems: BATCH_MAX })
  }, { additionalProperties: false, title: 'NewMessageBatch', examples: [EXAMPLES.batch] })
}

export const BatchResponseSchema = Type.Object({
  results: Type.Array(Type.Object({
    status: Type.Enum(['stored', 'duplicate', 'conflict', 'inbox_full']),
    msg_id: MsgIdSchema,
    seq: Nullable(Type.Integer({ description: 'null for conflict and inbox_full' }))
  }))
}, { title: 'BatchResult', description: 'One result per message, in input order', examples: [EXAMPLES.batchResult] })
