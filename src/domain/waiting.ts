// Held requests and their wake-ups: a page request that would be empty waits until a matching message commits,
// its time is up, its caller goes away, or the instance shuts down. Nothing here holds a database connection.
import { domainErrors } from './errors.js'

export type WaitOutcome = 'notified' | 'timeout' | 'aborted' | 'closing'

/**
 * Interest in a receiver's new messages, registered before the page is read: a commit that lands between the read
 * and the wait has already marked it, so the wait returns at once instead of sleeping through it.
 */
export interface Watch {
  /** Holds until notified, `milliseconds` have passed, `signal` aborts or the waiters close; once only. */
  wait (milliseconds: number, signal?: AbortSignal): Promise<WaitOutcome>
  /** Forgets the watch without waiting (the page was not empty). */
  cancel (): void
}

export interface Waiters {
  watch (receiverUid: string, senderUid?: string): Watch
  /** A message of `senderUid` (any sender when undefined) committed for these receivers. */
  wake (receiverUids: Iterable<string>, senderUid?: string): void
  /** Everything may have changed (the cross-instance feed was cut): every watch reads again. */
  wakeAll (): void
  /** Answers every held request at once and refuses to hold more (shutdown). */
  close (): void
  /** Requests held right now. */
  held (): number
  /** Watches registered and not yet settled or cancelled (held or about to be). */
  watching (): number
}

interface Entry {
  senderUid: string | undefined
  notified: boolean
  settle: ((outcome: WaitOutcome) => void) | null
}

export function createWaiters (maxWaiters: number, onWakeup: () => void = () => {}): Waiters {
  const byReceiver = new Map<string, Set<Entry>>()
  let held = 0
  let closed = false

  function forget (receiverUid: string, entry: Entry): void {
    const entries = byReceiver.get(receiverUid)
    entries?.delete(entry)
    if (entries?.size === 0) byReceiver.delete(receiverUid)
  }

  function notify (entry: Entry): void {
    entry.notified = true
    entry.settle?.('notified')
  }

  function hold (receiverUid: string, entry: Entry, milliseconds: number, signal: AbortSignal | undefined): Promise<WaitOutcome> {
    if (held >= maxWaiters) {
      forget(receiverUid, entry)
      throw domainErrors.tooManyWaiters(maxWaiters)
    }
    held++
    return new Promise<WaitOutcome>((resolve) => {
      const timer = setTimeout(() => { entry.settle?.('timeout') }, milliseconds)
      const onAbort = () => { entry.settle?.('aborted') }
      signal?.addEventListener('abort', onAbort, { once: true })
      entry.settle = (outcome) => {
        entry.settle = null
        held--
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        forget(receiverUid, entry)
        if (outcome === 'notified') onWakeup()
        resolve(outcome)
      }
    })
  }

  return {
    watch (receiverUid, senderUid) {
      const entry: Entry = { senderUid, notified: false, settle: null }
      let entries = byReceiver.get(receiverUid)
      if (entries === undefined) byReceiver.set(receiverUid, entries = new Set())
      entries.add(entry)
      return {
        async wait (milliseconds, signal) {
          // The re-check: a commit since watch() was called counts, even though nobody was waiting yet.
          const early: WaitOutcome | null = entry.notified ? 'notified' : closed ? 'closing' : signal?.aborted === true ? 'aborted' : null
          if (early === null) return await hold(receiverUid, entry, milliseconds, signal)
          forget(receiverUid, entry)
          return early
        },
        cancel () {
          entry.settle?.('aborted')
          forget(receiverUid, entry)
        }
      }
    },
    wake (receiverUids, senderUid) {
      for (const receiverUid of receiverUids) {
        for (const entry of byReceiver.get(receiverUid) ?? []) {
          if (senderUid === undefined || entry.senderUid === undefined || entry.senderUid === senderUid) notify(entry)
        }
      }
    },
    wakeAll () {
      for (const entries of byReceiver.values()) for (const entry of entries) notify(entry)
    },
    close () {
      closed = true
      for (const entries of [...byReceiver.values()]) for (const entry of [...entries]) entry.settle?.('closing')
    },
    held: () => held,
    watching: () => [...byReceiver.values()].reduce((sum, entries) => sum + entries.size, 0)
  }
}
