// Devices (contract v1.1): one stored copy, a reader per device. Every v1 rule, held per device, on the store under test.
import t, { type Test } from 'tap'
import { buildTestApp, newMessage, type TestApp } from '../helpers/app.js'

const SECOND = 1000

interface SummaryBody {
  total_pending: number
  senders: Array<{ sender_uid: string, pending_count: number, last_seq: number | null, last_content_preview: string | null, lost_count: number }>
  next_cursor: string | null
}
interface PageBody { messages: Array<{ msg_id: string, seq: number }>, next_cursor: string, has_more: boolean }
interface DevicesBody { devices: Array<{ device_id: string, registered_at: string, pending_count: number, last_ack_at: string | null }> }

/** The calls of one test app, by name. */
function client ({ call }: TestApp, receiver = 'bob') {
  const device = (deviceId?: string) => deviceId === undefined ? '' : `device_id=${deviceId}`
  return {
    register: (deviceId: string) => call({ method: 'PUT', url: `/v1/receivers/${receiver}/devices/${deviceId}` }),
    unregister: (deviceId: string) => call({ method: 'DELETE', url: `/v1/receivers/${receiver}/devices/${deviceId}` }),
    devices: async () => (await call({ method: 'GET', url: `/v1/receivers/${receiver}/devices` })).json() as DevicesBody,
    store: (fields: Record<string, unknown> = {}) => call({ method: 'POST', url: '/v1/messages', payload: newMessage({ receiver_uid: receiver, ...fields }) }),
    summary: (deviceId?: string) => call({ method: 'GET', url: `/v1/receivers/${receiver}/senders?${device(deviceId)}` }),
    page: (deviceId?: string, query = '') => call({ method: 'GET', url: `/v1/receivers/${receiver}/messages?${device(deviceId)}&${query}` }),
    get: (msgId: string, deviceId?: string) => call({ method: 'GET', url: `/v1/receivers/${receiver}/messages/${msgId}?${device(deviceId)}` }),
    ack: (body: Record<string, unknown>) => call({ method: 'POST', url: `/v1/receivers/${receiver}/acks`, payload: body }),
    remove: (msgId: string, deviceId?: string) => call({ method: 'DELETE', url: `/v1/receivers/${receiver}/messages/${msgId}?${device(deviceId)}` })
  }
}

type Client = ReturnType<typeof client>

async function ids (c: Client, deviceId?: string, query = ''): Promise<string[]> {
  const page = await c.page(deviceId, query)
  if (page.statusCode !== 200) throw new Error(`page answered ${page.statusCode}: ${page.body}`)
  return (page.json() as PageBody).messages.map((message) => message.msg_id)
}

const summaryOf = async (c: Client, deviceId?: string): Promise<SummaryBody> => (await c.summary(deviceId)).json() as SummaryBody

async function setup (t: Test, env: Record<string, string> = {}) {
  const app = await buildTestApp(t, env)
  return { ...app, c: client(app) }
}

t.test('register: 201 with the device, 200 and the same body when registered again; listed in order with counts', async (t) => {
  const { c, clock } = await setup(t)
  const first = await c.register('phone')
  t.equal(first.statusCode, 201)
  t.strictSame(first.json(), { device_id: 'phone', registered_at: new Date(clock()).toISOString(), pending_count: 0 })
  clock.advance(SECOND)
  const again = await c.register('phone')
  t.equal(again.statusCode, 200, 'idempotent')
  t.strictSame(again.json(), first.json(), 'the same body, registered_at unchanged')
  t.equal((await c.register('laptop')).statusCode, 201)
  t.equal((await c.store({ msg_id: 'a' })).statusCode, 201)
  t.strictSame((await c.devices()).devices.map((d) => [d.device_id, d.pending_count, d.last_ack_at]), [['phone', 1, null], ['laptop', 1, null]])
  t.equal((await c.ack({ device_id: 'phone', msg_ids: ['a'] })).statusCode, 200)
  const [phone, laptop] = (await c.devices()).devices
  t.equal(phone?.pending_count, 0)
  t.equal(phone?.last_ack_at, new Date(clock()).toISOString(), 'the ack is noted on the device that made it')
  t.equal(laptop?.last_ack_at, null)
  t.strictSame((await client({ call: (await setup(t)).call } as TestApp, 'nobody').devices()), { devices: [] }, 'no device: an empty list')
})

