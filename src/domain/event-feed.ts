// The event feed: pages of recorded events in commit order, behind signed cursors, held while empty (waitSeconds).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { DomainError, domainErrors } from './errors.js'
import { EVENT_FEED_RECHECK_MS, type EventView } from './events.js'
import { readOrHold, type Hangup, type Waiters } from './waiting.js'
import { EVENT_FEED_WAKEUP, type DomainContext } from './context.js'

export interface EventPageRequest {
  cursor?: string | undefined
  limit: number
  waitSeconds?: number | undefined
  hangup?: Hangup | undefined
}

export interface EventPageResult {
  events: EventView[]
  nextCursor: string
  hasMore: boolean
  missed: boolean
}

const VERSION = 'e1'
const MAX_CURSOR_LENGTH = 200
// Bytes of the HMAC a cursor carries: enough that a forged one is refused, short enough to stay a short string.
const SIGNATURE_BYTES = 12

export const eventErrors = {
  eventsOff: () => new DomainError('EVENTS_OFF', 'events are not recorded here: the service runs with EVENTS=off')
}

const sign = (key: string, body: string): string => createHmac('sha256', key).update(body).digest().subarray(0, SIGNATURE_BYTES).toString('base64url')

/** A cursor: the store's position, versioned, signed with this database's key (a cursor of another database fails). */
export function encodeEventCursor (key: string, position: string): string {
  const body = Buffer.from(JSON.stringify([VERSION, position]), 'utf8').toString('base64url')
  return `${body}.${sign(key, body)}`
}

const CURSOR_FORM = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/** INVALID_CURSOR for a cursor that is not even of the form encodeEventCursor makes (checked before anything else). */
function checkForm (cursor: string): void {
  if (cursor.length > MAX_CURSOR_LENGTH || !CURSOR_FORM.test(cursor)) throw domainErrors.invalidCursor()
}

/** The position a cursor stands for; INVALID_CURSOR unless encodeEventCursor made it with the same key. */
export function decodeEventCursor (key: string, cursor: string): string {
  checkForm(cursor)
  const [body = '', signature = ''] = cursor.split('.')
  const expected = Buffer.from(sign(key, body))
  const given = Buffer.from(signature)
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw domainErrors.invalidCursor()
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    throw domainErrors.invalidCursor()
  }
  if (!Array.isArray(value) || value.length !== 2 || value[0] !== VERSION || typeof value[1] !== 'string') throw domainErrors.invalidCursor()
  return value[1]
}

/** A page read, and whether events after it have committed but are held back (EventPage.heldBack). */
type FeedRead = EventPageResult & { heldBack: boolean }

const noEvents = (page: FeedRead): boolean => page.events.length === 0

export function createEventFeed ({ store, rules }: DomainContext, waiters: Waiters) {
  let key: Promise<string> | null = null
  const cursorKey = (): Promise<string> => {
    key ??= store.eventCursorKey().catch((error: unknown) => {
      key = null
      throw error
    })
    return key
  }

  return async function events ({ cursor, limit, waitSeconds = 0, hangup }: EventPageRequest): Promise<EventPageResult> {
    // A malformed cursor is a bad request whatever the configuration, as on the other listings.
    if (cursor !== undefined) checkForm(cursor)
    if (rules.events !== true) throw eventErrors.eventsOff()
    const signingKey = await cursorKey()
    const after = cursor === undefined ? null : decodeEventCursor(signingKey, cursor)
    const read = async (): Promise<FeedRead> => {
      const page = await store.events(after, limit + 1)
      const events = page.events.slice(0, limit)
      const last = events[events.length - 1]
      return { events, nextCursor: encodeEventCursor(signingKey, last?.position ?? page.end), hasMore: page.events.length > limit, missed: page.missed, heldBack: page.heldBack }
    }
    const { heldBack: _heldBack, ...page } = waitSeconds <= 0
      ? await read()
      : await readOrHold(read, noEvents, () => waiters.watch(EVENT_FEED_WAKEUP), waitSeconds, hangup, { everyMs: EVENT_FEED_RECHECK_MS, heldBack: (page) => page.heldBack })
    return page
  }
}
