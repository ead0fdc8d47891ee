// Contract v1.2: collapse keys, recall and erasure, on the store under test.
import t from 'tap'
import { API_KEYS, KEYS, bearer, buildTestApp, newMessage, type TestApp } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'
import { expectErrorShape } from '../helpers/requests.js'
import { createKnex } from '../../src/store/backends.js'

// The erasure of a full quota stores 10,000 messages first: beyond tap's default 30 s on a loaded machine.
t.setTimeout(180_000)

const ROOT = 'root:root-secret-1:write+read+ack+admin'
const ERASER = 'eraser:eraser-secret-1:admin'
const ENV = { API_KEYS: `${API_KEYS},${ROOT},${ERASER}` }
const AS_ROOT = bearer(ROOT)

interface PageBody { messages: Array<{ msg_id: string, seq: number, collapse_key: string | null }> }
interface SummaryBody {
  total_pending: number
  senders: Array<{ sender_uid: string, pending_count: number, last_seq: number | null, last_content_preview: string | null, lost_count: number }>
}

function client ({ call }: TestApp, receiver = 'bob') {
  const as = (headers: Record<string, string> = AS_ROOT) => ({ headers })
  const device = (deviceId?: string) => deviceId === undefined ? '' : `device_id=${deviceId}`
  return {
    store: (fields: Record<string, unknown> = {}, headers?: Record<string, string>) =>
      call({ method: 'POST', url: '/v1/messages', payload: newMessage({ receiver_uid: receiver, ...fields }), ...as(headers) }),
    batch: (messages: Array<Record<string, unknown>>) =>
      call({ method: 'POST', url: '/v1/messages/batch', payload: { messages: messages.map((m) => newMessage({ receiver_uid: receiver, ...m })) }, ...as() }),
    register: (deviceId: string) => call({ method: 'PUT', url: `/v1/receivers/${receiver}/devices/${deviceId}`, ...as() }),
    ack: (body: Record<string, unknown>) => call({ method: 'POST', url: `/v1/receivers/${receiver}/acks`, payload: body, ...as() }),
    ids: async (deviceId?: string): Promise<string[]> =>
      ((await call({ method: 'GET', url: `/v1/receivers/${receiver}/messages?${device(deviceId)}`, ...as() })).json() as PageBody).messages.map((m) => m.msg_id),
    page: async (deviceId?: string) => (await call({ method: 'GET', url: `/v1/receivers/${receiver}/messages?${device(deviceId)}`, ...as() })).json() as PageBody,
    summary: async (deviceId?: string) => (await call({ method: 'GET', url: `/v1/receivers/${receiver}/senders?${device(deviceId)}`, ...as() })).json() as SummaryBody,
    recall: (msgId: string, body: unknown = { sender_uid: 'alice' }, headers?: Record<string, string>) =>
      call({ method: 'POST', url: `/v1/receivers/${receiver}/messages/${msgId}/recall`, payload: body as Record<string, unknown>, ...as(headers) }),
    erase: (headers?: Record<string, string>, who = receiver) => call({ method: 'DELETE', url: `/v1/receivers/${who}`, ...as(headers) }),
    metrics: async () => (await call({ method: 'GET', url: '/metrics' })).body
  }
}

const counter = (metrics: string, name: string): number => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN)

