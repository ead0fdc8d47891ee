// The MessageService: what the HTTP layer may ask of the domain, and the wiring of the parts that do it.
import type { Store } from '../store/types.js'
import { createAcks } from './acks.js'
import { createDevices, type Registration } from './devices.js'
import { createErasure } from './erasure.js'
import { createRecall } from './recall.js'
import { createExpiry } from './expiry.js'
import type {
  AckSelector, DeviceView, Erased, MessageEvents, RecallResult, MessageRules, NewMessage, PageRequest, PageResult, StoredMessage, StoreOutcome, SummaryQuery, SummaryResult,
  SweepResult
} from './model.js'
import { createReads } from './reads.js'
import { createStoring } from './storing.js'
import { createWaiters } from './waiting.js'
import { EVENT_FEED_WAKEUP, createWrite } from './context.js'
import { createEventFeed, type EventPageRequest, type EventPageResult } from './event-feed.js'

export interface MessageService {
  /** Stores messages atomically, in input order; answered only after the commit that holds them. */
  storeMany (messages: readonly NewMessage[]): Promise<StoreOutcome[]>
  storeOne (message: NewMessage): Promise<StoreOutcome>
  /** The lazy-load summary: one row per sender with pending or lost messages, most recent first. */
  summary (query: SummaryQuery): Promise<SummaryResult>
  /** One page of pending messages in seq order; never deletes. */
  page (request: PageRequest): Promise<PageResult>
  /** One pending message (of the device, when given); MESSAGE_NOT_FOUND when there is none with that id. */
  get (receiverUid: string, msgId: string, deviceId?: string): Promise<StoredMessage>
  /**
   * Takes the selected messages from the receiver's pending ones (its device's, when it has devices); a message is
   * deleted, leaving a tombstone, once no device has it pending. Answers how many it took.
   */
  ack (receiverUid: string, selector: AckSelector, deviceId?: string): Promise<number>
  /**
   * The sender takes back a message: removed for every reader that still has it (a tombstone stays), nothing counted
   * lost. Answers what was recalled and what was already delivered; MESSAGE_NOT_FOUND for an unknown id or another
   * sender's message. Recalling again answers the same.
   */
  recall (receiverUid: string, msgId: string, senderUid: string): Promise<RecallResult>
  /** Erases everything held about the receiver; answers what it removed (zeros for an unknown receiver). */
  erase (receiverUid: string): Promise<Erased>
  /** Registers a device (idempotent); TOO_MANY_DEVICES past MAX_DEVICES_PER_RECEIVER. */
  registerDevice (receiverUid: string, deviceId: string): Promise<Registration>
  /** The receiver's devices with their pending counts. */
  devices (receiverUid: string): Promise<DeviceView[]>
  /** Unregisters a device (idempotent), deleting what was pending only for it. */
  unregisterDevice (receiverUid: string, deviceId: string): Promise<void>
  /** A page of the event feed, in commit order; EVENTS_OFF without EVENTS=on. */
  events (request: EventPageRequest): Promise<EventPageResult>
  /**
   * Calls `listener` whenever events may have been recorded: by this instance, or (PostgreSQL) announced by another,
   * or after the announcements were cut. Answers its unsubscribe.
   */
  followEvents (listener: () => void): () => void
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
  const waiters = createWaiters(rules.maxWaiters, () => { events.wakeups(1) })
  const eventListeners = new Set<() => void>()
  const eventsMayBeRecorded = (): void => { for (const listener of eventListeners) listener() }
  const recorded = (): void => {
    waiters.wake([EVENT_FEED_WAKEUP])
    eventsMayBeRecorded()
  }
  const context = { store, rules, clock, write: createWrite(store, events, { recording: rules.events === true, clock, recorded }) }
  const expiry = createExpiry(context)
  store.followCommits((receiverUids) => {
    if (receiverUids === 'all') waiters.wakeAll()
    else waiters.wake(receiverUids)
    if (eventListeners.size > 0 && (receiverUids === 'all' || receiverUids.includes(EVENT_FEED_WAKEUP))) eventsMayBeRecorded()
  })
  const reads = createReads(context, waiters, expiry.purgeNow)
  const storeMany = createStoring(context, waiters)
  const devices = createDevices(context, expiry.purgeNow)
  return {
    storeMany,
    storeOne: async (message) => (await storeMany([message]))[0] as StoreOutcome,
    summary: reads.summary,
    page: reads.page,
    get: reads.get,
    ack: createAcks(context),
    recall: createRecall(context),
    erase: createErasure(context),
    registerDevice: devices.register,
    devices: devices.list,
    unregisterDevice: devices.unregister,
    events: createEventFeed(context, waiters),
    followEvents (listener) {
      eventListeners.add(listener)
      return () => { eventListeners.delete(listener) }
    },
    sweep: expiry.sweep,
    totalPending: reads.totalPending,
    heldRequests: waiters.held,
    stopWaiting: waiters.close
  }
}
