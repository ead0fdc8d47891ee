// The schemas of the event feed (TypeBox): its query, one schema per event type, and its page.
import { Type } from 'typebox'
import { EVENT_EXAMPLES } from './event-examples.js'
import { DateTimeSchema, DeviceIdSchema, MsgIdSchema, Nullable, ReceiverUidSchema, SenderUidSchema, SeqSchema } from './schemas.js'
import { WAIT_SECONDS_MAX } from './receiver-schemas.js'

export const EVENT_LIMIT_DEFAULT = 100

export const EventQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({ description: 'opaque cursor from a previous page (next_cursor); from the oldest event kept when omitted' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: EVENT_LIMIT_DEFAULT })),
  wait_seconds: Type.Optional(Type.Integer({
    minimum: 0,
    maximum: WAIT_SECONDS_MAX,
    default: 0,
    description: 'while the page would be empty, hold the request up to this many seconds and answer as soon as new events commit (on any instance); 0 answers at once'
  }))
}, { additionalProperties: false })

/** The fields every event has. */
const common = {
  id: Type.String({ description: 'unique, opaque' }),
  occurred_at: DateTimeSchema,
  receiver_uid: ReceiverUidSchema,
  device_id: Nullable(DeviceIdSchema),
  pending_count: Type.Integer({ minimum: 0, description: 'what the receiver (or this device) has pending right after the change' })
}

/** The message an event is about. */
const ofMessage = { sender_uid: SenderUidSchema, msg_id: MsgIdSchema, seq: SeqSchema }

const eventSchema = (type: string, title: string, description: string, extra: Record<string, never> | typeof storedFields = {}) =>
  Type.Object({ type: Type.Literal(type), ...common, ...ofMessage, ...extra }, { title, description, examples: [EVENT_EXAMPLES[type]] })

const storedFields = {
  msg_type: Type.Integer({ minimum: 0, maximum: 65535 }),
  content_preview: Type.String({ description: 'content cut to 100 Unicode code points, as in the summary' }),
  devices: Type.Array(DeviceIdSchema, { description: 'the devices it is pending for (empty for a receiver without devices)' })
}

export const MessageStoredEventSchema = eventSchema('message.stored', 'MessageStoredEvent',
  'A store (single or batch) committed a new message; not on a duplicate. device_id is null, pending_count the receiver\'s.', storedFields)
export const MessageDeliveredEventSchema = eventSchema('message.delivered', 'MessageDeliveredEvent',
  'A device (device_id; null for a receiver without devices) acknowledged the message, by ids, by up_to_seq or by DELETE.')
export const MessageExpiredEventSchema = eventSchema('message.expired', 'MessageExpiredEvent',
  'Its TTL ran out while it was pending for this device; occurred_at is its expiry time, recorded when the service removed it.')
export const MessageDroppedEventSchema = eventSchema('message.dropped', 'MessageDroppedEvent',
  'OVERFLOW_POLICY=drop_oldest removed it, pending for this device, to make room.')
export const MessageUnlinkedEventSchema = eventSchema('message.unlinked', 'MessageUnlinkedEvent',
  'Its device was unregistered while it was pending there; pending_count is then 0.')

export const MessageSupersededEventSchema = eventSchema('message.superseded', 'MessageSupersededEvent',
  'A newer message of the same receiver, sender and collapse_key replaced it, for every device: device_id is null, pending_count the receiver\'s (before the newer one).')
export const MessageRecalledEventSchema = eventSchema('message.recalled', 'MessageRecalledEvent',
  'Its sender recalled it while some device still had it pending: removed for all of them; device_id is null, pending_count the receiver\'s.')
export const ReceiverErasedEventSchema = Type.Object({
  type: Type.Literal('receiver.erased'),
  ...common,
  sender_uid: Type.Null(),
  msg_id: Type.Null(),
  seq: Type.Null()
}, {
  title: 'ReceiverErasedEvent',
  description: 'The receiver was erased (DELETE /v1/receivers/{receiver_uid}): its other events were deleted with it. No message: sender_uid, msg_id and seq are null, pending_count 0.',
  examples: [EVENT_EXAMPLES['receiver.erased']]
})

export const EventSchema = Type.Union([
  MessageStoredEventSchema, MessageDeliveredEventSchema, MessageExpiredEventSchema, MessageDroppedEventSchema, MessageUnlinkedEventSchema,
  MessageSupersededEventSchema, MessageRecalledEventSchema, ReceiverErasedEventSchema
], { title: 'Event', description: 'What became of a message, or of a receiver; more types may come: skip the ones you do not know' })

export const EventPageSchema = Type.Object({
  events: Type.Array(EventSchema),
  next_cursor: Type.String({ description: 'always a cursor to resume from, also after an empty page' }),
  has_more: Type.Boolean(),
  missed: Type.Boolean({ description: 'true when retention deleted events after the cursor: the page starts at the oldest event kept' })
}, { title: 'EventPage', description: 'Events in commit order, oldest first', examples: [EVENT_EXAMPLES.page] })