t.test('collapse keys', async (t) => {
  t.test('a new message replaces the pending one of the same receiver, sender and key, which leaves a tombstone and is not lost', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.store({ msg_id: 'chat-1', content: 'hello' })
    const first = await c.store({ msg_id: 'typing-1', collapse_key: 'typing', content: 'typing…' })
    t.equal(first.statusCode, 201)
    t.equal(first.json().collapse_key, 'typing', 'collapse_key is returned')
    const second = await c.store({ msg_id: 'typing-2', collapse_key: 'typing', content: 'stopped typing' })
    t.equal(second.statusCode, 201)
    t.strictSame(await c.ids(), ['chat-1', 'typing-2'], 'only the newest of the key stays')
    const page = await c.page()
    t.strictSame(page.messages.map((m) => m.collapse_key), [null, 'typing'], 'collapse_key is null without one')
    const summary = await c.summary()
    t.equal(summary.total_pending, 2)
    t.match(summary.senders[0], { sender_uid: 'alice', pending_count: 2, last_content_preview: 'stopped typing', lost_count: 0 })
    const retry = await c.store({ msg_id: 'typing-1', collapse_key: 'typing', content: 'typing…' })
    t.equal(retry.statusCode, 200, 'a late retry of the replaced message is a duplicate')
    t.equal(retry.json().duplicate, true)
    t.strictSame(await c.ids(), ['chat-1', 'typing-2'], 'and does not bring it back')
    const metrics = await c.metrics()
    t.equal(counter(metrics, 'offline_messages_superseded_total'), 1)
    t.equal(counter(metrics, 'offline_messages_dropped_total'), 0)
  })

  t.test('another sender or another key is not replaced; collapse_key is part of the payload compared for duplicates', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.store({ msg_id: 'a', collapse_key: 'k' })
    await c.store({ msg_id: 'b', collapse_key: 'k', sender_uid: 'carol' })
    await c.store({ msg_id: 'c', collapse_key: 'other' })
    await c.store({ msg_id: 'd' })
    t.strictSame(await c.ids(), ['a', 'b', 'c', 'd'])
    const conflict = await c.store({ msg_id: 'd', content: (await c.page()).messages.length === 4 ? 'x' : 'y', collapse_key: 'k' })
    t.equal(conflict.statusCode, 409)
    const sameBodyOtherKey = await c.store({ msg_id: 'e', content: 'same' })
    t.equal(sameBodyOtherKey.statusCode, 201)
    const retryWithKey = await c.store({ msg_id: 'e', content: 'same', collapse_key: 'k' })
    t.equal(retryWithKey.statusCode, 409, 'the same msg_id and content with a collapse_key the first had not is a conflict')
    t.strictSame(await c.ids(), ['a', 'b', 'c', 'd', 'e'], 'nothing was replaced by the conflicts')
  })

  t.test('replaced for every device', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.register('phone')
    await c.register('laptop')
    await c.store({ msg_id: 'r1', collapse_key: 'receipt' })
    t.equal((await c.ack({ device_id: 'phone', msg_ids: ['r1'] })).json().deleted, 1)
    await c.store({ msg_id: 'r2', collapse_key: 'receipt' })
    t.strictSame(await c.ids('phone'), ['r2'])
    t.strictSame(await c.ids('laptop'), ['r2'])
    for (const device of ['phone', 'laptop']) {
      const summary = await c.summary(device)
      t.equal(summary.total_pending, 1, `${device}: one pending`)
      t.match(summary.senders, [{ pending_count: 1, lost_count: 0 }])
    }
  })

  t.test('the room a replaced message frees counts before the quota', async (t) => {
    const c = client(await buildTestApp(t, { ...ENV, MAX_PENDING_PER_RECEIVER: '2' }))
    t.equal((await c.store({ msg_id: 'x1', collapse_key: 'k' })).statusCode, 201)
    t.equal((await c.store({ msg_id: 'plain' })).statusCode, 201)
    t.equal((await c.store({ msg_id: 'over' })).statusCode, 429, 'the inbox is full')
    t.equal((await c.store({ msg_id: 'x2', collapse_key: 'k' })).statusCode, 201, 'a store that replaces a pending message is never INBOX_FULL')
    t.strictSame(await c.ids(), ['plain', 'x2'])
    t.equal((await c.store({ msg_id: 'y1', collapse_key: 'new-key' })).statusCode, 429, 'a key with nothing pending frees nothing')
  })

  t.test('within one batch, two items with the same key leave the later one', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.store({ msg_id: 'before', collapse_key: 'k' })
    const res = await c.batch([{ msg_id: 'b1', collapse_key: 'k', content: 'b1' }, { msg_id: 'plain' }, { msg_id: 'b2', collapse_key: 'k' }, { msg_id: 'b1', collapse_key: 'k', content: 'b1' }])
    t.equal(res.statusCode, 200)
    t.strictSame(res.json().results.map((r: { status: string }) => r.status), ['stored', 'stored', 'stored', 'duplicate'])
    t.strictSame(await c.ids(), ['plain', 'b2'])
    const summary = await c.summary()
    t.equal(summary.total_pending, 2)
    t.match(summary.senders[0], { pending_count: 2, lost_count: 0 })
  })

  t.test('an invalid collapse_key is 400 and stores nothing', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    for (const bad of ['', 'x'.repeat(101), 'has space', 7, null]) {
      const res = await c.store({ msg_id: 'bad', collapse_key: bad })
      expectErrorShape(t, res, 400, 'FST_ERR_VALIDATION')
    }
    const batch = await c.batch([{ msg_id: 'ok' }, { msg_id: 'bad', collapse_key: 'no/slash' }])
    t.equal(batch.statusCode, 400)
    t.strictSame(await c.ids(), [], 'nothing stored')
  })
})

