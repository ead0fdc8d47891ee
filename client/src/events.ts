// events: the event feed (GET /v1/events) as an async iterator of pages, long-polled from a cursor until the signal aborts.
import { ok } from './calls.js'
import { longPoll, type RetryOptions } from './long-poll.js'
import type { EventPage, OfflineMessagesClient } from './types.js'

export interface EventsOptions extends RetryOptions {
  /** Where to resume: the `next_cursor` of the last page handled; from the oldest event kept when omitted. */
  cursor?: string
  /** Stops the iteration at once: the request in flight is aborted and the loop ends, without an error. */
  signal?: AbortSignal
  /** How long the service holds a request while there is no new event, 1-30 seconds (default 30). */
  waitSeconds?: number
  /** Events per page, 1-1000 (default 100). */
  limit?: number
}

/**
 * The event feed, page by page, oldest first, until `options.signal` aborts: every event kept from `cursor` on, then
 * each new one as soon as it commits (long-poll). Each page is yielded as the service answered it,
 * `{ events, next_cursor, has_more, missed }`: pages, not single events, because a cursor only exists after a page.
 * Save `next_cursor` once the page's events are handled, and pass it as `cursor` to resume there without repeats.
 * `missed` is true when retention deleted events after the cursor: the page starts at the oldest event kept. Pages
 * with no event are not yielded, unless they say `missed`.
 *
 * A service that cannot be reached or answers 5xx, 408 or 429 is asked again from the same cursor, after a pause
 * that doubles from `retryDelayMs` up to `maxRetryDelayMs` and is never shorter than its Retry-After. An answer that
 * no retry changes (401, 403, 400 INVALID_CURSOR, 404 EVENTS_OFF) is thrown as OfflineMessagesError. When the signal
 * aborts, the request in flight is aborted and the iteration ends; breaking out of the loop ends it too.
 */
export async function * events (client: OfflineMessagesClient, options: EventsOptions = {}): AsyncGenerator<EventPage, void, undefined> {
  const limit = options.limit ?? 100
  // As generated, not as openapi-fetch's data type: its Readable<> drops every field typed null (NonNullable<null> is never),
  // so receiver.erased would lose sender_uid, msg_id and seq, which the service does send (as null).
  const read = async (cursor: string | undefined, waitSeconds: number | undefined, signal: AbortSignal | undefined): Promise<EventPage> => ok(await client.GET('/v1/events', {
    params: { query: { limit, ...(cursor === undefined ? {} : { cursor }), ...(waitSeconds === undefined ? {} : { wait_seconds: waitSeconds }) } },
    signal
  })) as EventPage
  for await (const page of longPoll(read, options)) {
    if (page.events.length > 0 || page.missed) yield page
  }
}
