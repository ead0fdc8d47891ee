// What every area's schemas share (TypeBox): ids and their patterns, times, path parameters, the error answers.
import { Type, type Static } from 'typebox'
import { ERROR_EXAMPLES } from './examples.js'

export interface SchemaLimits {
  maxContentLength: number
  messageTtlSeconds: number
}

const UID_PATTERN = '^[A-Za-z0-9._:@+-]+$'
/** Valid Unicode without U+0000 (PostgreSQL cannot store it) and without lone surrogates (ajv tests patterns as Unicode). */
export const CONTENT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$'

/** What a failed pattern means, in words, for the patterns whose text would not tell a person. */
export const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  [CONTENT_PATTERN]: 'must be valid Unicode without U+0000 and without lone surrogates'
}

export const USER_ID = { minLength: 1, maxLength: 50, pattern: UID_PATTERN }

// An example on an id also fills in the path parameter in Swagger UI's "Try it out", which is what a reader wants there.
export const ReceiverUidSchema = Type.String({ ...USER_ID, description: 'receiver id: 1-50 of A-Z a-z 0-9 . _ - : @ +', examples: ['bob'] })
export const SenderUidSchema = Type.String({ ...USER_ID, description: 'sender id: 1-50 of A-Z a-z 0-9 . _ - : @ +', examples: ['alice'] })
export const MsgIdSchema = Type.String({
  minLength: 1,
  maxLength: 70,
  pattern: UID_PATTERN,
  description: 'message fingerprint, unique per receiver: 1-70 of A-Z a-z 0-9 . _ - : @ +',
  examples: ['alice-0001']
})
export const CollapseKeySchema = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: UID_PATTERN,
  description: 'collapse key: 1-100 of A-Z a-z 0-9 . _ - : @ +; a new message replaces the pending ones of the same receiver, sender and key',
  examples: ['typing']
})
// Not an example: Swagger UI would fill it in, and "Try it out" would then fail for a receiver without devices.
export const DeviceIdFieldSchema = Type.String({
  ...USER_ID,
  description: 'the device, for a receiver with registered devices (1-50 of A-Z a-z 0-9 . _ - : @ +); leave it out for one without'
})
export const DeviceIdSchema = Type.String({ ...USER_ID, description: 'device id: 1-50 of A-Z a-z 0-9 . _ - : @ +', examples: ['bob-phone'] })
export const SeqSchema = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
export const DateTimeSchema = Type.String({ format: 'date-time', description: 'RFC 3339, UTC with milliseconds' })

/**
 * A value or null, as a JSON Schema type list (OpenAPI 3.1) rather than anyOf: the response serializer writes a
 * type list with a typeof check, where anyOf would make it run a validator on every value to pick the branch.
 */
export function Nullable<T extends { type: string }> (schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] })
}

/** For routes that take no query string: an unknown parameter (a misplaced filter, say) is a 400, never ignored. */
export const NoQuerySchema = Type.Object({}, { additionalProperties: false })

export const ReceiverParamsSchema = Type.Object({ receiver_uid: ReceiverUidSchema }, { additionalProperties: false })
export const MessageParamsSchema = Type.Object({ receiver_uid: ReceiverUidSchema, msg_id: MsgIdSchema }, { additionalProperties: false })
export const DeviceParamsSchema = Type.Object({ receiver_uid: ReceiverUidSchema, device_id: DeviceIdSchema }, { additionalProperties: false })

export const ErrorResponseSchema = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String({ description: 'stable upper-case identifier' }),
  error: Type.String(),
  message: Type.String({ description: 'what to fix' })
}, { title: 'Error' })

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: FST_ERR_VALIDATION (the message names the field), FST_ERR_CTP_INVALID_JSON_BODY, INVALID_CURSOR, or DEVICE_REQUIRED ' +
    '(the receiver has devices and the call names none); nothing is stored',
  401: 'UNAUTHORIZED: no API key, or an unknown one',
  403: 'FORBIDDEN: the API key lacks the scope this operation needs',
  404: 'MESSAGE_NOT_FOUND: no pending message with this msg_id for this receiver (or its device), or DEVICE_NOT_FOUND: the device_id is not registered for this receiver, or EVENTS_OFF: the service does not record events (EVENTS=off)',
  409: 'MSG_ID_CONFLICT: this msg_id is already stored for the receiver with another sender_uid, msg_type, content or collapse_key; ' +
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
  Object.fromEntries(codes.map((code) => [code, Type.Object(ErrorResponseSchema.properties, {
    title: 'Error',
    description: ERROR_DESCRIPTIONS[code] ?? 'Error',
    'x-examples': ERROR_EXAMPLES[code]
  })]))
