// The domain under test without a database: the MessageService over a fresh in-memory store (memory-store.ts), with
// rules a test may change, a clock it moves, and the counts the service reports after its commits.
import type { MessageEvents, MessageRules } from '../../src/domain/model.js'
import { createMessageService, type MessageService } from '../../src/domain/service.js'
import { createMemoryStore, type MemoryStore } from './memory-store.js'

export const RULES: MessageRules = {
  messageTtlSeconds: 3600,
  maxPendingPerReceiver: 1000,
  overflowPolicy: 'reject',
  dedupWindowSeconds: 600,
  sweepBatchSize: 100,
  maxWaiters: 10,
  maxDevicesPerReceiver: 5
}

export interface Counted { stored: number, duplicates: number, acked: number, expired: number, dropped: number, superseded: number, recalled: number, erased: number, wakeups: number }

export interface DomainUnderTest {
  service: MessageService
  store: MemoryStore
  /** What the service reported after its commits. */
  counted: Counted
  /** The service's clock: move it with advance. */
  advance (milliseconds: number): void
}

/** The MessageService over a fresh in-memory store, with a clock the test moves. */
export function createDomain (rules: Partial<MessageRules> = {}): DomainUnderTest {
  const store = createMemoryStore()
  const counted: Counted = { stored: 0, duplicates: 0, acked: 0, expired: 0, dropped: 0, superseded: 0, recalled: 0, erased: 0, wakeups: 0 }
  const events: MessageEvents = {
    stored: (n) => { counted.stored += n },
    duplicates: (n) => { counted.duplicates += n },
    acked: (n) => { counted.acked += n },
    expired: (n) => { counted.expired += n },
    dropped: (n) => { counted.dropped += n },
    superseded: (n) => { counted.superseded += n },
    recalled: (n) => { counted.recalled += n },
    erased: (n) => { counted.erased += n },
    wakeups: (n) => { counted.wakeups += n }
  }
  let now = Date.parse('2026-12-01T10:00:00.000Z')
  const service = createMessageService(store, { ...RULES, ...rules }, events, () => now)
  return { service, store, counted, advance: (milliseconds) => { now += milliseconds } }
}
