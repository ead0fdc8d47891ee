// The quota and its overflow decisions, through the domain service over an in-memory store: reject answers
// inbox_full, drop_oldest drops the receiver's lowest seq as lost; retries (pending or tombstoned) are duplicates and
// conflicts whether the inbox is full or not, and never take a place; a message counts once whatever its devices.
import t from 'tap'
import type { NewMessage } from '../../src/domain/model.js'
import type { MessageService } from '../../src/domain/service.js'
import { createDomain } from '../helpers/domain.js'

const message = (senderUid: string, msgId: string, extra: Partial<NewMessage> = {}): NewMessage =>
  ({ receiverUid: 'bob', senderUid, msgId, msgType: 1, content: `text of ${msgId}`, ...extra })

async function pending (service: MessageService, deviceId?: string): Promise<string[]> {
  return (await service.page({ receiverUid: 'bob', deviceId, limit: 100 })).messages.map((stored) => stored.msgId)
}

const statuses = (outcomes: ReadonlyArray<{ status: string }>): string[] => outcomes.map((outcome) => outcome.status)

t.test('under reject, a full inbox answers inbox_full, stores nothing and uses no seq', async (t) => {
  const { service, counted } = createDomain({ maxPendingPerReceiver: 2, overflowPolicy: 'reject' })
  t.same(statuses(await service.storeMany([message('alice', 'm1'), message('carol', 'm2'), message('alice', 'm3')])), ['stored', 'stored', 'inbox_full'])
  const refused = await service.storeOne(message('alice', 'm4'))
  t.same([refused.status, refused.message], ['inbox_full', null])
  t.same(await pending(service), ['m1', 'm2'])
  t.same([counted.stored, counted.dropped], [2, 0])
  await service.ack('bob', { kind: 'ids', msgIds: ['m1'] })
  const next = await service.storeOne(message('alice', 'm4'))
  t.same([next.status, next.message?.seq], ['stored', 3], 'an ack makes room; the refused stores took no seq')
})

t.test('under drop_oldest, a full inbox stores the new message and drops the receiver\'s lowest seq, of any sender', async (t) => {
  const { service, store, counted } = createDomain({ maxPendingPerReceiver: 2, overflowPolicy: 'drop_oldest' })
  await service.storeMany([message('carol', 'm1'), message('alice', 'm2')])
  t.same(statuses(await service.storeMany([message('alice', 'm3'), message('alice', 'm4')])), ['stored', 'stored'])
  t.same(await pending(service), ['m3', 'm4'])
  t.equal(counted.dropped, 2)
  t.equal(store.state.receivers.get('bob')?.pendingCount, 2, 'the quota holds exactly')
  const again = await service.storeOne(message('carol', 'm1'))
  t.same([again.status, again.message?.seq], ['stored', 5], 'a dropped message leaves no tombstone: a retry stores it anew')
})

t.test('a retry of a pending message is a duplicate at a full inbox, under either policy, and drops nothing', async (t) => {
  for (const overflowPolicy of ['reject', 'drop_oldest'] as const) {
    const { service, counted } = createDomain({ maxPendingPerReceiver: 2, overflowPolicy })
    await service.storeMany([message('alice', 'm1'), message('alice', 'm2')])
    const retry = await service.storeOne(message('alice', 'm1'))
    t.same([retry.status, retry.message?.seq], ['duplicate', 1], overflowPolicy)
    t.same(await pending(service), ['m1', 'm2'], `${overflowPolicy}: nothing dropped`)
    t.same([counted.duplicates, counted.dropped], [1, 0])
    const conflict = await service.storeOne(message('alice', 'm2', { content: 'other' }))
    t.same([conflict.status, conflict.message?.content], ['conflict', 'text of m2'], `${overflowPolicy}: a different payload is a conflict, not inbox_full`)
  }
})

