// The client's types: the generated paths with the ack body narrowed, and the service's answers by name.
import type { Client } from 'openapi-fetch'
import type { components, operations, paths as GeneratedPaths } from './schema.js'

export type { components, operations }

/** A message as the service returns it, snake_case as on the wire. */
export type Message = GeneratedPaths['/v1/receivers/{receiver_uid}/messages']['get']['responses'][200]['content']['application/json']['messages'][number]
export type NewMessage = GeneratedPaths['/v1/messages']['post']['requestBody']['content']['application/json']
/** One page of pending messages, `{ messages, next_cursor, has_more }`, as the service returns it. */
export type MessagePage = GeneratedPaths['/v1/receivers/{receiver_uid}/messages']['get']['responses'][200]['content']['application/json']
/** A registered device of a receiver, with what is pending for it. */
export type Device = GeneratedPaths['/v1/receivers/{receiver_uid}/devices']['get']['responses'][200]['content']['application/json']['devices'][number]
/** What registering a device answers. */
/** A recall's answer: state, and the devices it was recalled from and delivered to (null: a receiver without devices). */
export type RecallResult = GeneratedPaths['/v1/receivers/{receiver_uid}/messages/{msg_id}/recall']['post']['responses'][200]['content']['application/json']
/** A page of the event feed, `{ events, next_cursor, has_more, missed }`, as the service returns it. */
export type EventPage = GeneratedPaths['/v1/events']['get']['responses'][200]['content']['application/json']
/** One event of the feed: what became of a message (message.stored, .delivered, ...) or of a receiver (receiver.erased). */
export type FeedEvent = EventPage['events'][number]
export type RegisteredDevice = GeneratedPaths['/v1/receivers/{receiver_uid}/devices/{device_id}']['put']['responses'][201]['content']['application/json']

/**
 * The body of an ack: the ids of the messages to acknowledge (at least one), or everything up to a seq, of one
 * sender or of all; never both. The OpenAPI document can only say "either" in words, so the generated type has
 * every field optional; this one lets the compiler refuse `{}` and a body with both, and, through ack(),
 * `{ msg_ids: [] }` (openapi-fetch's POST widens the list to string[], so there only the server refuses it).
 * Either form takes `device_id` for a receiver with registered devices (required then, refused without devices).
 */
export type AckBody =
  | { msg_ids: [string, ...string[]], up_to_seq?: never, sender_uid?: never, device_id?: string }
  | { up_to_seq: number, sender_uid?: string, msg_ids?: never, device_id?: string }

type AckPath = GeneratedPaths['/v1/receivers/{receiver_uid}/acks']
type AckOperation = AckPath['post']

/** The service's paths, as generated, with the ack body narrowed to AckBody. */
export type paths = Omit<GeneratedPaths, '/v1/receivers/{receiver_uid}/acks'> & {
  '/v1/receivers/{receiver_uid}/acks': Omit<AckPath, 'post'> & {
    post: Omit<AckOperation, 'requestBody'> & { requestBody: { content: { 'application/json': AckBody } } }
  }
}

export type OfflineMessagesClient = Client<paths>

/** What pullAll and watch resolve with: the pages handed over and acked, their messages, and how many the acks deleted. */
export interface PullAllResult {
  pages: number
  delivered: number
  acked: number
}