t.test('past MAX_DEVICES_PER_RECEIVER: 409 TOO_MANY_DEVICES, and nothing changes', async (t) => {
  const { c } = await setup(t, { MAX_DEVICES_PER_RECEIVER: '3' })
  for (const name of ['d1', 'd2', 'd3']) t.equal((await c.register(name)).statusCode, 201)
  const refused = await c.register('d4')
  t.equal(refused.statusCode, 409)
  t.match(refused.json(), { statusCode: 409, code: 'TOO_MANY_DEVICES', error: 'Conflict', message: /3 devices \(MAX_DEVICES_PER_RECEIVER\)/ })
  t.strictSame((await c.devices()).devices.map((d) => d.device_id), ['d1', 'd2', 'd3'])
  t.equal((await c.register('d1')).statusCode, 200, 'a registered one is still idempotent at the limit')
  t.equal((await c.unregister('d2')).statusCode, 204)
  t.equal((await c.register('d4')).statusCode, 201, 'a freed place can be taken')
  t.equal((await c.store({ msg_id: 'x' })).statusCode, 201)
  t.strictSame(await ids(c, 'd4'), ['x'], 'the new device on the freed slot gets new messages')
})

t.test('by default the eleventh device is refused', async (t) => {
  const { c } = await setup(t)
  for (let i = 1; i <= 10; i++) t.equal((await c.register(`device-${i}`)).statusCode, 201)
  t.equal((await c.register('device-11')).json().code, 'TOO_MANY_DEVICES')
  t.equal((await c.devices()).devices.length, 10)
})

t.test('bad input: each 4xx in the contract\'s shape, and nothing is stored, acked or registered', async (t) => {
  const { c, call } = await setup(t)
  await c.store({ msg_id: 'kept' })
  const other = client({ call } as TestApp, 'eve')
  await other.register('phone')
  await other.store({ msg_id: 'eve-1' })

  // A malformed device_id, wherever it goes.
  for (const response of [
    await c.register('bad%20id'), await c.unregister('x'.repeat(51)), await c.summary('a/b'), await c.page('bad!'), await c.get('kept', 'bad!'),
    await c.remove('kept', 'bad!'), await c.ack({ device_id: 'bad id', msg_ids: ['kept'] }), await c.ack({ device_id: '', msg_ids: ['kept'] })
  ]) {
    t.equal(response.statusCode, 400, response.body)
    t.match(response.json(), { statusCode: 400, code: 'FST_ERR_VALIDATION', message: /device_id/ })
  }

  // A device_id for a receiver without devices (bob), and one that eve has not registered.
  for (const who of [c, other]) {
    for (const response of [
      await who.summary('tablet'), await who.page('tablet'), await who.get('kept', 'tablet'), await who.remove('kept', 'tablet'),
      await who.ack({ device_id: 'tablet', msg_ids: ['kept', 'eve-1'] }), await who.ack({ device_id: 'tablet', up_to_seq: 100 })
    ]) {
      t.equal(response.statusCode, 404, response.body)
      t.match(response.json(), { statusCode: 404, code: 'DEVICE_NOT_FOUND', error: 'Not Found', message: /device "tablet" is not registered/ })
    }
  }

  // No device_id for a receiver with devices.
  for (const response of [
    await other.summary(), await other.page(), await other.get('eve-1'), await other.remove('eve-1'),
    await other.ack({ msg_ids: ['eve-1'] }), await other.ack({ up_to_seq: 100 })
  ]) {
    t.equal(response.statusCode, 400, response.body)
    t.match(response.json(), { statusCode: 400, code: 'DEVICE_REQUIRED', error: 'Bad Request', message: /receiver "eve" has registered devices/ })
  }

  t.strictSame(await ids(c), ['kept'], 'bob\'s message is still pending')
  t.strictSame(await ids(other, 'phone'), ['eve-1'], 'eve\'s too')
  t.strictSame((await c.devices()).devices, [], 'bob got no device')
  t.strictSame((await other.devices()).devices.map((d) => [d.device_id, d.pending_count, d.last_ack_at]), [['phone', 1, null]])
})