t.test('the same msg_id twice in one batch is stored then duplicate, taking one place', async (t) => {
  const { service } = createDomain({ maxPendingPerReceiver: 1, overflowPolicy: 'reject' })
  t.same(statuses(await service.storeMany([message('alice', 'm1'), message('alice', 'm1'), message('alice', 'm1', { msgType: 2 })])),
    ['stored', 'duplicate', 'conflict'])
})

t.test('a retry of an acked message within the dedup window is a duplicate at a full inbox; after it, the id is free', async (t) => {
  const { service, advance } = createDomain({ maxPendingPerReceiver: 1, overflowPolicy: 'drop_oldest', dedupWindowSeconds: 60 })
  await service.storeOne(message('alice', 'm1'))
  await service.ack('bob', { kind: 'ids', msgIds: ['m1'] })
  await service.storeOne(message('alice', 'm2'))
  const retry = await service.storeOne(message('alice', 'm1'))
  t.same([retry.status, retry.message?.seq], ['duplicate', 1])
  t.same(await pending(service), ['m2'], 'm2 was not dropped for it')
  advance(60_000)
  const later = await service.storeOne(message('alice', 'm1'))
  t.same([later.status, later.message?.seq], ['stored', 3], 'past the window a retry is a new message')
})

t.test('a message takes one place whatever the number of devices, until the last device acks it', async (t) => {
  const { service } = createDomain({ maxPendingPerReceiver: 2, overflowPolicy: 'reject' })
  await service.registerDevice('bob', 'phone')
  await service.registerDevice('bob', 'laptop')
  t.same(statuses(await service.storeMany([message('alice', 'm1'), message('alice', 'm2'), message('alice', 'm3')])), ['stored', 'stored', 'inbox_full'])
  await service.ack('bob', { kind: 'up-to', upToSeq: 2 }, 'phone')
  t.equal((await service.storeOne(message('alice', 'm3'))).status, 'inbox_full', 'the laptop still holds both')
  await service.ack('bob', { kind: 'ids', msgIds: ['m1'] }, 'laptop')
  t.equal((await service.storeOne(message('alice', 'm3'))).status, 'stored')
})

t.test('expired messages leave the quota before it is checked: they are lost, not dropped', async (t) => {
  const { service, counted, advance } = createDomain({ maxPendingPerReceiver: 1, overflowPolicy: 'reject' })
  await service.storeOne(message('alice', 'm1', { ttlSeconds: 10 }))
  advance(10_000)
  t.equal((await service.storeOne(message('alice', 'm2'))).status, 'stored')
  t.same([counted.expired, counted.dropped], [1, 0])
})

// A write that ends with nothing else to write (every ack of the group refused, a device registered again, an unknown
// device unregistered) still saves the receivers whose expired messages it removed: otherwise the messages are gone
// and counted lost, but the receiver keeps counting them against its quota for good.
t.test('expired messages purged by a refused ack or a no-op device call leave the quota too', async (t) => {
  const calls: Array<[string, (service: MessageService) => Promise<unknown>]> = [
    ['an ack naming a device of a receiver without devices', (service) => service.ack('bob', { kind: 'up-to', upToSeq: 9 }, 'ghost').catch(() => {})],
    ['registering a device again', (service) => service.registerDevice('bob', 'phone')],
    ['unregistering a device that is not registered', (service) => service.unregisterDevice('bob', 'ghost')]
  ]
  for (const [what, call] of calls) {
    const { service, store, advance } = createDomain({ maxPendingPerReceiver: 1, overflowPolicy: 'reject' })
    if (what !== calls[0]?.[0]) await service.registerDevice('bob', 'phone')
    await service.storeOne(message('alice', 'm1', { ttlSeconds: 10 }))
    advance(10_000)
    await call(service)
    t.same(store.state.messages.length, 0, `${what}: the expired message is gone`)
    t.equal(store.state.receivers.get('bob')?.pendingCount, 0, `${what}: and no longer counted`)
    t.equal((await service.storeOne(message('alice', 'm2'))).status, 'stored', `${what}: an empty inbox takes a message`)
  }
})
