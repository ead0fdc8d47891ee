// Ack attribution: which reader an ack acts for (resolveReaders, pure), and through the domain service over an
// in-memory store, which messages an ack by ids, up to a seq, or up to a seq of one sender takes, whose they are, what
// it counts, and that a device's ack leaves what other devices still hold.
import t from 'tap'
import { resolveReaders } from '../../src/domain/acks.js'
import { DomainError } from '../../src/domain/errors.js'
import type { AckRequest, Device, NewMessage, ReceiverState } from '../../src/domain/model.js'
import type { MessageService } from '../../src/domain/service.js'
import { createDomain } from '../helpers/domain.js'

const message = (receiverUid: string, senderUid: string, msgId: string, extra: Partial<NewMessage> = {}): NewMessage =>
  ({ receiverUid, senderUid, msgId, msgType: 1, content: `text of ${msgId}`, ...extra })

/** The msg_ids pending for a receiver (for its device, when given), in seq order. */
async function pending (service: MessageService, receiverUid: string, deviceId?: string): Promise<string[]> {
  return (await service.page({ receiverUid, deviceId, limit: 100 })).messages.map((stored) => stored.msgId)
}

const receiver = (receiverUid: string, devices: number): ReceiverState => ({ receiverUid, lastSeq: 5, pendingCount: 5, nextExpiry: null, devices })
const device = (receiverUid: string, deviceId: string, slot: number): Device => ({ receiverUid, deviceId, slot, registeredAt: 0, lastAckAt: null })

t.test('an ack acts for its own receiver\'s reader: itself without devices, else the named device of that receiver', async (t) => {
  const upTo = { kind: 'up-to', upToSeq: 9 } as const
  const receivers = new Map([['bob', receiver('bob', 0b10)], ['eve', receiver('eve', 0b110)], ['zoe', receiver('zoe', 0)]])
  const devices = [device('bob', 'phone', 1), device('eve', 'tablet', 1), device('eve', 'phone', 2)]
  const requests: AckRequest[] = [
    { receiverUid: 'bob', deviceId: 'phone', selector: upTo },
    { receiverUid: 'eve', deviceId: 'phone', selector: upTo },
    { receiverUid: 'zoe', selector: upTo },
    { receiverUid: 'nobody', selector: upTo },
    { receiverUid: 'bob', selector: upTo },
    { receiverUid: 'bob', deviceId: 'tablet', selector: upTo },
    { receiverUid: 'zoe', deviceId: 'phone', selector: upTo },
    { receiverUid: 'nobody', deviceId: 'phone', selector: upTo }
  ]
  const resolved = resolveReaders(requests, receivers, devices).map((ack) => ack instanceof DomainError ? ack.code : [ack.receiverUid, ack.reader])
  t.same(resolved, [
    ['bob', 1],
    ['eve', 2],
    ['zoe', 0],
    ['nobody', 0],
    'DEVICE_REQUIRED',
    'DEVICE_NOT_FOUND',
    'DEVICE_NOT_FOUND',
    'DEVICE_NOT_FOUND'
  ], 'a device name is looked up under its own receiver: bob\'s phone is slot 1, eve\'s slot 2; eve\'s tablet is not bob\'s')
})

t.test('an ack by ids takes exactly the listed messages that are pending, and leaves tombstones', async (t) => {
  const { service, counted } = createDomain()
  await service.storeMany([message('bob', 'alice', 'a1'), message('bob', 'alice', 'a2'), message('bob', 'carol', 'c3')])
  t.equal(await service.ack('bob', { kind: 'ids', msgIds: ['a1', 'c3', 'unknown', 'a1'] }), 2, 'unknown ids and repeats count nothing')
  t.same(await pending(service, 'bob'), ['a2'])
  t.equal(counted.acked, 2, 'acked counts messages, not requests')
  const retry = await service.storeOne(message('bob', 'alice', 'a1'))
  t.same([retry.status, retry.message?.seq], ['duplicate', 1], 'a late retry of an acked message is a duplicate with its original seq')
  t.same(await pending(service, 'bob'), ['a2'], '... and does not bring it back')
  t.equal(await service.ack('bob', { kind: 'ids', msgIds: ['a1'] }), 0, 'acking again takes nothing')
})

t.test('an ack up to a seq takes every pending message at or below it, of every sender; with sender_uid, that sender\'s only', async (t) => {
  const { service } = createDomain()
  await service.storeMany(['alice', 'carol', 'alice', 'carol', 'alice', 'carol'].map((sender, i) => message('bob', sender, `m${i + 1}`)))
  t.equal(await service.ack('bob', { kind: 'up-to', upToSeq: 4, senderUid: 'alice' }), 2)
  t.same(await pending(service, 'bob'), ['m2', 'm4', 'm5', 'm6'], 'alice\'s m1 and m3 went; carol\'s m2 and m4 stay')
  t.equal(await service.ack('bob', { kind: 'up-to', upToSeq: 5 }), 3)
  t.same(await pending(service, 'bob'), ['m6'], 'seq 5 itself is included; seq 6 is not')
})

t.test('an ack never deletes another receiver\'s messages, even with the same msg_ids', async (t) => {
  const { service, store } = createDomain()
  await service.storeMany([message('bob', 'alice', 'm1'), message('eve', 'alice', 'm1'), message('bob', 'alice', 'm2'), message('eve', 'alice', 'm2')])
  t.equal(await service.ack('bob', { kind: 'ids', msgIds: ['m1'] }), 1)
  t.equal(await service.ack('bob', { kind: 'up-to', upToSeq: 100 }), 1)
  t.same(await pending(service, 'eve'), ['m1', 'm2'], 'eve keeps both')
  t.equal((await service.summary({ receiverUid: 'eve', limit: 10 })).totalPending, 2, 'and her counts')
  t.same(store.acksSeen.map((ack) => ack.receiverUid), ['bob', 'bob'], 'the store was asked for bob\'s messages only')
})