t.test('one copy, a reader per device: the phone\'s ack leaves it to the laptop; the laptop\'s deletes it, leaving a tombstone', async (t) => {
  const { c } = await setup(t)
  await c.register('phone')
  await c.register('laptop')
  const stored = await c.store({ msg_id: 'hi', content: 'hello' })
  t.equal(stored.statusCode, 201)
  t.strictSame(await ids(c, 'phone'), ['hi'])
  t.strictSame(await ids(c, 'laptop'), ['hi'])

  t.strictSame((await c.ack({ device_id: 'phone', msg_ids: ['hi'] })).json(), { deleted: 1 }, 'taken from the phone')
  t.strictSame((await c.ack({ device_id: 'phone', msg_ids: ['hi'] })).json(), { deleted: 0 }, 'idempotent on the phone')
  t.strictSame(await ids(c, 'phone'), [])
  t.strictSame(await ids(c, 'laptop'), ['hi'], 'the laptop still has it')
  t.equal((await c.get('hi', 'phone')).statusCode, 404, 'the phone no longer reads it')
  t.equal((await c.get('hi', 'laptop')).json().content, 'hello', 'the laptop does')
  const retry = await c.store({ msg_id: 'hi', content: 'hello' })
  t.equal(retry.statusCode, 200)
  t.equal(retry.json().duplicate, true, 'a retry while a device still has it is a duplicate')
  t.equal((await c.store({ msg_id: 'hi', content: 'other' })).statusCode, 409, 'another payload conflicts')

  t.equal((await c.remove('hi', 'laptop')).statusCode, 204, 'the laptop acks it by DELETE')
  t.strictSame(await ids(c, 'laptop'), [])
  const late = await c.store({ msg_id: 'hi', content: 'hello' })
  t.equal(late.statusCode, 200, 'the last ack left a tombstone')
  t.strictSame([late.json().duplicate, late.json().seq], [true, stored.json().seq], 'the message as it was stored')
  t.strictSame(await ids(c, 'phone'), [], 'and it does not come back for anyone')
  t.strictSame((await c.devices()).devices.map((d) => d.pending_count), [0, 0])
  t.equal((await c.remove('hi', 'laptop')).statusCode, 204, 'DELETE again: still 204')
})

t.test('the summary is the device\'s own: counts, last_* of its latest pending message, lost_count reset by its own ack', async (t) => {
  const { c, clock } = await setup(t)
  await c.register('phone')
  await c.register('laptop')
  await c.store({ msg_id: 'a1', sender_uid: 'alice', content: 'first', ttl_seconds: 60 })
  await c.store({ msg_id: 'a2', sender_uid: 'alice', content: 'second' })
  await c.store({ msg_id: 'c1', sender_uid: 'carol', content: 'from carol' })
  t.equal((await c.ack({ device_id: 'phone', msg_ids: ['a2'] })).json().deleted, 1)

  const phone = await summaryOf(c, 'phone')
  t.equal(phone.total_pending, 2)
  t.strictSame(phone.senders.map((s) => [s.sender_uid, s.pending_count, s.last_seq, s.last_content_preview, s.lost_count]),
    [['carol', 1, 3, 'from carol', 0], ['alice', 1, 1, 'first', 0]], 'the phone\'s latest of alice is a1: it acked a2')
  const laptop = await summaryOf(c, 'laptop')
  t.equal(laptop.total_pending, 3)
  t.strictSame(laptop.senders.map((s) => [s.sender_uid, s.pending_count, s.last_seq, s.lost_count]), [['carol', 1, 3, 0], ['alice', 2, 2, 0]])

  // a1 expires: lost on both devices, which both had it pending.
  clock.advance(61 * SECOND)
  const lostOnPhone = (await summaryOf(c, 'phone')).senders.find((s) => s.sender_uid === 'alice')
  t.strictSame([lostOnPhone?.pending_count, lostOnPhone?.last_seq, lostOnPhone?.lost_count], [0, null, 1], 'the phone keeps a row of only lost messages')
  const lostOnLaptop = (await summaryOf(c, 'laptop')).senders.find((s) => s.sender_uid === 'alice')
  t.strictSame([lostOnLaptop?.pending_count, lostOnLaptop?.last_seq, lostOnLaptop?.lost_count], [1, 2, 1])

  // The laptop acks alice: its lost_count resets, the phone's does not.
  t.equal((await c.ack({ device_id: 'laptop', up_to_seq: 2, sender_uid: 'alice' })).json().deleted, 1)
  t.strictSame((await summaryOf(c, 'laptop')).senders.map((s) => s.sender_uid), ['carol'], 'the laptop\'s alice row is gone')
  t.equal((await summaryOf(c, 'phone')).senders.find((s) => s.sender_uid === 'alice')?.lost_count, 1, 'the phone\'s stays until the phone acks')
  t.equal((await c.ack({ device_id: 'phone', up_to_seq: 2, sender_uid: 'alice' })).json().deleted, 0)
  t.strictSame((await summaryOf(c, 'phone')).senders.map((s) => s.sender_uid), ['carol'], 'the phone\'s ack dismisses it')
})

