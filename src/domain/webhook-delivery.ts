// The webhook's delivery: the event feed, batch after batch in feed order, to one receiver, one request at a time, by
// the one instance that holds the database's lease (webhook-lease.ts); a batch goes again, the same, until accepted.
import { randomUUID } from 'node:crypto'
import { EVENT_FEED_RECHECK_MS, type EventView } from './events.js'
import type { Store } from '../store/types.js'
import { abortableSleep, createLeaseTerm, type LeaseTerm, type LeaseTimings } from './webhook-lease.js'

/** What became of one request: `delivered` (a 2xx in time), or why it is tried again. */
export type DeliveryOutcome = 'delivered' | 'http_error' | 'timeout' | 'network_error'
export const DELIVERY_OUTCOMES: readonly DeliveryOutcome[] = ['delivered', 'http_error', 'timeout', 'network_error']

/** Sends one batch; `signal` cancels it (the lease was lost, or the service closes), after which its outcome is moot. */
export type SendBatch = (events: readonly EventView[], signal: AbortSignal) => Promise<DeliveryOutcome>

export interface DeliveryTimings extends LeaseTimings {
  /** The delay before the first retry of a batch, doubled at each retry up to retryMaxMs; each drawn in its upper half. */
  retryBaseMs: number
  retryMaxMs: number
  /** How long an instance that delivers and has nothing to send waits for a wake-up before it reads the feed again. */
  pollMs: number
  /**
   * After a wake-up whose read found nothing (PostgreSQL: behind an older transaction), how often it reads again, and for
   * how long; as often for as long as the read says events are held back.
   */
  recheckMs: number
  recheckWindowMs: number
}

// The contract's retry delays (1 s doubling up to 60 s); the lease is taken over within 10 s of its holder's death.
export const DELIVERY_TIMINGS: DeliveryTimings = {
  retryBaseMs: 1000, retryMaxMs: 60_000, leaseMs: 6000, renewMs: 2000, standbyMs: 1000, pollMs: 5000, recheckMs: EVENT_FEED_RECHECK_MS, recheckWindowMs: 1000
}

export interface WebhookDeliveryOptions {
  store: Store
  send: SendBatch
  batchSize: number
  /** Calls the listener whenever events may have been recorded, here or by another instance; answers its unsubscribe. */
  followEvents: (listener: () => void) => () => void
  /** The service's clock (events' recorded_at are on it): the lag counts on it. */
  clock: () => number
  /** Each request's outcome, for the metrics. */
  outcome: (outcome: DeliveryOutcome) => void
  log: (level: 'info' | 'warn', message: string) => void
  timings?: Partial<DeliveryTimings> | undefined
  /** In [0, 1): the retry delays' jitter. */
  random?: () => number
}

export interface WebhookDelivery {
  start (): void
  /** Cancels a request in flight (its batch goes again later, here or elsewhere) and lets the lease go. */
  stop (): Promise<void>
  /**
   * Seconds since the first event after the delivered position (saved in the database) was recorded; 0 when there is
   * none. The same on every instance: read from the database.
   */
  lagSeconds (): Promise<number>
  /** Whether this instance holds the lease. */
  delivering (): boolean
}

/** The delay before retry `attempt` (1, 2, ...): base doubled each time, capped, drawn in the upper half (jitter). */
export function retryDelay (attempt: number, { retryBaseMs, retryMaxMs }: Pick<DeliveryTimings, 'retryBaseMs' | 'retryMaxMs'>, random: () => number): number {
  const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(attempt - 1, 30))
  return ceiling / 2 + random() * ceiling / 2
}

