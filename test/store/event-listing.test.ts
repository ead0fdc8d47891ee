// What finds a receiver's events for its erasure (store port: indexEvents, eraseEvents), against the store under test:
// on SQLite the sweep lists them in event_receivers in batches of its own size and an erasure finds the listed ones
// there and the newer ones by id; on PostgreSQL an index does it and indexEvents has nothing to do.
import t, { type Test } from 'tap'
import { ALL_READERS, type EventRecord } from '../../src/domain/events.js'
import { createStore } from '../../src/store/backends.js'
import type { Store } from '../../src/store/types.js'
import { TEST_STORE, createTestDatabase, horizonPassed } from '../helpers/database.js'

async function openStore (t: Test): Promise<{ store: Store, databaseUrl: string }> {
  const databaseUrl = await createTestDatabase(t)
  const store = await createStore({ databaseUrl, poolMax: 4, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })
  t.teardown(() => store.close())
  return { store, databaseUrl }
}

const erasedEvent = (receiverUid: string): EventRecord => ({
  type: 'receiver.erased', occurredAt: 1, receiverUid, reader: ALL_READERS, deviceId: null, senderUid: null, msgId: null, seq: null,
  msgType: null, contentPreview: null, readers: null, later: 0, pendingCount: 0, devices: null
})

/** Every receiver_uid of the feed, from its start, in order. */
async function feedReceivers (store: Store, databaseUrl: string): Promise<string[]> {
  await horizonPassed(databaseUrl)
  const seen: string[] = []
  let after: string | null = null
  for (;;) {
    const page = await store.events(after, 1000)
    seen.push(...page.events.map((event) => event.receiverUid))
    if (page.events.length < 1000) return seen
    after = page.events.at(-1)?.position ?? null
  }
}

t.test('the sweep lists every event, past one batch of its own, and an erasure then removes every one of the receiver', async (t) => {
  const { store, databaseUrl } = await openStore(t)
  // More events than the SQLite store lists in one transaction (5,000), a tenth of them bob's.
  const receivers = Array.from({ length: 5001 }, (_, i) => i % 10 === 0 ? 'bob' : `r-${i % 10}`)
  await store.transaction(async (tx) => { await tx.insertEvents(receivers.map(erasedEvent), 1000) })
  // A limit below the store's own batch: the batch is the store's, and the sweep goes on until it has caught up.
  t.equal(await store.indexEvents(2), TEST_STORE === 'sqlite' ? 5001 : 0, 'every event listed (none to list on PostgreSQL)')
  t.equal(await store.indexEvents(2), 0, 'nothing left to list')
  // One more of bob's after the listing: an erasure finds it by id.
  await store.transaction(async (tx) => { await tx.insertEvents([erasedEvent('bob')], 1000) })
  await store.transaction(async (tx) => { await tx.eraseEvents('bob') })
  const left = await feedReceivers(store, databaseUrl)
  t.equal(left.length, 4500, "every event but bob's kept")
  t.notOk(left.includes('bob'), "none of bob's left, listed or not")
})
