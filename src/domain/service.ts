// The MessageService: what the HTTP layer may ask of the domain, and the wiring of the parts that do it.
import type { Store } from '../store/types.js'
import { createAcks } from './acks.js'
import { createExpiry } from './expiry.js'
import type {
  AckSelector, MessageEvents, MessageRules, NewMessage, PageRequest, PageResult, StoredMessage, StoreOutcome, SummaryQuery, SummaryResult,
  SweepResult
} from './model.js'
import { createReads } from './reads.js'
import { createStoring } from './storing.js'
import { createWaiters } from './waiting.js'
import { createWrite } from './writes.js'

export interface MessageService {
  /** Stores messages atomically, in input order; answered only after the commit that holds them. */
  storeMany (messages: readonly NewMessage[]): Promise<StoreOutcome[]>
  storeOne (message: NewMessage): Promise<StoreOutcome>
  /** The lazy-load summary: one row per sender with pending or lost messages, most recent first. */
  summary (query: SummaryQuery): Promise<SummaryResult>
  /** One page of pending messages in seq order; never deletes. */
  page (request: PageRequest): Promise<PageResult>
  /** One pending message; MESSAGE_NOT_FOUND when there is none with that id. */
  get (receiverUid: string, msgId: string): Promise<StoredMessage>
  /** Deletes the selected pending messages, leaving tombstones; answers how many it deleted. */
  ack (receiverUid: string, selector: AckSelector): Promise<number>
  /** One round of the periodic sweep of expired messages and stale tombstones. */
  sweep (): Promise<SweepResult>
  /** Pending, unexpired messages over all receivers. */
  totalPending (): Promise<number>
  /** Page requests held right now (waitSeconds). */
  heldRequests (): number
  /** Answers every held request at once with its empty page, and holds no more (shutdown). */
  stopWaiting (): void
}

export function createMessageService (store: Store, rules: MessageRules, events: MessageEvents, clock: () => number = Date.now): MessageService {
  const context = { store, rules, clock, write: createWrite(store, events) }
  const expiry = createExpiry(context)
  const waiters = createWaiters(rules.maxWaiters, () => { events.wakeups(1) })
  store.followCommits((receiverUids) => {
    if (receiverUids === 'all') waiters.wakeAll()
    else waiters.wake(receiverUids)
  })
  const reads = createReads(context, waiters, expiry.purgeNow)
  const storeMany = createStoring(context, waiters)
  return {
    storeMany,
    storeOne: async (message) => (await storeMany([message]))[0] as StoreOutcome,
    summary: reads.summary,
    page: reads.page,
    get: reads.get,
    ack: createAcks(context),
    sweep: expiry.sweep,
    totalPending: reads.totalPending,
    heldRequests: waiters.held,
    stopWaiting: waiters.close
  }
}
