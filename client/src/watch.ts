// watch: what is pending, then each new message as it comes (long-poll), each page acked once its handler is done,
// through failures of the handler and of the service, until the signal aborts.
import { deviceField, handThenAck, readPage } from './calls.js'
import { longPoll, type RetryOptions } from './long-poll.js'
import type { Message, MessagePage, OfflineMessagesClient, PullAllResult } from './types.js'

export interface WatchOptions extends RetryOptions {
  /** The device to watch for, when the receiver has registered devices: its pages and its acks. */
  deviceId?: string
  /** Only this sender's messages (default: every sender's). */
  senderUid?: string
  /** Stops the watch at once: the request in flight is aborted and watch() resolves. */
  signal?: AbortSignal
  /** Messages per page, 1-1000 (default 100). */
  pageSize?: number
  /** How long the service holds a request while nothing is pending, 1-30 seconds (default 30). */
  waitSeconds?: number
}

/**
 * Delivers a receiver's messages as they come, until `options.signal` aborts: first every pending page from the start
 * (like pullAll, oldest first across senders, or one sender's with `senderUid`), then long-polls (`wait_seconds`) from
 * the last page's `next_cursor`, so a message stored later is handed over as soon as it commits. Each non-empty page
 * goes to `handler(messages, page)`; its messages are acked, by msg_ids (for `deviceId`, if given), only after the
 * handler's promise has resolved.
 *
 * Nothing gives up on a passing failure: a handler that throws or rejects acks nothing and gets the same messages
 * again, and a service that cannot be reached or answers 5xx or 429 (a restart, an overload) is asked again; both
 * after a pause that doubles from `retryDelayMs` up to `maxRetryDelayMs` (at least the service's Retry-After), from
 * the cursor it had. An answer that no retry changes (401, 403, 400 DEVICE_REQUIRED, 404 DEVICE_NOT_FOUND, ...)
 * rejects with OfflineMessagesError.
 *
 * When the signal aborts, watch() resolves at once with what it delivered: the request in flight is aborted, and a
 * page whose handler has not finished is not acked, so the next watch or pullAll hands it over again. Delivery is at
 * least once: the handler must tolerate seeing a page twice (dedup by msg_id).
 */
export async function watch (
  client: OfflineMessagesClient,
  receiverUid: string,
  handler: (messages: Message[], page: MessagePage) => Promise<void> | void,
  options: WatchOptions = {}
): Promise<PullAllResult> {
  const { deviceId } = options
  const result: PullAllResult = { pages: 0, delivered: 0, acked: 0 }
  const query = { ...deviceField(deviceId), ...(options.senderUid === undefined ? {} : { sender_uid: options.senderUid }), limit: options.pageSize ?? 100 }
  const read = async (cursor: string | undefined, waitSeconds: number | undefined, signal: AbortSignal | undefined) =>
    await readPage(client, receiverUid, { ...query, ...(cursor === undefined ? {} : { cursor }), ...(waitSeconds === undefined ? {} : { wait_seconds: waitSeconds }) }, signal)
  const handThenAckPage = async (page: MessagePage) => {
    await handThenAck(client, receiverUid, deviceId, page.messages, async () => { await handler(page.messages, page) }, result, options.signal)
  }
  // Each page is handed over and acked inside the loop, so a failed handler or ack is retried from the same cursor.
  for await (const page of longPoll(read, options, handThenAckPage)) void page
  return result
}
