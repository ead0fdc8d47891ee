// The request and response schemas (TypeBox): they validate, they type the handlers, and they are the OpenAPI document.
import { Type, type Static } from 'typebox'
import { ERROR_EXAMPLES, EXAMPLES } from './examples.js'

export interface SchemaLimits {
  maxContentLength: number
  messageTtlSeconds: number
}

const UID_PATTERN = '^[A-Za-z0-9._:@+-]+$'
/** Valid Unicode without U+0000 (PostgreSQL cannot store it) and without lone surrogates (ajv tests patterns as Unicode). */
const CONTENT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$'

/** What a failed pattern means, in words, for the patterns whose text would not tell a person. */
export const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  [CONTENT_PATTERN]: 'must be valid Unicode without U+0000 and without lone surrogates'
}

/** The page sizes a caller gets without `limit`. */
export const SUMMARY_LIMIT_DEFAULT = 50
export const PAGE_LIMIT_DEFAULT = 100
/** The longest a page request may be held (wait_seconds). */
export const WAIT_SECONDS_MAX = 30

const USER_ID = { minLength: 1, maxLength: 50, pattern: UID_PATTERN }

// An example on an id also fills in the path parameter in Swagger UI's "Try it out", which is what a reader wants there.
export const ReceiverUid = Type.String({ ...USER_ID, description: 'receiver id: 1-50 of A-Z a-z 0-9 . _ - : @ +', examples: ['bob'] })
export const SenderUid = Type.String({ ...USER_ID, description: 'sender id: 1-50 of A-Z a-z 0-9 . _ - : @ +', examples: ['alice'] })
export const MsgId = Type.String({
  minLength: 1,
  maxLength: 70,
  pattern: UID_PATTERN,
  description: 'message fingerprint, unique per receiver: 1-70 of A-Z a-z 0-9 . _ - : @ +',
  examples: ['alice-0001']
})
// Not an example: Swagger UI would fill it in, and "Try it out" would then fail for a receiver without devices.
const DeviceIdField = Type.String({
  ...USER_ID,
  description: 'the device, for a receiver with registered devices (1-50 of A-Z a-z 0-9 . _ - : @ +); leave it out for one without'
})
export const DeviceId = Type.String({ ...USER_ID, description: 'device id: 1-50 of A-Z a-z 0-9 . _ - : @ +', examples: ['bob-phone'] })
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
const DateTime = Type.String({ format: 'date-time', description: 'RFC 3339, UTC with milliseconds' })

/**
 * A value or null, as a JSON Schema type list (OpenAPI 3.1) rather than anyOf: the response serializer writes a
 * type list with a typeof check, where anyOf would make it run a validator on every value to pick the branch.
 */
function Nullable<T extends { type: string }> (schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] })
}

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'stable upper-case identifier' }),
  error: Type.String(),
  message: Type.String({ description: 'what to fix' })
}, { title: 'Error' })

export const Message = Type.Object({
  msg_id: MsgId,
  receiver_uid: ReceiverUid,
  sender_uid: SenderUid,
  msg_type: Type.Integer({ minimum: 0, maximum: 65535 }),
  content: Type.String(),
  send_time: DateTime,
  seq: Type.Integer({ description: 'server-assigned, strictly increasing per receiver in commit order' }),
  stored_at: DateTime,
  expires_at: DateTime
}, { title: 'Message', description: 'A pending message', examples: [EXAMPLES.message] })
export type ApiMessage = Static<typeof Message>

export const StoredResponse = Type.Object({
  ...Message.properties,
  duplicate: Type.Boolean({ description: 'true when this (receiver_uid, msg_id) was already stored with the same payload' })
}, { title: 'StoredMessage', examples: [EXAMPLES.stored] })

export function newMessageSchema (limits: SchemaLimits) {
  return Type.Object({
    receiver_uid: ReceiverUid,
    sender_uid: SenderUid,
    msg_id: Type.Optional(Type.String({ ...MsgId, description: 'fingerprint for dedup; the server makes a time-ordered UUIDv7 when omitted' })),
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

export const BatchResponse = Type.Object({
  results: Type.Array(Type.Object({
    status: Type.Enum(['stored', 'duplicate', 'conflict', 'inbox_full']),
    msg_id: MsgId,
    seq: Nullable(Type.Integer({ description: 'null for conflict and inbox_full' }))
  }))
}, { title: 'BatchResult', description: 'One result per message, in input order', examples: [EXAMPLES.batchResult] })

/** For routes that take no query string: an unknown parameter (a misplaced filter, say) is a 400, never ignored. */
export const NoQuery = Type.Object({}, { additionalProperties: false })

export const ReceiverParams = Type.Object({ receiver_uid: ReceiverUid }, { additionalProperties: false })
export const MessageParams = Type.Object({ receiver_uid: ReceiverUid, msg_id: MsgId }, { additionalProperties: false })
export const DeviceParams = Type.Object({ receiver_uid: ReceiverUid, device_id: DeviceId }, { additionalProperties: false })

/** The query of the calls on one message: the device, for a receiver with devices. */
export const MessageQuery = Type.Object({ device_id: Type.Optional(DeviceIdField) }, { additionalProperties: false })

const Cursor = Type.String({ description: 'opaque cursor from a previous page' })

export const SummaryQuery = Type.Object({
  device_id: Type.Optional(DeviceIdField),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: SUMMARY_LIMIT_DEFAULT })),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })

