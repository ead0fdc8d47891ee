// Recall and collapse keys through the domain service over an in-memory store: which devices a recall names, what a
// replaced message leaves, and the quota with drop_oldest.
import t from 'tap'
import type { Device, NewMessage } from '../../src/domain/model.js'
import { answerOf } from '../../src/domain/recall.js'
import { createDomain } from '../helpers/domain.js'

const message = (msgId: string, extra: Partial<NewMessage> = {}): NewMessage =>
  ({ receiverUid: 'bob', senderUid: 'alice', msgId, msgType: 1, content: `text of ${msgId}`, ...extra })
const device = (deviceId: string, slot: number, registeredAt: number): Device => ({ receiverUid: 'bob', deviceId, slot, registeredAt, lastAckAt: null })
const bit = (slot: number): number => 1 << slot

t.test('answerOf: delivered_to names the devices there when it was stored that no longer have it', async (t) => {
  const devices = [device('phone', 1, 100), device('laptop', 2, 200), device('tablet', 3, 900)]
  t.strictSame(answerOf('m', bit(1) | bit(2), 500, devices), { msgId: 'm', state: 'recalled', recalledFrom: ['phone', 'laptop'], deliveredTo: [] })
  t.strictSame(answerOf('m', bit(2), 500, devices), { msgId: 'm', state: 'partly_delivered', recalledFrom: ['laptop'], deliveredTo: ['phone'] },
    'the tablet, registered after the message, never had it')
  t.strictSame(answerOf('m', 0, 500, devices), { msgId: 'm', state: 'delivered', recalledFrom: [], deliveredTo: ['phone', 'laptop'] })
  t.strictSame(answerOf('m', 0, 50, devices), { msgId: 'm', state: 'delivered', recalledFrom: [], deliveredTo: ['phone'] },
    'stored before any device: the first device took it over')
  t.strictSame(answerOf('m', bit(0), 50, []), { msgId: 'm', state: 'recalled', recalledFrom: [null], deliveredTo: [] }, 'a receiver without devices is null')
  t.strictSame(answerOf('m', 0, 50, []), { msgId: 'm', state: 'delivered', recalledFrom: [], deliveredTo: [null] })
})

t.test('a recall of a message the first device took over names that device', async (t) => {
  const { service, counted } = createDomain()
  await service.storeOne(message('early'))
  await service.registerDevice('bob', 'phone')
  t.strictSame(await service.recall('bob', 'early', 'alice'), { msgId: 'early', state: 'recalled', recalledFrom: ['phone'], deliveredTo: [] })
  t.equal(counted.recalled, 1)
  await t.rejects(service.recall('bob', 'early', 'mallory'), { code: 'MESSAGE_NOT_FOUND' }, 'another sender learns nothing')
  t.strictSame(await service.recall('bob', 'early', 'alice'), { msgId: 'early', state: 'recalled', recalledFrom: ['phone'], deliveredTo: [] }, 'the same again')
  t.equal(counted.recalled, 1, 'a repeat recalls nothing more')
})

t.test('under drop_oldest, a store that replaces a message drops nothing; one that replaces nothing drops the oldest', async (t) => {
  const { service, counted } = createDomain({ maxPendingPerReceiver: 2, overflowPolicy: 'drop_oldest' })
  await service.storeOne(message('k-1', { collapseKey: 'k' }))
  await service.storeOne(message('plain'))
  await service.storeOne(message('k-2', { collapseKey: 'k' }))
  t.strictSame((await service.page({ receiverUid: 'bob', limit: 10 })).messages.map((m) => m.msgId), ['plain', 'k-2'])
  t.strictSame([counted.dropped, counted.superseded], [0, 1])
  await service.storeOne(message('other', { collapseKey: 'new' }))
  t.strictSame((await service.page({ receiverUid: 'bob', limit: 10 })).messages.map((m) => m.msgId), ['k-2', 'other'])
  t.strictSame([counted.dropped, counted.superseded], [1, 1])
  const summary = await service.summary({ receiverUid: 'bob', limit: 10 })
  t.match(summary, { totalPending: 2, senders: [{ pendingCount: 2, lostCount: 1 }] }, 'only the drop is lost')
})

t.test('a replaced message answers a recall as recalled, from the readers it was replaced for', async (t) => {
  const { service } = createDomain()
  await service.storeOne(message('k-1', { collapseKey: 'k' }))
  await service.storeOne(message('k-2', { collapseKey: 'k' }))
  t.strictSame(await service.recall('bob', 'k-1', 'alice'), { msgId: 'k-1', state: 'recalled', recalledFrom: [null], deliveredTo: [] })
  t.strictSame((await service.page({ receiverUid: 'bob', limit: 10 })).messages.map((m) => m.msgId), ['k-2'], 'and the newer one stays')
})

t.test('recalls that arrive together share one transaction, and each gets its own answer', async (t) => {
  const { service, store, counted } = createDomain()
  for (const msgId of ['first', 'a', 'b']) await service.storeOne(message(msgId))
  await service.storeOne(message('c', { receiverUid: 'carol' }))
  const before = store.commits
  const answers = await Promise.allSettled([
    service.recall('bob', 'first', 'alice'),
    service.recall('bob', 'a', 'alice'),
    service.recall('bob', 'a', 'alice'),
    service.recall('bob', 'b', 'mallory'),
    service.recall('bob', 'unknown', 'alice'),
    service.recall('carol', 'c', 'alice')
  ])
  t.equal(store.commits - before, 1, 'one transaction for six recalls')
  const recalled = { status: 'fulfilled', value: { state: 'recalled', recalledFrom: [null], deliveredTo: [] } }
  t.match(answers, [recalled, recalled, recalled,
    { status: 'rejected', reason: { code: 'MESSAGE_NOT_FOUND' } }, { status: 'rejected', reason: { code: 'MESSAGE_NOT_FOUND' } }, recalled])
  t.match(answers.map((answer) => answer.status === 'fulfilled' ? answer.value.msgId : null), ['first', 'a', 'a', null, null, 'c'])
  t.equal(counted.recalled, 3, 'the message recalled twice in one group counts once')
  t.strictSame((await service.page({ receiverUid: 'bob', limit: 10 })).messages.map((m) => m.msgId), ['b'], "another sender's recall took nothing")
  t.match(await service.summary({ receiverUid: 'carol', limit: 10 }), { totalPending: 0, senders: [] })
})
