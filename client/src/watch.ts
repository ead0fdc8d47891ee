// watch: what is pending, then each new message as it comes (long-poll), each page acked once its handler is done,
// through failures of the handler and of the service, until the signal aborts.
import { deviceField, handThenAck, OfflineMessagesError, readPage } from './calls.js'
import type { Message, MessagePage, OfflineMessagesClient, PullAllResult } from './types.js'

export interface WatchOptions {
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
  /** The pause after the first failure, doubled after each further one in a row (default 250 ms). */
  retryDelayMs?: number
  /** The longest pause between retries (default 5000 ms), unless the service's Retry-After asks for a longer one. */
  maxRetryDelayMs?: number
  /** Told of each failure that will be retried, the handler's or the service's, and of the pause before the retry. */
  onRetry?: (error: unknown, delayMs: number) => void
}

/** An answer that no retry will change: a bad key or scope, an unknown or missing device, a bad request. */
function isPermanent (error: unknown): boolean {
  return error instanceof OfflineMessagesError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429
}

/** Settles as `promise` does, or resolves as soon as `signal` aborts (then `promise` finishes on its own, its outcome ignored). */
async function unlessAborted<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (signal === undefined) return await promise
  return await new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => { resolve(undefined) }
    signal.addEventListener('abort', onAbort, { once: true })
    if (signal.aborted) onAbort()
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
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
  const { signal, deviceId } = options
  const stopped = () => signal?.aborted === true
  const result: PullAllResult = { pages: 0, delivered: 0, acked: 0 }
  const query = { ...deviceField(deviceId), ...(options.senderUid === undefined ? {} : { sender_uid: options.senderUid }), limit: options.pageSize ?? 100 }
  let cursor: string | undefined
  // Once a page says nothing more is pending, the next request waits for a message instead of answering at once.
  let caughtUp = false
  let failures = 0
  while (!stopped()) {
    let handlerFailed = false
    try {
      await unlessAborted((async () => {
        const page = await readPage(client, receiverUid, { ...query, ...(cursor === undefined ? {} : { cursor }), ...(caughtUp ? { wait_seconds: options.waitSeconds ?? 30 } : {}) }, signal)
        await handThenAck(client, receiverUid, deviceId, page.messages, async () => {
          try {
            await handler(page.messages, page)
          } catch (error) {
            handlerFailed = true
            throw error
          }
        }, result, signal)
        cursor = page.next_cursor
        caughtUp = !page.has_more
      })(), signal)
      failures = 0
    } catch (error) {
      if (stopped()) break
      if (!handlerFailed && isPermanent(error)) throw error
      // The service's Retry-After, when it sent one, is the least pause: asking sooner only gets the same answer.
      const backoffMs = Math.min(options.maxRetryDelayMs ?? 5000, (options.retryDelayMs ?? 250) * 2 ** failures++)
      const delayMs = Math.max(backoffMs, error instanceof OfflineMessagesError ? error.retryAfterMs ?? 0 : 0)
      options.onRetry?.(error, delayMs)
      await pause(delayMs, signal)
    }
  }
  return result
}

/** Resolves after `ms`, or at once when `signal` aborts. */
async function pause (ms: number, signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    if (signal?.aborted === true) done()
  })
}