t.test('pages and cursors per device, one sender\'s or all; acks up to a seq, with and without sender_uid', async (t) => {
  const { c } = await setup(t)
  await c.register('phone')
  await c.register('laptop')
  for (let i = 1; i <= 6; i++) await c.store({ msg_id: `m${i}`, sender_uid: i % 2 === 0 ? 'carol' : 'alice' })
  const first = (await c.page('phone', 'limit=2')).json() as PageBody
  t.strictSame([first.messages.map((m) => m.msg_id), first.has_more], [['m1', 'm2'], true])
  t.equal((await c.ack({ device_id: 'phone', up_to_seq: 2 })).json().deleted, 2, 'up to a seq, all senders')
  const next = (await c.page('phone', `limit=2&cursor=${first.next_cursor}`)).json() as PageBody
  t.strictSame(next.messages.map((m) => m.msg_id), ['m3', 'm4'], 'the cursor stays valid after the device\'s acks')
  t.strictSame(await ids(c, 'phone', 'sender_uid=carol'), ['m4', 'm6'])
  t.equal((await c.ack({ device_id: 'phone', up_to_seq: 6, sender_uid: 'carol' })).json().deleted, 2, 'up to a seq, one sender')
  t.strictSame(await ids(c, 'phone'), ['m3', 'm5'])
  t.strictSame(await ids(c, 'laptop'), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'], 'none of it touched the laptop')
  t.equal((await c.ack({ device_id: 'laptop', up_to_seq: 4 })).json().deleted, 4)
  t.strictSame((await c.devices()).devices.map((d) => d.pending_count), [2, 2])
  t.equal((await summaryOf(c, 'phone')).total_pending, 2)
  // m1 and m2 are acked by both: deleted with tombstones. m4 too. m3 is still the phone's.
  t.equal((await c.store({ msg_id: 'm1' })).statusCode, 409, 'a tombstone: the retry with other content conflicts')
  t.equal((await c.store({ msg_id: 'm3' })).statusCode, 409, 'still pending for the phone')
})

t.test('the first device takes over what was pending without devices; a later one gets only newer messages', async (t) => {
  const { c } = await setup(t)
  await c.store({ msg_id: 'old1', sender_uid: 'alice', content: 'old one' })
  await c.store({ msg_id: 'old2', sender_uid: 'carol' })
  t.equal((await summaryOf(c)).total_pending, 2, 'v1: the receiver\'s own')
  const phone = await c.register('phone')
  t.equal(phone.json().pending_count, 2, 'the first device took them over')
  t.equal((await c.register('laptop')).json().pending_count, 0, 'the second starts empty')
  await c.store({ msg_id: 'new', sender_uid: 'alice' })
  t.strictSame(await ids(c, 'phone'), ['old1', 'old2', 'new'])
  t.strictSame(await ids(c, 'laptop'), ['new'], 'a device registered later does not see older messages')
  t.strictSame((await summaryOf(c, 'phone')).senders.map((s) => [s.sender_uid, s.pending_count]), [['alice', 2], ['carol', 1]])
  t.strictSame((await summaryOf(c, 'laptop')).senders.map((s) => [s.sender_uid, s.pending_count]), [['alice', 1]])
  t.equal((await c.ack({ device_id: 'phone', msg_ids: ['old1', 'old2'] })).json().deleted, 2)
  t.equal((await c.store({ msg_id: 'old1', sender_uid: 'alice', content: 'old one' })).json().duplicate, true, 'the phone was the only reader: a tombstone')
})

t.test('unregistering deletes what was pending only for that device (tombstones, not lost), and keeps the rest', async (t) => {
  const { c } = await setup(t)
  await c.register('phone')
  await c.register('laptop')
  await c.store({ msg_id: 'both' })
  await c.store({ msg_id: 'phone-only', content: 'for the phone' })
  await c.ack({ device_id: 'laptop', msg_ids: ['phone-only'] })
  t.equal((await c.unregister('phone')).statusCode, 204)
  t.equal((await c.unregister('phone')).statusCode, 204, 'again: still 204')
  t.equal((await c.unregister('never')).statusCode, 204, 'one never registered: 204')
  t.strictSame((await c.devices()).devices.map((d) => [d.device_id, d.pending_count]), [['laptop', 1]])
  t.strictSame(await ids(c, 'laptop'), ['both'])
  t.equal((await c.store({ msg_id: 'phone-only', content: 'for the phone' })).json().duplicate, true, 'what only the phone had is deleted with its tombstone')
  t.strictSame((await summaryOf(c, 'laptop')).senders.map((s) => s.lost_count), [0], 'not counted as lost')
  t.equal((await c.summary('phone')).statusCode, 404, 'the phone is gone')

  // The last device goes: the receiver is a v1 receiver again, with nothing pending.
  t.equal((await c.unregister('laptop')).statusCode, 204)
  t.strictSame(await summaryOf(c), { receiver_uid: 'bob', total_pending: 0, senders: [], next_cursor: null })
  t.equal((await c.store({ msg_id: 'after' })).statusCode, 201)
  t.strictSame(await ids(c), ['after'], 'v1 again: no device_id needed')
})

t.test('the quota counts a stored message once; drop_oldest counts it lost on every device that had it', async (t) => {
  const { c } = await setup(t, { MAX_PENDING_PER_RECEIVER: '3', OVERFLOW_POLICY: 'drop_oldest' })
  await c.register('phone')
  await c.register('laptop')
  await c.register('browser')
  for (const id of ['m1', 'm2', 'm3']) t.equal((await c.store({ msg_id: id })).statusCode, 201)
  await c.ack({ device_id: 'phone', msg_ids: ['m1'] })
  t.equal((await c.store({ msg_id: 'm4' })).statusCode, 201, 'three stored messages fill the quota whatever the number of devices: m1 is dropped')
  t.strictSame(await ids(c, 'laptop'), ['m2', 'm3', 'm4'])
  t.strictSame(await ids(c, 'phone'), ['m2', 'm3', 'm4'])
  t.strictSame((await summaryOf(c, 'laptop')).senders.map((s) => s.lost_count), [1], 'lost on the laptop, which had it pending')
  t.strictSame((await summaryOf(c, 'browser')).senders.map((s) => s.lost_count), [1], 'and on the browser')
  t.strictSame((await summaryOf(c, 'phone')).senders.map((s) => s.lost_count), [0], 'not on the phone, which had acked it')
  t.strictSame((await c.devices()).devices.map((d) => d.pending_count), [3, 3, 3])
})

t.test('under the reject policy a full inbox answers 429 however many devices still read it', async (t) => {
  const { c } = await setup(t, { MAX_PENDING_PER_RECEIVER: '2' })
  await c.register('phone')
  await c.register('laptop')
  await c.store({ msg_id: 'm1' })
  await c.store({ msg_id: 'm2' })
  await c.ack({ device_id: 'phone', up_to_seq: 2 })
  t.equal((await c.store({ msg_id: 'm3' })).statusCode, 429, 'the laptop still holds both: the quota is full')
  await c.ack({ device_id: 'laptop', msg_ids: ['m1'] })
  t.equal((await c.store({ msg_id: 'm3' })).statusCode, 201, 'the last ack of m1 freed a place')
})

t.test('a held page of one device wakes on a store, and answers that device\'s page', async (t) => {
  const { c } = await setup(t)
  await c.register('phone')
  const held = c.page('phone', 'wait_seconds=5')
  await new Promise((resolve) => setTimeout(resolve, 100))
  await c.store({ msg_id: 'woke' })
  const page = await held
  t.equal(page.statusCode, 200)
  t.strictSame((page.json() as PageBody).messages.map((m) => m.msg_id), ['woke'])
  const wrong = await c.page('tablet', 'wait_seconds=5')
  t.equal(wrong.statusCode, 404, 'an unknown device is refused at once, not held')
})
