// The summary rows' bookkeeping, through the domain service over an in-memory store: pending_count and last_* per
// sender, the latest moving back when it is acked, lost_count on expiry and on drop_oldest and its reset on that
// sender's ack, and one row per device.
import t from 'tap'
import type { NewMessage, SummaryRow } from '../../src/domain/model.js'
import type { MessageService } from '../../src/domain/service.js'
import { createDomain } from '../helpers/domain.js'

const message = (senderUid: string, msgId: string, extra: Partial<NewMessage> = {}): NewMessage =>
  ({ receiverUid: 'bob', senderUid, msgId, msgType: 1, content: `text of ${msgId}`, ...extra })

/** The summary as rows of [sender, pending, last seq, preview, lost], most recent first. */
async function rows (service: MessageService, deviceId?: string): Promise<Array<[string, number, number | null, string | null, number]>> {
  const { senders } = await service.summary({ receiverUid: 'bob', deviceId, limit: 50 })
  return senders.map((row: SummaryRow) => [row.senderUid, row.pendingCount, row.last?.seq ?? null, row.last?.preview ?? null, row.lostCount])
}

t.test('each sender has one row: its pending count and its latest message, the most recent first', async (t) => {
  const { service } = createDomain()
  await service.storeMany([message('alice', 'a1'), message('alice', 'a2'), message('carol', 'c3'), message('alice', 'a4', { content: '😀'.repeat(101), msgType: 7 })])
  t.same(await rows(service), [['alice', 3, 4, '😀'.repeat(100), 0], ['carol', 1, 3, 'text of c3', 0]])
  const summary = await service.summary({ receiverUid: 'bob', limit: 50 })
  t.equal(summary.totalPending, 4)
  t.equal(summary.senders[0]?.last?.msgType, 7)
  await service.storeOne(message('alice', 'a2'))
  t.equal((await service.summary({ receiverUid: 'bob', limit: 50 })).totalPending, 4, 'a retry adds no pending message')
  t.same((await rows(service))[0], ['alice', 3, 4, '😀'.repeat(100), 0], '... nor moves its sender\'s row')
})

t.test('when the latest message is acked, last_* move to the sender\'s previous pending message', async (t) => {
  const { service } = createDomain()
  await service.storeMany([message('alice', 'a1'), message('alice', 'a2'), message('carol', 'c3'), message('alice', 'a4')])
  t.equal(await service.ack('bob', { kind: 'ids', msgIds: ['a4'] }), 1)
  t.same(await rows(service), [['carol', 1, 3, 'text of c3', 0], ['alice', 2, 2, 'text of a2', 0]], 'alice\'s row shows a2 and sorts by it')
  t.equal(await service.ack('bob', { kind: 'ids', msgIds: ['a1'] }), 1)
  t.same(await rows(service), [['carol', 1, 3, 'text of c3', 0], ['alice', 1, 2, 'text of a2', 0]], 'acking an older one leaves last_* as they were')
  await service.ack('bob', { kind: 'ids', msgIds: ['a2'] })
  t.same(await rows(service), [['carol', 1, 3, 'text of c3', 0]], 'a sender with nothing pending and nothing lost has no row')
})

t.test('expired messages count as lost on their sender\'s row from the moment they expire, and a sender with only losses keeps its row', async (t) => {
  const { service, counted, advance } = createDomain()
  await service.storeMany([message('alice', 'a1', { ttlSeconds: 10 }), message('alice', 'a2', { ttlSeconds: 10 }), message('carol', 'c3', { ttlSeconds: 10 }), message('alice', 'a4')])
  advance(10_000)
  t.same(await rows(service), [['alice', 1, 4, 'text of a4', 2], ['carol', 0, null, null, 1]], 'no sweep has run: the summary counts them')
  t.equal(counted.expired, 3)
  t.equal((await service.summary({ receiverUid: 'bob', limit: 50 })).totalPending, 1)
  t.equal((await service.summary({ receiverUid: 'bob', limit: 50 })).senders[1]?.sortSeq, 3, 'a row with only losses keeps the place of its last message')
})

t.test('an ack of a sender\'s message resets that sender\'s lost_count, and no other sender\'s', async (t) => {
  const { service, advance } = createDomain()
  await service.storeMany([message('alice', 'a1', { ttlSeconds: 10 }), message('carol', 'c2', { ttlSeconds: 10 }), message('alice', 'a3'), message('carol', 'c4')])
  advance(10_000)
  t.same(await rows(service), [['carol', 1, 4, 'text of c4', 1], ['alice', 1, 3, 'text of a3', 1]])
  await service.ack('bob', { kind: 'ids', msgIds: ['a3'] })
  t.same(await rows(service), [['carol', 1, 4, 'text of c4', 1]], 'alice\'s losses dismissed (her row goes); carol\'s stay')
  await service.ack('bob', { kind: 'up-to', upToSeq: 3, senderUid: 'carol' })
  t.same(await rows(service), [['carol', 1, 4, 'text of c4', 0]], 'an ack up to a seq past the loss dismisses it even when it takes no message')
})

