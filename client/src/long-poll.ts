// The long-poll loop that watch and events share: read a page from a cursor (waiting once caught up), retry a passing
// failure from the same cursor after a pause (at least the service's Retry-After), stop at once when the signal aborts.
import { OfflineMessagesError } from './calls.js'

export interface RetryOptions {
  /** The pause after the first failure, doubled after each further one in a row (default 250 ms). */
  retryDelayMs?: number
  /** The longest pause between retries (default 5000 ms), unless the service's Retry-After asks for a longer one. */
  maxRetryDelayMs?: number
  /** Told of each failure that will be retried, and of the pause before the retry. */
  onRetry?: (error: unknown, delayMs: number) => void
}

export interface LongPollOptions extends RetryOptions {
  /** Where to start: a `next_cursor` of an earlier page; from the start when omitted. */
  cursor?: string | undefined
  signal?: AbortSignal | undefined
  /** How long the service holds a request once caught up, 1-30 seconds (default 30). */
  waitSeconds?: number | undefined
}

/** What the loop needs of a page: where the next one starts, and whether the service has more at once. */
export interface CursorPage {
  next_cursor: string
  has_more: boolean
}

/** One request of the loop: from `cursor` (undefined: from the start), held up to `waitSeconds` when given. */
export type ReadPage<P> = (cursor: string | undefined, waitSeconds: number | undefined, signal: AbortSignal | undefined) => Promise<P>

/** An answer that no retry will change: a bad key or scope, an unknown or missing device, a bad request, the feed off. */
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

/**
 * Yields page after page until `options.signal` aborts, then returns (never throws the abort). The first requests
 * answer at once; once a page says nothing more is there (`has_more` false), the next one is held (`wait_seconds`).
 * `handle`, when given, runs on each page before it is yielded; a handler that throws gets the same page again.
 * The cursor moves to the page's `next_cursor` only when the consumer asks for the next page. A failure of the
 * service (unreachable, 5xx, 408, 429) or of `handle` is retried from the same cursor after a pause that doubles
 * from `retryDelayMs` up to `maxRetryDelayMs`, and is never shorter than the service's Retry-After; an answer that
 * no retry changes (another 4xx) is thrown.
 */
export async function * longPoll<P extends CursorPage> (read: ReadPage<P>, options: LongPollOptions, handle?: (page: P) => Promise<void>): AsyncGenerator<P, void, undefined> {
  const { signal } = options
  const stopped = () => signal?.aborted === true
  let cursor = options.cursor
  let caughtUp = false
  let failures = 0
  while (!stopped()) {
    let handlerFailed = false
    let page: P | undefined
    try {
      page = await unlessAborted((async () => {
        const answered = await read(cursor, caughtUp ? options.waitSeconds ?? 30 : undefined, signal)
        if (handle !== undefined) {
          try {
            await handle(answered)
          } catch (error) {
            handlerFailed = true
            throw error
          }
        }
        return answered
      })(), signal)
      failures = 0
    } catch (error) {
      if (stopped()) return
      if (!handlerFailed && isPermanent(error)) throw error
      // The service's Retry-After, when it sent one, is the least pause: asking sooner only gets the same answer.
      const backoffMs = Math.min(options.maxRetryDelayMs ?? 5000, (options.retryDelayMs ?? 250) * 2 ** failures++)
      const delayMs = Math.max(backoffMs, error instanceof OfflineMessagesError ? error.retryAfterMs ?? 0 : 0)
      options.onRetry?.(error, delayMs)
      await pause(delayMs, signal)
      continue
    }
    if (page === undefined || stopped()) return
    yield page
    cursor = page.next_cursor
    caughtUp = !page.has_more
  }
}