export const SummaryResponse = Type.Object({
  receiver_uid: ReceiverUid,
  total_pending: Type.Integer(),
  senders: Type.Array(Type.Object({
    sender_uid: SenderUid,
    pending_count: Type.Integer(),
    last_seq: Nullable(Type.Integer()),
    last_send_time: Nullable(DateTime),
    last_msg_type: Nullable(Type.Integer()),
    last_content_preview: Nullable(Type.String({ description: 'content cut to 100 Unicode code points' })),
    lost_count: Type.Integer({ description: 'messages of this sender removed without an ack (expired or dropped) since the last ack of one of its messages' })
  }, { title: 'SenderSummary' })),
  next_cursor: Nullable(Type.String({ description: 'null on the last page' }))
}, { title: 'Summary', description: 'One row per sender, most recent conversation first', examples: [EXAMPLES.summary] })

export const PageQuery = Type.Object({
  // No example: Swagger UI would fill it in, and "Try it out" would then show one sender's messages only.
  sender_uid: Type.Optional(Type.String({ ...USER_ID, description: "only this sender's messages (1-50 of A-Z a-z 0-9 . _ - : @ +); all senders' when omitted" })),
  device_id: Type.Optional(DeviceIdField),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: PAGE_LIMIT_DEFAULT })),
  cursor: Type.Optional(Cursor),
  wait_seconds: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: WAIT_SECONDS_MAX,
    default: 0,
    description: 'while the page would be empty, hold the request up to this many seconds and answer as soon as a matching message commits (long-poll); 0 answers at once'
  }))
}, { additionalProperties: false })

export const PageResponse = Type.Object({
  messages: Type.Array(Message),
  next_cursor: Type.String({ description: 'always a cursor to resume from, also after an empty page' }),
  has_more: Type.Boolean()
}, { title: 'MessagePage', description: 'One page of pending messages, seq ascending', examples: [EXAMPLES.page] })

export const AckBody = Type.Object({
  msg_ids: Type.Optional(Type.Array(MsgId, { minItems: 1, maxItems: 1000 })),
  up_to_seq: Type.Optional(Seq),
  sender_uid: Type.Optional(SenderUid),
  device_id: Type.Optional(DeviceIdField)
}, {
  additionalProperties: false,
  title: 'Ack',
  description: 'either {msg_ids} or {up_to_seq, sender_uid?}, never both; with device_id for a receiver with devices',
  'x-examples': { by_ids: EXAMPLES.ackByIds, up_to_seq: EXAMPLES.ackUpToSeq }
})

export type AckBodyInput = Static<typeof AckBody>

export const AckResponse = Type.Object({ deleted: Type.Integer({ description: 'messages deleted by this ack; 0 when acked again' }) }, {
  title: 'AckResult',
  description: 'Acknowledged',
  examples: [EXAMPLES.ackResult]
})

const DEVICE_PROPERTIES = {
  device_id: DeviceId,
  registered_at: DateTime,
  pending_count: Type.Integer({ description: 'messages pending for this device' })
}

export const DeviceResponse = Type.Object(DEVICE_PROPERTIES, { title: 'Device', examples: [EXAMPLES.device] })

export const DevicesResponse = Type.Object({
  devices: Type.Array(Type.Object({
    ...DEVICE_PROPERTIES,
    last_ack_at: Nullable(Type.String({ format: 'date-time', description: "the time of this device's last ack; null before its first" }))
  }, { title: 'DeviceState' }))
}, { title: 'Devices', description: 'The registered devices, in the order they registered', examples: [EXAMPLES.devices] })

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: FST_ERR_VALIDATION (the message names the field), FST_ERR_CTP_INVALID_JSON_BODY, INVALID_CURSOR, or DEVICE_REQUIRED ' +
    '(the receiver has devices and the call names none); nothing is stored',
  401: 'UNAUTHORIZED: no API key, or an unknown one',
  403: 'FORBIDDEN: the API key lacks the scope this operation needs',
  404: 'MESSAGE_NOT_FOUND: no pending message with this msg_id for this receiver (or its device), or DEVICE_NOT_FOUND: the device_id is not registered for this receiver',
  409: 'MSG_ID_CONFLICT: this msg_id is already stored for the receiver with another sender_uid, msg_type or content; ' +
    'TOO_MANY_DEVICES: the receiver has MAX_DEVICES_PER_RECEIVER devices',
  413: 'FST_ERR_CTP_BODY_TOO_LARGE: the body is over BODY_LIMIT_BYTES',
  415: 'FST_ERR_CTP_INVALID_MEDIA_TYPE: bodies must be application/json',
  429: 'INBOX_FULL (the receiver holds MAX_PENDING_PER_RECEIVER messages, reject policy) or RATE_LIMITED (per-key limit, see Retry-After)',
  503: 'STORE_UNAVAILABLE: the database is unreachable, SHUTTING_DOWN: this instance is stopping, or TOO_MANY_WAITERS: it already holds ' +
    'MAX_WAITERS waiting requests; retry after Retry-After seconds (on /readyz also STORE_FULL: the disk is full, new messages cannot be stored)',
  507: 'STORE_FULL: the database is out of disk space; nothing was stored. Reads and acks still work; retry once an operator has made room'
}

/** The documented error answers of an operation, each with the contract's error shape. */
export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [code, Type.Object(ErrorResponse.properties, {
    title: 'Error',
    description: ERROR_DESCRIPTIONS[code] ?? 'Error',
    'x-examples': ERROR_EXAMPLES[code]
  })]))