export function createWebhookDelivery (options: WebhookDeliveryOptions): WebhookDelivery {
  const { store, send, batchSize, clock, log } = options
  const timings: DeliveryTimings = { ...DELIVERY_TIMINGS, ...options.timings }
  const random = options.random ?? Math.random
  const closing = new AbortController()
  // The instance's name in the lease row: random, so that a restarted process is another owner.
  const owner = randomUUID()
  let term: LeaseTerm | null = null
  let running: Promise<void> | null = null
  let unfollow = (): void => {}
  let warnedMissed: string | null | undefined

  // A wake-up that arrives while the feed is being read is kept, so that the wait after that read returns at once.
  let woken = false
  let wake: (() => void) | null = null
  const onEvents = (): void => {
    woken = true
    wake?.()
  }

  /** Waits for a wake-up, `ms`, the end of the term or the close; answers whether a wake-up ended it. */
  async function idle (ms: number, signal: AbortSignal): Promise<boolean> {
    if (!woken && !signal.aborted) {
      const waiting = new AbortController()
      const stopWaiting = (): void => { waiting.abort() }
      wake = stopWaiting
      signal.addEventListener('abort', stopWaiting, { once: true })
      await abortableSleep(ms, waiting.signal)
      signal.removeEventListener('abort', stopWaiting)
      wake = null
    }
    const wasWoken = woken
    woken = false
    return wasWoken
  }

  /** Sends one batch until the receiver accepts it; false when the term ended first. */
  async function deliver (current: LeaseTerm, events: readonly EventView[]): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await send(events, current.signal)
      if (current.signal.aborted) return false
      options.outcome(outcome)
      if (outcome === 'delivered') return true
      log('warn', `webhook: batch of ${events.length} events (${events[0]?.id ?? ''} to ${events[events.length - 1]?.id ?? ''}): ${outcome}; tried ${attempt} times, trying again`)
      await abortableSleep(retryDelay(attempt, timings, random), current.signal)
      if (current.signal.aborted) return false
    }
  }

  /** Reads what follows the term's position and delivers it, as long as the term lasts. */
  async function serve (current: LeaseTerm): Promise<void> {
    let recheckUntil = 0
    while (!current.signal.aborted) {
      woken = false
      const page = await store.events(current.position, batchSize)
      if (page.missed && warnedMissed !== current.position) {
        warnedMissed = current.position
        log('warn', 'webhook: events after the delivered position were deleted by retention (EVENT_RETENTION_SECONDS) before they were delivered; going on from the oldest kept')
      }
      const last = page.events[page.events.length - 1]
      if (last === undefined) {
        // Events held back behind an older transaction are served once it ends, which nothing announces: looked for again soon.
        if (await idle(page.heldBack || Date.now() < recheckUntil ? timings.recheckMs : timings.pollMs, current.signal)) recheckUntil = Date.now() + timings.recheckWindowMs
        continue
      }
      if (!await deliver(current, page.events)) return
      // Delivered: from here on it is sent again only if this instance dies before the position is saved.
      current.position = last.position
      if (!await store.saveWebhookPosition(current.owner, last.position, timings.leaseMs)) current.end('another instance took the lease')
    }
  }

  async function run (): Promise<void> {
    while (!closing.signal.aborted) {
      try {
        term ??= await createLeaseTerm(store, owner, timings, log, closing.signal)
        if (term === null) {
          await abortableSleep(timings.standbyMs, closing.signal)
          continue
        }
        await serve(term)
      } catch (error) {
        log('warn', `webhook: ${error instanceof Error ? error.message : String(error)}; trying again`)
        await abortableSleep(timings.standbyMs, closing.signal)
      }
      if (term?.signal.aborted === true) term = null
    }
  }

  return {
    start () {
      if (running !== null) return
      unfollow = options.followEvents(onEvents)
      running = run()
    },
    async stop () {
      closing.abort()
      unfollow()
      await running
      running = null
      // Whatever the term's state: a release of a lease this instance does not hold changes nothing.
      await store.releaseWebhook(owner).catch(() => {})
      term = null
    },
    async lagSeconds () {
      const since = await store.webhookBacklogSince()
      return since === null ? 0 : Math.max(0, clock() - since) / 1000
    },
    delivering: () => term !== null && !term.signal.aborted
  }
}