t.test('recall', async (t) => {
  t.test('a pending message of a receiver without devices: recalled, its tombstone keeps a retry a duplicate, the summary moves back', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.store({ msg_id: 'm1', content: 'first' })
    await c.store({ msg_id: 'm2', content: 'oops' })
    const res = await c.recall('m2')
    t.equal(res.statusCode, 200)
    t.strictSame(res.json(), { msg_id: 'm2', state: 'recalled', recalled_from: [null], delivered_to: [] })
    t.strictSame(await c.ids(), ['m1'])
    const summary = await c.summary()
    t.equal(summary.total_pending, 1)
    t.match(summary.senders, [{ pending_count: 1, last_content_preview: 'first', lost_count: 0 }])
    const retry = await c.store({ msg_id: 'm2', content: 'oops' })
    t.equal(retry.statusCode, 200, 'a late retry of its store is a duplicate')
    t.strictSame(await c.ids(), ['m1'], 'and does not store it again')
    t.strictSame((await c.recall('m2')).json(), res.json(), 'recalling twice answers the same')
    await c.recall('m1')
    const empty = await c.summary()
    t.strictSame(empty.senders, [], 'a sender with nothing pending or lost has no row')
    const metrics = await c.metrics()
    t.equal(counter(metrics, 'offline_messages_recalled_total'), 2, 'the repeat counts nothing')
    t.equal(counter(metrics, 'offline_messages_dropped_total') + counter(metrics, 'offline_messages_expired_total'), 0, 'nothing lost')
  })

  t.test('with devices: recalled, partly delivered, delivered', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.register('phone')
    await c.register('laptop')
    await c.store({ msg_id: 'none' })
    await c.store({ msg_id: 'some' })
    await c.store({ msg_id: 'all' })
    await c.ack({ device_id: 'phone', msg_ids: ['some', 'all'] })
    await c.ack({ device_id: 'laptop', msg_ids: ['all'] })
    t.strictSame((await c.recall('none')).json(), { msg_id: 'none', state: 'recalled', recalled_from: ['phone', 'laptop'], delivered_to: [] })
    t.strictSame((await c.recall('some')).json(), { msg_id: 'some', state: 'partly_delivered', recalled_from: ['laptop'], delivered_to: ['phone'] })
    t.strictSame((await c.recall('all')).json(), { msg_id: 'all', state: 'delivered', recalled_from: [], delivered_to: ['phone', 'laptop'] })
    t.strictSame((await c.recall('some')).json().state, 'partly_delivered', 'the same state again')
    t.strictSame(await c.ids('phone'), [])
    t.strictSame(await c.ids('laptop'), [])
    for (const device of ['phone', 'laptop']) t.strictSame((await c.summary(device)).senders, [], `${device}: no row left`)
  })

  t.test('404 for an unknown id and for another sender\'s message alike, and nothing changes', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.store({ msg_id: 'mine', sender_uid: 'alice' })
    const unknown = await c.recall('nope', { sender_uid: 'alice' })
    const other = await c.recall('mine', { sender_uid: 'mallory' })
    const unknownError = expectErrorShape(t, unknown, 404, 'MESSAGE_NOT_FOUND')
    const otherError = expectErrorShape(t, other, 404, 'MESSAGE_NOT_FOUND')
    t.equal(otherError.message.replace('mine', 'nope'), unknownError.message, 'the answers differ only by the id asked for')
    t.strictSame(await c.ids(), ['mine'])
    expectErrorShape(t, await c.recall('x', { sender_uid: 'alice' }), 404, 'MESSAGE_NOT_FOUND')
    const noReceiver = client(await buildTestApp(t, ENV), 'nobody')
    expectErrorShape(t, await noReceiver.recall('x'), 404, 'MESSAGE_NOT_FOUND')
  })

  t.test('scope write; bad input is 400 and changes nothing', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.store({ msg_id: 'm1' })
    expectErrorShape(t, await c.recall('m1', { sender_uid: 'alice' }, bearer(KEYS.gateway)), 403, 'FORBIDDEN')
    expectErrorShape(t, await c.recall('m1', { sender_uid: 'alice' }, bearer(ERASER)), 403, 'FORBIDDEN')
    expectErrorShape(t, await c.recall('m1', { sender_uid: 'alice' }, { authorization: 'Bearer nope' }), 401, 'UNAUTHORIZED')
    expectErrorShape(t, await c.recall('m1', { sender_uid: 'alice', extra: 1 }), 400, 'FST_ERR_VALIDATION')
    expectErrorShape(t, await c.recall('m1', { sender_uid: 'bad uid' }), 400, 'FST_ERR_VALIDATION')
    expectErrorShape(t, await c.recall('m1', {}), 400, 'FST_ERR_VALIDATION')
    expectErrorShape(t, await c.recall('bad%20id'), 400, 'FST_ERR_VALIDATION')
    expectErrorShape(t, await c.recall('x'.repeat(71)), 400, 'FST_ERR_VALIDATION')
    t.strictSame(await c.ids(), ['m1'], 'nothing changed')
    t.equal((await c.recall('m1', { sender_uid: 'alice' }, bearer(KEYS.router))).statusCode, 200, 'a write key recalls')
  })
})

