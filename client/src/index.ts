// The typed client: openapi-fetch over the types generated from openapi/openapi.json (./schema.ts), plus pullAll.
import createClient, { type Client } from 'openapi-fetch'
import type { components, operations, paths as GeneratedPaths } from './schema.js'

export type { components, operations }

/** A message as the service returns it, snake_case as on the wire. */
export type Message = GeneratedPaths['/v1/receivers/{receiver_uid}/messages']['get']['responses'][200]['content']['application/json']['messages'][number]
export type NewMessage = GeneratedPaths['/v1/messages']['post']['requestBody']['content']['application/json']

/**
 * The body of an ack: the ids of the messages to acknowledge (at least one), or everything up to a seq, of one
 * sender or of all; never both. The OpenAPI document can only say "either" in words, so the generated type has
 * every field optional; this one lets the compiler refuse `{}` and a body with both, and, through ack(),
 * `{ msg_ids: [] }` (openapi-fetch's POST widens the list to string[], so there only the server refuses it).
 */
export type AckBody =
  | { msg_ids: [string, ...string[]], up_to_seq?: never, sender_uid?: never }
  | { up_to_seq: number, sender_uid?: string, msg_ids?: never }

type AckPath = GeneratedPaths['/v1/receivers/{receiver_uid}/acks']
type AckOperation = AckPath['post']

/** The service's paths, as generated, with the ack body narrowed to AckBody. */
export type paths = Omit<GeneratedPaths, '/v1/receivers/{receiver_uid}/acks'> & {
  '/v1/receivers/{receiver_uid}/acks': Omit<AckPath, 'post'> & {
    post: Omit<AckOperation, 'requestBody'> & { requestBody: { content: { 'application/json': AckBody } } }
  }
}

export interface ClientOptions {
  baseUrl: string
  /** The secret of an API key; omit when the service runs without keys (API_KEYS empty). */
  apiKey?: string
  fetch?: typeof globalThis.fetch
}

export type OfflineMessagesClient = Client<paths>

export function createOfflineMessagesClient (options: ClientOptions): OfflineMessagesClient {
  return createClient<paths>({
    baseUrl: options.baseUrl,
    headers: options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch === undefined ? {} : { fetch: options.fetch })
  })
}

/** An answer other than the one expected, with the service's error body. */
export class OfflineMessagesError extends Error {
  constructor (readonly status: number, readonly body: unknown) {
    super(`offline-messages answered ${status}: ${JSON.stringify(body)}`)
    this.name = 'OfflineMessagesError'
  }
}

/** What pullAll hands to its handler: one page of one sender's messages, exactly as the service returned them. */
export interface PullPage {
  sender_uid: string
  messages: Message[]
}

export interface PullAllOptions {
  /** Messages per page, 1-1000 (default 100). */
  pageSize?: number
  /** Summary rows per request, 1-500 (default 50). */
  sendersPerRequest?: number
  /**
   * The device to pull for, when the receiver has registered devices: its summary, its pages, its acks. The
   * messages stay pending for the receiver's other devices until each of them acks them too.
   */
  deviceId?: string
}

export interface PullAllResult {
  pages: number
  delivered: number
  acked: number
}

function ok<T> (result: { data?: T, error?: unknown, response: Response }): T {
  if (result.data === undefined || !result.response.ok) throw new OfflineMessagesError(result.response.status, result.error)
  return result.data
}

/**
 * Acknowledges, then deletes, a receiver's messages (with device_id in the body: takes them from that device's pending
 * ones); resolves with how many were deleted (0 when acked again).
 */
export async function ack (client: OfflineMessagesClient, receiverUid: string, body: AckBody): Promise<number> {
  return ok(await client.POST('/v1/receivers/{receiver_uid}/acks', { params: { path: { receiver_uid: receiverUid } }, body })).deleted
}

/**
 * Hands every pending message of a receiver to `handler`, one page at a time, sender by sender (most recent
 * conversation first), and acknowledges a page only after the handler's promise has resolved. If the handler
 * throws, or the caller crashes, nothing unhandled has been acked: the next pullAll gets those messages again,
 * so the handler must tolerate seeing a page twice (dedup by msg_id). Messages that arrive during the walk are
 * left for the next call.
 */
export async function pullAll (
  client: OfflineMessagesClient,
  receiverUid: string,
  handler: (page: PullPage) => Promise<void>,
  options: PullAllOptions = {}
): Promise<PullAllResult> {
  const result: PullAllResult = { pages: 0, delivered: 0, acked: 0 }
  const path = { receiver_uid: receiverUid }
  const device = options.deviceId === undefined ? {} : { device_id: options.deviceId }
  let summaryCursor: string | undefined
  do {
    const summary = ok(await client.GET('/v1/receivers/{receiver_uid}/senders', {
      params: { path, query: { ...device, limit: options.sendersPerRequest ?? 50, ...(summaryCursor === undefined ? {} : { cursor: summaryCursor }) } }
    }))
    for (const sender of summary.senders) {
      if (sender.pending_count === 0) continue
      let cursor: string | undefined
      let hasMore = true
      while (hasMore) {
        const page = ok(await client.GET('/v1/receivers/{receiver_uid}/messages', {
          params: {
            path,
            query: { ...device, sender_uid: sender.sender_uid, limit: options.pageSize ?? 100, ...(cursor === undefined ? {} : { cursor }) }
          }
        }))
        cursor = page.next_cursor
        hasMore = page.has_more
        const [first, ...rest] = page.messages.map((message) => message.msg_id)
        if (first === undefined) break
        await handler({ sender_uid: sender.sender_uid, messages: page.messages })
        result.pages++
        result.delivered += page.messages.length
        result.acked += await ack(client, receiverUid, { ...device, msg_ids: [first, ...rest] })
      }
    }
    summaryCursor = summary.next_cursor ?? undefined
  } while (summaryCursor !== undefined)
  return result
}
