// pullAll: every pending message of a receiver, sender by sender, each page acked once its handler is done.
import { deviceField, handThenAck, ok, readPage } from './calls.js'
import type { Message, OfflineMessagesClient, PullAllResult } from './types.js'

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
  const device = deviceField(options.deviceId)
  let summaryCursor: string | undefined
  do {
    const summary = ok(await client.GET('/v1/receivers/{receiver_uid}/senders', {
      params: { path: { receiver_uid: receiverUid }, query: { ...device, limit: options.sendersPerRequest ?? 50, ...(summaryCursor === undefined ? {} : { cursor: summaryCursor }) } }
    }))
    for (const sender of summary.senders) {
      if (sender.pending_count === 0) continue
      let cursor: string | undefined
      let hasMore = true
      while (hasMore) {
        const page = await readPage(client, receiverUid, {
          ...device, sender_uid: sender.sender_uid, limit: options.pageSize ?? 100, ...(cursor === undefined ? {} : { cursor })
        })
        cursor = page.next_cursor
        hasMore = page.has_more
        const handed = await handThenAck(client, receiverUid, options.deviceId, page.messages,
          async () => { await handler({ sender_uid: sender.sender_uid, messages: page.messages }) }, result)
        if (!handed) break
      }
    }
    summaryCursor = summary.next_cursor ?? undefined
  } while (summaryCursor !== undefined)
  return result
}