t.test('acks committed together each count only what they took for their own receiver', async (t) => {
  const { service, store } = createDomain()
  await service.storeMany([message('bob', 'alice', 'm1'), message('eve', 'alice', 'm1'), message('eve', 'alice', 'm2'), message('bob', 'alice', 'm3')])
  const commits = store.commits
  const answers = await Promise.all([
    service.ack('bob', { kind: 'up-to', upToSeq: 100 }),
    service.ack('eve', { kind: 'ids', msgIds: ['m1'] }),
    service.ack('bob', { kind: 'ids', msgIds: ['m1'] }),
    service.ack('eve', { kind: 'up-to', upToSeq: 100 })
  ])
  t.same(answers, [2, 1, 0, 1], 'bob\'s later ack of m1 finds it taken; eve\'s up-to counts only m2')
  t.equal(store.commits - commits, 1, 'the four acks shared one transaction')
  t.same([await pending(service, 'bob'), await pending(service, 'eve')], [[], []])
})

t.test('a device\'s ack never removes a message another device still holds; the last device\'s ack deletes it', async (t) => {
  const { service, store, counted } = createDomain()
  await service.registerDevice('bob', 'phone')
  await service.registerDevice('bob', 'laptop')
  await service.registerDevice('eve', 'tablet')
  await service.registerDevice('eve', 'phone')
  await service.storeMany([message('bob', 'alice', 'm1'), message('bob', 'alice', 'm2'), message('eve', 'alice', 'm1')])
  t.equal(await service.ack('bob', { kind: 'ids', msgIds: ['m1'] }, 'phone'), 1)
  t.same(store.acksSeen.at(-1), { receiverUid: 'bob', reader: 1, selector: { kind: 'ids', msgIds: ['m1'] } }, 'handed to the store as bob\'s phone (slot 1)')
  t.same(await pending(service, 'bob', 'phone'), ['m2'])
  t.same(await pending(service, 'bob', 'laptop'), ['m1', 'm2'], 'the laptop still has m1')
  t.same(await pending(service, 'eve', 'phone'), ['m1'], 'eve\'s phone is another device')
  t.equal((await service.storeOne(message('bob', 'alice', 'm1'))).status, 'duplicate', 'a retry while the laptop holds it is a duplicate')
  t.equal(store.state.receivers.get('bob')?.pendingCount, 2, 'the quota still counts m1: it is stored once, for the laptop')
  t.equal(await service.ack('bob', { kind: 'ids', msgIds: ['m1'] }, 'phone'), 0, 'the phone cannot take it twice')
  t.equal(await service.ack('bob', { kind: 'up-to', upToSeq: 1 }, 'laptop'), 1)
  t.equal(store.state.receivers.get('bob')?.pendingCount, 1, 'once no device holds it, it leaves the quota')
  t.equal(counted.acked, 2, 'each device\'s share counts once')
  const retry = await service.storeOne(message('bob', 'alice', 'm1'))
  t.same([retry.status, retry.message?.seq], ['duplicate', 1], 'deleted with a tombstone: a retry is still a duplicate')
  t.same(store.state.devices.filter((d) => d.lastAckAt !== null).map((d) => [d.receiverUid, d.deviceId]), [['bob', 'phone'], ['bob', 'laptop']], 'last_ack_at of the acking devices only')
})

t.test('two devices acking one message together each take their own share', async (t) => {
  const { service } = createDomain()
  await service.registerDevice('bob', 'phone')
  await service.registerDevice('bob', 'laptop')
  await service.storeOne(message('bob', 'alice', 'm1'))
  t.same(await Promise.all([
    service.ack('bob', { kind: 'ids', msgIds: ['m1'] }, 'phone'),
    service.ack('bob', { kind: 'up-to', upToSeq: 1 }, 'laptop'),
    service.ack('bob', { kind: 'ids', msgIds: ['m1'] }, 'phone')
  ]), [1, 1, 0])
  t.same(await service.devices('bob').then((devices) => devices.map((d) => d.pendingCount)), [0, 0])
})

t.test('a receiver with devices must say which one acks, and only a registered one; nothing is taken otherwise', async (t) => {
  const { service } = createDomain()
  await service.registerDevice('bob', 'phone')
  await service.storeOne(message('bob', 'alice', 'm1'))
  await t.rejects(service.ack('bob', { kind: 'up-to', upToSeq: 9 }), { code: 'DEVICE_REQUIRED' })
  await t.rejects(service.ack('bob', { kind: 'up-to', upToSeq: 9 }, 'tablet'), { code: 'DEVICE_NOT_FOUND' })
  t.same(await pending(service, 'bob', 'phone'), ['m1'])
})

t.test('an expired message is lost, never acked, and an ack of a receiver never seen makes no row', async (t) => {
  const { service, store, counted, advance } = createDomain()
  await service.storeMany([message('bob', 'alice', 'm1', { ttlSeconds: 10 }), message('bob', 'alice', 'm2')])
  advance(10_000)
  t.equal(await service.ack('bob', { kind: 'up-to', upToSeq: 2 }), 1)
  t.same([counted.acked, counted.expired], [1, 1])
  t.equal((await service.storeOne(message('bob', 'alice', 'm1'))).status, 'stored', 'an expired message leaves no tombstone: its id is free')
  t.equal(await service.ack('nobody', { kind: 'up-to', upToSeq: 9 }), 0)
  t.notOk(store.state.receivers.has('nobody'))
})
