// The webhook's lease: one instance of those on a database delivers at a time. It renews its lease while it delivers,
// and stops as soon as it may have lost it: when another instance took it, or when its own renewals failed so long
// that it may have run out (counted on this instance's monotonic clock, from before each renewal was asked).
import { setTimeout as sleep } from 'node:timers/promises'
import type { Store } from '../store/types.js'

export interface LeaseTimings {
  /** How long a lease lasts from each renewal (the database's clock), and how long a dead holder keeps it. */
  leaseMs: number
  /** How often the holder renews it. */
  renewMs: number
  /** How often an instance that does not hold it asks for it. */
  standbyMs: number
}

/** The time one instance holds the lease, from taking it until it stops delivering. */
export interface LeaseTerm {
  readonly owner: string
  /** The feed position delivered up to, as the instance goes. */
  position: string | null
  /** Aborted when the term ends: the lease lost, or possibly lost, or the service closing. */
  readonly signal: AbortSignal
  end (reason: string): void
}

// The holder stops short of its lease's end by this share of it: the database's clock may run a little faster.
const SAFETY = 0.1

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export async function abortableSleep (ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal, ref: false }).catch(() => {})
}

type Log = (level: 'info' | 'warn', message: string) => void

/** Takes the lease for `owner` if it is free, run out or already its own; null while another instance holds it. */
export async function createLeaseTerm (store: Store, owner: string, timings: LeaseTimings, log: Log, closing: AbortSignal): Promise<LeaseTerm | null> {
  const asked = performance.now()
  const lease = await store.leaseWebhook(owner, timings.leaseMs)
  if (lease === null || closing.aborted) return null
  const controller = new AbortController()
  let expiry: NodeJS.Timeout | undefined
  /** Ends the term when the lease renewed at `at` (a time of performance.now()) may have run out. */
  const holdUntilRunOut = (at: number): void => {
    clearTimeout(expiry)
    expiry = setTimeout(() => { end('its lease ran out before it could be renewed') }, at + timings.leaseMs * (1 - SAFETY) - performance.now())
    expiry.unref()
  }
  let renewing = false
  const renewal = setInterval(() => {
    if (renewing) return
    renewing = true
    const at = performance.now()
    store.leaseWebhook(owner, timings.leaseMs).then((renewed) => {
      if (controller.signal.aborted) return
      if (renewed === null) end('another instance took the lease')
      else holdUntilRunOut(at)
    }, (error: unknown) => {
      log('warn', `webhook: could not renew the lease (${error instanceof Error ? error.message : String(error)}); delivery stops if it runs out`)
    }).finally(() => { renewing = false })
  }, timings.renewMs)
  renewal.unref()
  const onClosing = (): void => { end('closing') }
  closing.addEventListener('abort', onClosing, { once: true })

  function end (reason: string): void {
    if (controller.signal.aborted) return
    clearInterval(renewal)
    clearTimeout(expiry)
    closing.removeEventListener('abort', onClosing)
    if (reason !== 'closing') log('warn', `webhook: this instance stops delivering: ${reason}`)
    controller.abort()
  }

  holdUntilRunOut(asked)
  log('info', `webhook: this instance delivers the event feed (from ${lease.position === null ? 'the oldest event kept' : `after ${lease.position}`})`)
  return { owner, position: lease.position, signal: controller.signal, end }
}