t.test('an ack up to a seq below a sender\'s last loss leaves that loss counted', async (t) => {
  const { service, advance } = createDomain()
  await service.storeMany([message('carol', 'c1'), message('alice', 'a2', { ttlSeconds: 10 }), message('alice', 'a3')])
  advance(10_000)
  await service.ack('bob', { kind: 'up-to', upToSeq: 1 })
  t.same(await rows(service), [['alice', 1, 3, 'text of a3', 1]], 'the client has not been told of seq 2 yet')
})

t.test('drop_oldest counts the dropped message as lost on its own sender\'s row', async (t) => {
  const { service, counted } = createDomain({ maxPendingPerReceiver: 2, overflowPolicy: 'drop_oldest' })
  await service.storeMany([message('carol', 'c1'), message('alice', 'a2')])
  const outcome = await service.storeOne(message('alice', 'a3'))
  t.equal(outcome.status, 'stored')
  t.same(await rows(service), [['alice', 2, 3, 'text of a3', 0], ['carol', 0, null, null, 1]])
  t.equal(counted.dropped, 1)
  await service.storeOne(message('alice', 'a4'))
  t.same(await rows(service), [['alice', 2, 4, 'text of a4', 1], ['carol', 0, null, null, 1]], 'the next drop takes alice\'s oldest')
})

t.test('each device has its own rows: an ack moves that device\'s counts only; expiry and drops count on every device', async (t) => {
  const { service, advance } = createDomain({ maxPendingPerReceiver: 3, overflowPolicy: 'drop_oldest' })
  await service.registerDevice('bob', 'phone')
  await service.registerDevice('bob', 'laptop')
  await service.storeMany([message('alice', 'a1', { ttlSeconds: 10 }), message('alice', 'a2'), message('carol', 'c3')])
  await service.ack('bob', { kind: 'ids', msgIds: ['a2'] }, 'phone')
  t.same(await rows(service, 'phone'), [['carol', 1, 3, 'text of c3', 0], ['alice', 1, 1, 'text of a1', 0]])
  t.same(await rows(service, 'laptop'), [['carol', 1, 3, 'text of c3', 0], ['alice', 2, 2, 'text of a2', 0]], 'the laptop still has a2')
  advance(10_000)
  t.same(await rows(service, 'phone'), [['carol', 1, 3, 'text of c3', 0], ['alice', 0, null, null, 1]], 'a1 expired: lost on the phone')
  t.same(await rows(service, 'laptop'), [['carol', 1, 3, 'text of c3', 0], ['alice', 1, 2, 'text of a2', 1]], '... and on the laptop')
  await service.ack('bob', { kind: 'up-to', upToSeq: 3 }, 'laptop')
  t.same(await rows(service, 'laptop'), [], 'the laptop\'s ack dismisses its own losses')
  t.same(await rows(service, 'phone'), [['carol', 1, 3, 'text of c3', 0], ['alice', 0, null, null, 1]], 'not the phone\'s')
  const devices = await service.devices('bob')
  t.same(devices.map((device) => [device.deviceId, device.pendingCount]), [['phone', 1], ['laptop', 0]])
  t.equal((await service.summary({ receiverUid: 'bob', deviceId: 'phone', limit: 50 })).totalPending, 1, 'total_pending is the device\'s own')
})

t.test('the summary pages by its own cursor, each sender once, most recent first; a page\'s cursor is refused there', async (t) => {
  const { service } = createDomain()
  await service.storeMany(['s1', 's2', 's3', 's4', 's5'].map((sender, i) => message(sender, `m${i + 1}`)))
  await service.storeOne(message('s2', 'm6'))
  const seen: string[] = []
  let cursor: string | undefined
  for (let pages = 0; pages < 5; pages++) {
    const page = await service.summary({ receiverUid: 'bob', limit: 2, cursor })
    seen.push(...page.senders.map((row) => row.senderUid))
    if (page.nextCursor === null) break
    cursor = page.nextCursor
  }
  t.same(seen, ['s2', 's5', 's4', 's3', 's1'])
  const messages = await service.page({ receiverUid: 'bob', limit: 2 })
  await t.rejects(service.summary({ receiverUid: 'bob', limit: 2, cursor: messages.nextCursor }), { code: 'INVALID_CURSOR' })
  await t.rejects(service.page({ receiverUid: 'bob', limit: 2, cursor: cursor ?? '' }), { code: 'INVALID_CURSOR' })
})
