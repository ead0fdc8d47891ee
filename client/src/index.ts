// The typed client: openapi-fetch over the types generated from openapi/openapi.json (./schema.ts), plus pullAll.
import createClient, { type Client } from 'openapi-fetch'
import type { components, paths } from './schema.js'

export type { components, paths }
/** A message as the service returns it, snake_case as on the wire. */
export type Message = paths['/v1/receivers/{receiver_uid}/messages']['get']['responses'][200]['content']['application/json']['messages'][number]
export type NewMessage = paths['/v1/messages']['post']['requestBody'] extends { content: { 'application/json': infer B } } ? B : never

export interface ClientOptions {
  baseUrl: string
  /** The secret of an API key; omit when the service runs without keys. */
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
  let summaryCursor: string | undefined
  do {
    const summary = ok(await client.GET('/v1/receivers/{receiver_uid}/senders', {
      params: { path, query: { limit: options.sendersPerRequest ?? 50, ...(summaryCursor === undefined ? {} : { cursor: summaryCursor }) } }
    }))
    for (const sender of summary.senders) {
      if (sender.pending_count === 0) continue
      let cursor: string | undefined
      let hasMore = true
      while (hasMore) {
        const page = ok(await client.GET('/v1/receivers/{receiver_uid}/messages', {
          params: {
            path,
            query: { sender_uid: sender.sender_uid, limit: options.pageSize ?? 100, ...(cursor === undefined ? {} : { cursor }) }
          }
        }))
        cursor = page.next_cursor
        hasMore = page.has_more
        if (page.messages.length === 0) break
        await handler({ sender_uid: sender.sender_uid, messages: page.messages })
        result.pages++
        result.delivered += page.messages.length
        const ack = ok(await client.POST('/v1/receivers/{receiver_uid}/acks', {
          params: { path },
          body: { msg_ids: page.messages.map((message) => message.msg_id) }
        }))
        result.acked += ack.deleted
      }
    }
    summaryCursor = summary.next_cursor ?? undefined
  } while (summaryCursor !== undefined)
  return result
}
