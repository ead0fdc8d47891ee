// Message schemas (TypeBox): a message as the API shows it, a new message and a batch of them, and what storing answers.
import { Type, type Static, type TSchema } from 'typebox'
import type { MessagePayload } from '../domain/model.js'
import { EXAMPLES } from './examples.js'
import { CONTENT_PATTERN, CollapseKeySchema, DateTimeSchema, MsgIdSchema, Nullable, ReceiverUidSchema, SenderUidSchema, type SchemaLimits } from './schemas.js'

/** A payload field in the contract: the domain field it is, its schema in a message, and in a new message. */
interface PayloadField {
  readonly field: keyof MessagePayload
  readonly shown: TSchema
  readonly given: (limits: SchemaLimits) => TSchema
}
type PayloadTable = Readonly<Record<string, PayloadField>>

/**
 * Payload fields that no entry holds (sender_uid is written out in each schema, where the contract puts it; collapse_key
 * too: optional in a new message, null in a message without one, so its two schemas differ).
 */
type Unheld<T extends PayloadTable> = Exclude<keyof MessagePayload, 'senderUid' | 'collapseKey' | T[keyof T]['field']>
/** Entries whose schemas do not hold exactly the values of their domain field. */
type Mistyped<T extends PayloadTable> = {
  [K in keyof T]: [Static<T[K]['shown']> | Static<ReturnType<T[K]['given']>>] extends [MessagePayload[T[K]['field']]]
    ? [MessagePayload[T[K]['field']]] extends [Static<T[K]['shown']> & Static<ReturnType<T[K]['given']>>] ? never : K
    : K
}[keyof T]

/** The table as it is; the compiler names a payload field without an entry, and an entry of another type than its field. */
function payloadTable<const T extends PayloadTable> (
  table: T & ([Unheld<T>] extends [never] ? unknown : { unheld: Unheld<T> }) & ([Mistyped<T>] extends [never] ? unknown : { mistyped: Mistyped<T> })
): T {
  return table
}

/**
 * The payload's fields after sender_uid, which the sender writes and reads back as they were: the contract's name, the
 * domain's field. MessageSchema, newMessageSchema and toNewMessage (commands.ts) follow this table. presentMessage
 * (presenters.ts) is written out, and the compiler names it; test/http/openapi.test.ts names the examples (examples.ts).
 */
export const PAYLOAD_FIELDS = payloadTable({
  msg_type: {
    field: 'msgType',
    shown: Type.Integer({ minimum: 0, maximum: 65535 }),
    given: () => Type.Integer({ minimum: 0, maximum: 65535, description: 'opaque to the service: 1 text, 2 image, 3 voice, ...' })
  },
  content: {
    field: 'content',
    shown: Type.String(),
    given: (limits: SchemaLimits) => Type.String({
      maxLength: limits.maxContentLength,
      pattern: CONTENT_PATTERN,
      description: `text, or a URL for media; at most ${limits.maxContentLength} Unicode code points, no U+0000, no lone surrogates`
    })
  }
})
type PayloadFields = typeof PAYLOAD_FIELDS

const shownPayload = Object.fromEntries(Object.entries(PAYLOAD_FIELDS).map(([name, { shown }]) => [name, shown])) as
  { [K in keyof PayloadFields]: PayloadFields[K]['shown'] }

const givenPayload = (limits: SchemaLimits) =>
  Object.fromEntries(Object.entries(PAYLOAD_FIELDS).map(([name, { given }]) => [name, given(limits)])) as
    { [K in keyof PayloadFields]: ReturnType<PayloadFields[K]['given']> }

export const MessageSchema = Type.Object({
  msg_id: MsgIdSchema,
  receiver_uid: ReceiverUidSchema,
  sender_uid: SenderUidSchema,
  ...shownPayload,
  send_time: DateTimeSchema,
  collapse_key: Nullable(Type.String({ ...CollapseKeySchema, description: 'the collapse key the sender gave; null without one' })),
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
    ...givenPayload(limits),
    send_time: Type.Optional(Type.String({ format: 'date-time', description: "the sender's clock, RFC 3339 with a zone; the server's time when omitted" })),
    collapse_key: Type.Optional(CollapseKeySchema),
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
