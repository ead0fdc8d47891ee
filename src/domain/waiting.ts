// Held requests and their wake-ups: a page request that would be empty waits until a matching message commits,
// its time is up, its caller goes away, or the instance shuts down. Nothing here holds a database connection.
import { domainErrors } from './errors.js'

export type WaitOutcome = 'notified' | 'timeout' | 'aborted' | 'closing'

/**
 * The caller of a held request going away, told by the HTTP layer when its connection closes: the request is
 * forgotten at once. One small object per held request, where an AbortController with its signal, listener list and
 * listener would be four (bench/README.md, "Where a held request's memory is").
 */
export class Hangup {
  hungUp = false
  #listener: HangupListener | null = null

  hangUp (): void {
    this.hungUp = true
    const listener = this.#listener
    this.#listener = null
    listener?.onHangUp()
  }

  /** The one listener (a held request has one wait at a time); null forgets it. */
  listen (listener: HangupListener | null): void {
    this.#listener = listener
  }
}

export interface HangupListener {
  onHangUp (): void
}

/**
 * Interest in a receiver's new messages, registered before the page is read: a commit that lands between the read
 * and the wait has already marked it, so the wait returns at once instead of sleeping through it.
 */
export interface Watch {
  /** Holds until notified, `milliseconds` have passed, the caller hangs up or the waiters close; once only. */
  wait (milliseconds: number, hangup?: Hangup): Promise<WaitOutcome>
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

interface Registry {
  readonly byReceiver: Map<string, Set<ReceiverWatch>>
  readonly maxWaiters: number
  readonly onWakeup: () => void
  held: number
  closed: boolean
}

function timedOut (watch: ReceiverWatch): void { watch.settle('timeout') }

/**
 * One watch, and the held request it becomes: a class rather than closures, because 10,000 held requests keep
 * 10,000 of them (its methods are shared; its state is five fields).
 */
class ReceiverWatch implements Watch, HangupListener {
  notified = false
  #resolve: ((outcome: WaitOutcome) => void) | null = null
  #timer: NodeJS.Timeout | undefined = undefined
  #hangup: Hangup | undefined = undefined

  constructor (private readonly registry: Registry, private readonly receiverUid: string, readonly senderUid: string | undefined) {}

  // Not async: an async function would keep its own frame and promise for the whole wait.
  wait (milliseconds: number, hangup?: Hangup): Promise<WaitOutcome> {
    // The re-check: a commit since watch() was called counts, even though nobody was waiting yet.
    const early: WaitOutcome | null = this.notified ? 'notified' : this.registry.closed ? 'closing' : hangup?.hungUp === true ? 'aborted' : null
    if (early !== null) {
      this.forget()
      return Promise.resolve(early)
    }
    const registry = this.registry
    if (registry.held >= registry.maxWaiters) {
      this.forget()
      return Promise.reject(domainErrors.tooManyWaiters(registry.maxWaiters))
    }
    registry.held++
    return new Promise<WaitOutcome>((resolve) => {
      this.#resolve = resolve
      this.#timer = setTimeout(timedOut, milliseconds, this)
      this.#hangup = hangup
      hangup?.listen(this)
    })
  }

  onHangUp (): void {
    this.settle('aborted')
  }

  cancel (): void {
    this.settle('aborted')
    this.forget()
  }

  notify (): void {
    this.notified = true
    this.settle('notified')
  }

  /** Answers the held request, once; nothing if it is not held. */
  settle (outcome: WaitOutcome): void {
    const resolve = this.#resolve
    if (resolve === null) return
    this.#resolve = null
    this.registry.held--
    clearTimeout(this.#timer)
    this.#hangup?.listen(null)
    this.forget()
    if (outcome === 'notified') this.registry.onWakeup()
    resolve(outcome)
  }

  private forget (): void {
    const watches = this.registry.byReceiver.get(this.receiverUid)
    watches?.delete(this)
    if (watches?.size === 0) this.registry.byReceiver.delete(this.receiverUid)
  }
}

export function createWaiters (maxWaiters: number, onWakeup: () => void = () => {}): Waiters {
  const registry: Registry = { byReceiver: new Map(), maxWaiters, onWakeup, held: 0, closed: false }
  const { byReceiver } = registry
  return {
    watch (receiverUid, senderUid) {
      const watch = new ReceiverWatch(registry, receiverUid, senderUid)
      let watches = byReceiver.get(receiverUid)
      if (watches === undefined) byReceiver.set(receiverUid, watches = new Set())
      watches.add(watch)
      return watch
    },
    wake (receiverUids, senderUid) {
      for (const receiverUid of receiverUids) {
        for (const watch of byReceiver.get(receiverUid) ?? []) {
          if (senderUid === undefined || watch.senderUid === undefined || watch.senderUid === senderUid) watch.notify()
        }
      }
    },
    wakeAll () {
      for (const watches of byReceiver.values()) for (const watch of watches) watch.notify()
    },
    close () {
      registry.closed = true
      for (const watches of [...byReceiver.values()]) for (const watch of [...watches]) watch.settle('closing')
    },
    held: () => registry.held,
    watching: () => [...byReceiver.values()].reduce((sum, watches) => sum + watches.size, 0)
  }
}

/**
 * Reads, and while what it read is empty, holds the caller up to `waitSeconds` (real time, not the service's clock:
 * it bounds how long a caller is held), reading again at each wake-up. The watch is registered before each read, so
 * that a commit between the read and the wait is not missed. With `recheck`, a wake-up after which the read still
 * finds nothing, or a read that says what it waits for is held back, is followed by reads every `recheck.everyMs`
 * instead of a wait (the event feed, where a committed event may stay out of reach behind an older transaction still
 * running, whose end nothing announces).
 */
export async function readOrHold<P> (
  read: () => Promise<P>, isEmpty: (page: P) => boolean, watch: () => Watch, waitSeconds: number, hangup: Hangup | undefined,
  recheck?: { everyMs: number, heldBack: (page: P) => boolean }
): Promise<P> {
  const deadline = Date.now() + waitSeconds * 1000
  let woken = false
  for (;;) {
    const watching = watch()
    let page: P
    try {
      page = await read()
    } catch (error) {
      watching.cancel()
      throw error
    }
    const remaining = deadline - Date.now()
    if (!isEmpty(page) || remaining <= 0 || hangup?.hungUp === true) {
      watching.cancel()
      return page
    }
    if (recheck !== undefined && (woken || recheck.heldBack(page))) {
      watching.cancel()
      await new Promise((resolve) => { setTimeout(resolve, Math.min(recheck.everyMs, remaining)) })
      continue
    }
    if (await watching.wait(remaining, hangup) !== 'notified') return page
    woken = true
  }
}
