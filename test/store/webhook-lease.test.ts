// The webhook's delivery row (store port: leaseWebhook, saveWebhookPosition, releaseWebhook), held against the store
// under test: one owner at a time, taken over once run out, the position saved only by the owner and kept, and the
// backlog after it (webhookBacklogSince).
import t, { type Test } from 'tap'
import { ALL_READERS, type EventRecord } from '../../src/domain/events.js'
import { createStore } from '../../src/store/backends.js'
import type { Store } from '../../src/store/types.js'
import { createTestDatabase, horizonPassed } from '../helpers/database.js'
import { sleep } from '../helpers/wait.js'

async function openStore (t: Test, databaseUrl?: string): Promise<Store> {
  const store = await createStore({ databaseUrl: databaseUrl ?? await createTestDatabase(t), poolMax: 4, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })
  t.teardown(() => store.close())
  return store
}

t.test('one owner at a time: the lease is refused to another while it runs, and renewed by its owner', async (t) => {
  const store = await openStore(t)
  t.strictSame(await store.leaseWebhook('a', 60_000), { position: null }, 'free at first, nothing delivered yet')
  t.equal(await store.leaseWebhook('b', 60_000), null, 'another owner is refused')
  t.strictSame(await store.leaseWebhook('a', 60_000), { position: null }, 'its owner renews it')
  t.equal(await store.leaseWebhook('b', 60_000), null)
})

t.test('a lease that ran out is taken by another owner, after which the first can neither renew it nor save', async (t) => {
  const store = await openStore(t)
  t.ok(await store.leaseWebhook('a', 200))
  t.ok(await store.saveWebhookPosition('a', '7', 200))
  await sleep(300)
  t.strictSame(await store.leaseWebhook('b', 60_000), { position: '7' }, 'taken over, with the position saved')
  t.equal(await store.saveWebhookPosition('a', '9', 60_000), false, 'the former owner saves nothing')
  t.equal(await store.leaseWebhook('a', 60_000), null, 'nor takes it back')
  t.strictSame(await store.leaseWebhook('b', 60_000), { position: '7' })
})

t.test('a save renews the lease; a release lets another take it at once', async (t) => {
  const store = await openStore(t)
  t.ok(await store.leaseWebhook('a', 1000))
  await sleep(700)
  t.ok(await store.saveWebhookPosition('a', '3', 1000), 'saved and renewed for 1 s more')
  await sleep(600)
  t.equal(await store.leaseWebhook('b', 60_000), null, 'still held: the save renewed it')
  await store.releaseWebhook('b')
  t.equal(await store.leaseWebhook('b', 60_000), null, 'a release by another owner changes nothing')
  await store.releaseWebhook('a')
  t.strictSame(await store.leaseWebhook('b', 60_000), { position: '3' }, 'released: taken at once')
})

t.test('the position survives the store being closed and opened again', async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  const first = await createStore({ databaseUrl, poolMax: 2, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })
  t.ok(await first.leaseWebhook('a', 60_000))
  t.ok(await first.saveWebhookPosition('a', '42', 60_000))
  await first.close()
  const second = await openStore(t, databaseUrl)
  t.equal(await second.leaseWebhook('b', 60_000), null, 'the lease is in the database too')
  t.strictSame(await second.leaseWebhook('a', 60_000), { position: '42' })
})

t.test('the backlog starts at the first event after the saved position: recorded_at, or null when there is none', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const store = await openStore(t, databaseUrl)
  t.equal(await store.webhookBacklogSince(), null, 'no event yet')
  const erased = (receiverUid: string): EventRecord => ({
    type: 'receiver.erased', occurredAt: 1, receiverUid, reader: ALL_READERS, deviceId: null, senderUid: null, msgId: null, seq: null,
    msgType: null, contentPreview: null, readers: null, later: 0, pendingCount: null, devices: null
  })
  await store.transaction(async (tx) => { await tx.insertEvents([erased('a')], 1000) })
  await store.transaction(async (tx) => { await tx.insertEvents([erased('b')], 2000) })
  t.equal(await store.webhookBacklogSince(), 1000, 'nothing delivered: from the first event')
  await horizonPassed(databaseUrl)
  const [first, second] = (await store.events(null, 10)).events
  t.ok(await store.leaseWebhook('a', 60_000))
  t.ok(await store.saveWebhookPosition('a', first?.position ?? '', 60_000))
  t.equal(await store.webhookBacklogSince(), 2000)
  t.ok(await store.saveWebhookPosition('a', second?.position ?? '', 60_000))
  t.equal(await store.webhookBacklogSince(), null, 'all delivered')
})