/** Every table of the database and how many rows of `receiver` each holds (tables without receiver_uid: none). */
async function rowsOfReceiver (databaseUrl: string, receiver: string): Promise<Record<string, number>> {
  const db = createKnex({ databaseUrl, poolMax: 1, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })
  try {
    const sqlite = databaseUrl.startsWith('sqlite:')
    const tables = sqlite
      ? (await db.raw("SELECT name FROM sqlite_master WHERE type = 'table'") as Array<{ name: string }>).map((row) => row.name)
      : ((await db.raw("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'")).rows as Array<{ name: string }>).map((row) => row.name)
    const counts: Record<string, number> = {}
    for (const table of tables) {
      const columns = Object.keys(await db(table).columnInfo())
      counts[table] = columns.includes('receiver_uid') ? Number((await db(table).where({ receiver_uid: receiver }).count({ n: '*' }))[0]?.n ?? 0) : 0
    }
    return counts
  } finally {
    await db.destroy()
  }
}

t.test('erasure', async (t) => {
  t.test('removes everything of the receiver from every table, and nothing of another; a store afterwards starts from nothing', async (t) => {
    const databaseUrl = await createTestDatabase(t, { file: true, migrated: true })
    const test = await buildTestApp(t, { ...ENV, DATABASE_URL: databaseUrl })
    const bob = client(test)
    const carol = client(test, 'carol')
    await bob.register('phone')
    await bob.register('laptop')
    for (let i = 0; i < 5; i++) await bob.store({ msg_id: `b${i}`, collapse_key: i < 2 ? 'k' : undefined })
    await bob.ack({ device_id: 'phone', msg_ids: ['b2'] })
    await bob.ack({ device_id: 'laptop', msg_ids: ['b2'] })
    await bob.recall('b3')
    await carol.store({ msg_id: 'c1' })
    const before = await rowsOfReceiver(databaseUrl, 'bob')
    t.ok(['messages', 'tombstones', 'conversations', 'devices', 'receivers'].every((table) => (before[table] ?? 0) > 0), 'bob had rows in each table')
    const res = await bob.erase(bearer(ERASER))
    t.equal(res.statusCode, 200)
    t.strictSame(res.json(), { messages: 2, tombstones: 3, devices: 2 })
    const after = await rowsOfReceiver(databaseUrl, 'bob')
    t.strictSame(Object.values(after).filter((n) => n > 0), [], `nothing of bob in any table (${Object.keys(after).join(', ')})`)
    t.strictSame(await carol.ids(), ['c1'], 'another receiver keeps its messages')
    t.strictSame((await bob.erase(bearer(ERASER))).json(), { messages: 0, tombstones: 0, devices: 0 }, 'again: zeros')
    t.strictSame((await bob.erase(bearer(ERASER), 'never-seen')).json(), { messages: 0, tombstones: 0, devices: 0 }, 'an unknown receiver: zeros')
    const again = await bob.store({ msg_id: 'b0' })
    t.equal(again.statusCode, 201, 'a retry after the erasure is a new message: its tombstone is gone too')
    t.equal(again.json().seq, 1, 'seq starts again')
    t.strictSame(await bob.ids(), ['b0'], 'no device: the receiver starts without any')
    const metrics = await bob.metrics()
    t.equal(counter(metrics, 'offline_messages_erased_total'), 5)
    t.equal(counter(metrics, 'offline_messages_dropped_total'), 0)
  })

  t.test('scope admin: a write key cannot erase, an admin key cannot store; an invalid receiver_uid is 400', async (t) => {
    const c = client(await buildTestApp(t, ENV))
    await c.store({ msg_id: 'm1' })
    expectErrorShape(t, await c.erase(bearer(KEYS.router)), 403, 'FORBIDDEN')
    expectErrorShape(t, await c.erase(bearer(KEYS.gateway)), 403, 'FORBIDDEN')
    expectErrorShape(t, await c.store({ msg_id: 'm2' }, bearer(ERASER)), 403, 'FORBIDDEN')
    expectErrorShape(t, await c.erase({ authorization: 'Bearer nope' }), 401, 'UNAUTHORIZED')
    expectErrorShape(t, await c.erase(bearer(ERASER), 'bad%20uid'), 400, 'FST_ERR_VALIDATION')
    expectErrorShape(t, await c.erase(bearer(ERASER), 'x'.repeat(51)), 400, 'FST_ERR_VALIDATION')
    t.strictSame(await c.ids(), ['m1'], 'nothing changed')
  })

  t.test('a receiver with the full quota pending on 10 devices is erased in bounded time', async (t) => {
    const test = await buildTestApp(t, ENV)
    const c = client(test)
    for (let d = 0; d < 10; d++) await c.register(`device-${d}`)
    for (let b = 0; b < 20; b++) {
      const res = await c.batch(Array.from({ length: 500 }, (_, i) => ({ msg_id: `q-${b}-${i}`, sender_uid: `s-${i % 50}`, content: 'x'.repeat(200) })))
      if (res.statusCode !== 200) throw new Error(res.body)
    }
    t.equal((await c.summary('device-0')).total_pending, 10_000)
    const started = performance.now()
    const res = await c.erase(bearer(ERASER))
    const ms = performance.now() - started
    t.strictSame(res.json(), { messages: 10_000, tombstones: 0, devices: 10 })
    t.comment(`erased 10,000 messages on 10 devices in ${ms.toFixed(0)} ms`)
    t.ok(ms < 5000, `within 5 s (${ms.toFixed(0)} ms)`)
  })
})
