// The event feed: one event per change that matters outside, recorded in the change's own transaction, served in
// commit order behind signed cursors.
import pg from 'pg'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { createStore } from '../../src/store/backends.js'
import type { DatabaseOptions } from '../../src/store/database.js'
import type { Store } from '../../src/store/types.js'
import { API_KEYS, buildTestApp, bearer, newMessage, type TestApp } from '../helpers/app.js'
import { TEST_STORE, horizonPassed, onCitus } from '../helpers/database.js'

// EVENTS=on is refused on a Citus database (src/app.ts): there the tests that need it are skipped.
const feedTest = (await onCitus() ? t.skip : t.test).bind(t)

const FEED_KEY = 'feed:feed-secret-1:events'
const FEED = bearer(FEED_KEY)
const ON = { EVENTS: 'on', API_KEYS: `${API_KEYS},${FEED_KEY}` }

interface Event { id: string, type: string, occurred_at: string, receiver_uid: string, device_id: string | null, sender_uid: string | null, msg_id: string | null, seq: number | null, pending_count: number, msg_type?: number, content_preview?: string, devices?: string[] }
interface Page { events: Event[], next_cursor: string, has_more: boolean, missed: boolean }

async function feed (test: TestApp, query = ''): Promise<Page> {
  await horizonPassed(test.config.database.databaseUrl)
  const answer = await test.call({ method: 'GET', url: `/v1/events${query}`, headers: FEED })
  if (answer.statusCode !== 200) throw new Error(`GET /v1/events${query} answered ${answer.statusCode}: ${answer.body}`)
  return answer.json<Page>()
}

/** Everything the feed has after `cursor`, following next_cursor. */
async function all (test: TestApp, cursor?: string): Promise<{ events: Event[], cursor: string }> {
  const events: Event[] = []
  for (;;) {
    const page = await feed(test, `?limit=2${cursor === undefined ? '' : `&cursor=${cursor}`}`)
    events.push(...page.events)
    cursor = page.next_cursor
    if (!page.has_more) return { events, cursor }
  }
}

const store = (test: TestApp, body: Record<string, unknown>) => test.call({ method: 'POST', url: '/v1/messages', payload: newMessage(body) })
const withoutIds = (events: Event[]) => events.map(({ id, ...rest }) => rest)

feedTest('message.stored carries the stored fields and the receiver\'s pending count; a duplicate records nothing', async (t) => {
  const test = await buildTestApp(t, ON)
  const long = 'x'.repeat(150)
  await store(test, { receiver_uid: 'bob', msg_id: 'a-1', content: 'hello' })
  t.equal((await store(test, { receiver_uid: 'bob', msg_id: 'a-1', content: 'hello' })).statusCode, 200, 'a retry is a duplicate')
  await store(test, { receiver_uid: 'bob', msg_id: 'a-2', content: long, msg_type: 2 })
  const { events } = await all(test)
  t.strictSame(withoutIds(events), [
    { type: 'message.stored', occurred_at: '2026-11-27T04:36:55.123Z', receiver_uid: 'bob', device_id: null, sender_uid: 'alice', msg_id: 'a-1', seq: 1, pending_count: 1, msg_type: 1, content_preview: 'hello', devices: [] },
    { type: 'message.stored', occurred_at: '2026-11-27T04:36:55.123Z', receiver_uid: 'bob', device_id: null, sender_uid: 'alice', msg_id: 'a-2', seq: 2, pending_count: 2, msg_type: 2, content_preview: 'x'.repeat(100), devices: [] }
  ])
})

feedTest('a batch records one message.stored per new message, each with the count right after it', async (t) => {
  const test = await buildTestApp(t, ON)
  const messages = ['b-1', 'b-2', 'b-3'].map((msgId) => newMessage({ receiver_uid: 'bob', msg_id: msgId }))
  await test.call({ method: 'POST', url: '/v1/messages/batch', payload: { messages: [...messages, messages[0]] } })
  const { events } = await all(test)
  t.strictSame(events.map((event) => [event.type, event.msg_id, event.pending_count]), [
    ['message.stored', 'b-1', 1], ['message.stored', 'b-2', 2], ['message.stored', 'b-3', 3]
  ])
})

feedTest('message.delivered per message and device: by ids, by up_to_seq and by DELETE', async (t) => {
  const test = await buildTestApp(t, ON)
  for (const msgId of ['d-1', 'd-2', 'd-3', 'd-4']) await store(test, { receiver_uid: 'bob', msg_id: msgId })
  const { cursor } = await all(test)
  await test.call({ method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['d-1'] } })
  await test.call({ method: 'POST', url: '/v1/receivers/bob/acks', payload: { up_to_seq: 3 } })
  await test.call({ method: 'DELETE', url: '/v1/receivers/bob/messages/d-4' })
  const { events } = await all(test, cursor)
  t.strictSame(events.map((event) => [event.type, event.device_id, event.msg_id, event.seq, event.pending_count]), [
    ['message.delivered', null, 'd-1', 1, 3],
    ['message.delivered', null, 'd-2', 2, 2],
    ['message.delivered', null, 'd-3', 3, 1],
    ['message.delivered', null, 'd-4', 4, 0]
  ])
  t.notOk('msg_type' in (events[0] as object), 'only message.stored carries the stored fields')

  // With devices: one event per device that acks, with that device's count.
  for (const device of ['phone', 'laptop']) await test.call({ method: 'PUT', url: `/v1/receivers/dana/devices/${device}` })
  const before = (await all(test, cursor)).cursor
  await store(test, { receiver_uid: 'dana', msg_id: 'e-1' })
  await store(test, { receiver_uid: 'dana', msg_id: 'e-2' })
  const stored = await all(test, before)
  t.strictSame(stored.events.map((event) => [event.type, event.msg_id, event.pending_count, event.devices]), [
    ['message.stored', 'e-1', 1, ['phone', 'laptop']], ['message.stored', 'e-2', 2, ['phone', 'laptop']]
  ])
  await test.call({ method: 'POST', url: '/v1/receivers/dana/acks', payload: { device_id: 'laptop', up_to_seq: 2 } })
  await test.call({ method: 'DELETE', url: '/v1/receivers/dana/messages/e-1?device_id=phone' })
  const acked = await all(test, stored.cursor)
  t.strictSame(acked.events.map((event) => [event.type, event.device_id, event.msg_id, event.pending_count]), [
    ['message.delivered', 'laptop', 'e-1', 1], ['message.delivered', 'laptop', 'e-2', 0], ['message.delivered', 'phone', 'e-1', 1]
  ])
})

feedTest('message.expired per message and device it was pending for, at its expiry time: by a write that purges, and by the sweep', async (t) => {
  const test = await buildTestApp(t, ON)
  await store(test, { receiver_uid: 'bob', msg_id: 'x-1', ttl_seconds: 1 })
  for (const device of ['phone', 'laptop']) await test.call({ method: 'PUT', url: `/v1/receivers/dana/devices/${device}` })
  await store(test, { receiver_uid: 'dana', msg_id: 'y-1', ttl_seconds: 2 })
  await store(test, { receiver_uid: 'dana', msg_id: 'y-2' })
  const { cursor } = await all(test)
  test.clock.advance(3000)
  await store(test, { receiver_uid: 'bob', msg_id: 'x-2' })
  await test.app.messages.sweep()
  const { events } = await all(test, cursor)
  t.strictSame(events.map((event) => [event.type, event.receiver_uid, event.device_id, event.msg_id, event.occurred_at, event.pending_count]), [
    ['message.expired', 'bob', null, 'x-1', '2026-11-27T04:36:56.123Z', 0],
    ['message.stored', 'bob', null, 'x-2', '2026-11-27T04:36:58.123Z', 1],
    ['message.expired', 'dana', 'phone', 'y-1', '2026-11-27T04:36:57.123Z', 1],
    ['message.expired', 'dana', 'laptop', 'y-1', '2026-11-27T04:36:57.123Z', 1]
  ])
})

feedTest('message.dropped by drop_oldest, and message.unlinked when a device goes', async (t) => {
  const test = await buildTestApp(t, { ...ON, MAX_PENDING_PER_RECEIVER: '2', OVERFLOW_POLICY: 'drop_oldest' })
  for (const device of ['phone', 'laptop']) await test.call({ method: 'PUT', url: `/v1/receivers/dana/devices/${device}` })
  for (const msgId of ['p-1', 'p-2']) await store(test, { receiver_uid: 'dana', msg_id: msgId })
  await test.call({ method: 'POST', url: '/v1/receivers/dana/acks', payload: { device_id: 'phone', msg_ids: ['p-2'] } })
  const { cursor } = await all(test)
  await store(test, { receiver_uid: 'dana', msg_id: 'p-3' })
  await test.call({ method: 'DELETE', url: '/v1/receivers/dana/devices/laptop' })
  const { events } = await all(test, cursor)
  t.strictSame(events.map((event) => [event.type, event.device_id, event.msg_id, event.pending_count]), [
    ['message.dropped', 'phone', 'p-1', 0],
    ['message.dropped', 'laptop', 'p-1', 1],
    ['message.stored', null, 'p-3', 2],
    ['message.unlinked', 'laptop', 'p-2', 0],
    ['message.unlinked', 'laptop', 'p-3', 0]
  ])
})

feedTest('message.superseded and message.recalled: one per message, device_id null, the receiver\'s count after; a recall that removes nothing records nothing', async (t) => {
  const test = await buildTestApp(t, ON)
  await store(test, { receiver_uid: 'bob', msg_id: 'c-1' })
  await store(test, { receiver_uid: 'bob', msg_id: 't-1', collapse_key: 'typing' })
  const { cursor } = await all(test)
  t.equal((await store(test, { receiver_uid: 'bob', msg_id: 't-2', collapse_key: 'typing' })).statusCode, 201, 't-2 replaces t-1')
  const recall = { method: 'POST' as const, url: '/v1/receivers/bob/messages/c-1/recall', payload: { sender_uid: 'alice' } }
  t.match((await test.call(recall)).json(), { state: 'recalled' })
  t.match((await test.call(recall)).json(), { state: 'recalled' }, 'recalled again: the same answer, nothing removed')
  const { events } = await all(test, cursor)
  t.strictSame(events.map((event) => [event.type, event.device_id, event.sender_uid, event.msg_id, event.seq, event.pending_count]), [
    ['message.superseded', null, 'alice', 't-1', 2, 1],
    ['message.stored', null, 'alice', 't-2', 3, 2],
    ['message.recalled', null, 'alice', 'c-1', 1, 1]
  ])
})

feedTest('receiver.erased: the receiver\'s other events go with it, and one event with no message records the erasure', async (t) => {
  const test = await buildTestApp(t, ON)
  await store(test, { receiver_uid: 'bob', msg_id: 'x-1' })
  await store(test, { receiver_uid: 'carol', msg_id: 'y-1' })
  await test.call({ method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['x-1'] } })
  // The sweep lists the events so far under their receivers (SQLite); the next is recorded after it, not listed yet.
  await test.app.messages.sweep()
  await store(test, { receiver_uid: 'bob', msg_id: 'x-2' })
  const erased = await test.call({ method: 'DELETE', url: '/v1/receivers/bob' })
  t.strictSame(erased.json(), { messages: 1, tombstones: 1, devices: 0 })
  const { events } = await all(test)
  t.strictSame(events.map((event) => [event.type, event.receiver_uid, event.device_id, event.sender_uid, event.msg_id, event.seq, event.pending_count]), [
    ['message.stored', 'carol', null, 'alice', 'y-1', 1, 1],
    ['receiver.erased', 'bob', null, null, null, null, 0]
  ])
})

feedTest('no event for a transaction that rolled back', async (t) => {
  const test = await buildTestApp(t, ON)
  // The store's transaction fails after everything in it ran, the events' insert included.
  const { store: backend } = test.app
  const transaction = backend.transaction.bind(backend)
  backend.transaction = async (fn, lane) => await transaction(async (tx) => {
    await fn(tx)
    throw new Error('the commit fails')
  }, lane)
  t.equal((await store(test, { receiver_uid: 'bob', msg_id: 'r-1' })).statusCode, 500)
  backend.transaction = transaction
  await store(test, { receiver_uid: 'bob', msg_id: 'r-2' })
  const { events } = await all(test)
  t.strictSame(events.map((event) => event.msg_id), ['r-2'])
})

feedTest('the feed pages by cursor and limit, and refuses cursors it did not issue here', async (t) => {
  const test = await buildTestApp(t, ON)
  for (let i = 1; i <= 5; i++) await store(test, { receiver_uid: 'bob', msg_id: `c-${i}` })
  const first = await feed(test, '?limit=2')
  t.strictSame(first.events.map((event) => event.msg_id), ['c-1', 'c-2'])
  t.equal(first.has_more, true)
  t.equal(first.missed, false)
  const second = await feed(test, `?limit=3&cursor=${first.next_cursor}`)
  t.strictSame(second.events.map((event) => event.msg_id), ['c-3', 'c-4', 'c-5'])
  t.equal(second.has_more, false)
  const empty = await feed(test, `?cursor=${second.next_cursor}`)
  t.strictSame(empty.events, [])
  t.equal(empty.next_cursor, second.next_cursor, 'an empty page resumes from where it started')
  t.equal((await feed(test)).events.length, 5, 'limit defaults to 100')

  for (const query of ['?limit=0', '?limit=1001', '?wait_seconds=31', '?cursor=nonsense', `?cursor=${first.next_cursor.slice(0, -2)}AA`,
    `?cursor=${Buffer.from('["e1","0:0"]').toString('base64url')}.${first.next_cursor.split('.')[1] ?? ''}`]) {
    const answer = await test.call({ method: 'GET', url: `/v1/events${query}`, headers: FEED })
    t.equal(answer.statusCode, 400, query)
    t.match(answer.json(), { statusCode: 400, code: /^(FST_ERR_VALIDATION|INVALID_CURSOR)$/ })
  }

  // Another database signs with another key: its cursors are refused here.
  const other = await buildTestApp(t, ON)
  await store(other, { receiver_uid: 'bob', msg_id: 'o-1' })
  const foreign = (await feed(other)).next_cursor
  const answer = await test.call({ method: 'GET', url: `/v1/events?cursor=${foreign}`, headers: FEED })
  t.equal(answer.statusCode, 400)
  t.equal(answer.json<{ code: string }>().code, 'INVALID_CURSOR')
})

feedTest('the feed needs the events scope, and answers EVENTS_OFF when events are off', async (t) => {
  const test = await buildTestApp(t, ON)
  const gateway = await test.call({ method: 'GET', url: '/v1/events', headers: bearer('gateway:gateway-secret-1:read+ack') })
  t.equal(gateway.statusCode, 403)
  t.equal(gateway.json<{ code: string }>().code, 'FORBIDDEN')
  const off = await buildTestApp(t, { API_KEYS: `${API_KEYS},${FEED_KEY}` })
  await store(off, { receiver_uid: 'bob' })
  const answer = await off.call({ method: 'GET', url: '/v1/events', headers: FEED })
  t.equal(answer.statusCode, 404)
  t.equal(answer.json<{ code: string }>().code, 'EVENTS_OFF')
  const malformed = await off.call({ method: 'GET', url: '/v1/events?cursor=%ED%A0%80', headers: FEED })
  t.equal(malformed.json<{ code: string }>().code, 'INVALID_CURSOR', 'a malformed cursor is a bad request, events or not')
})

feedTest('wait_seconds holds an empty page until an event commits', async (t) => {
  const test = await buildTestApp(t, ON)
  const { cursor } = await all(test)
  const started = Date.now()
  const held = feed(test, `?wait_seconds=5&cursor=${cursor}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  await store(test, { receiver_uid: 'bob', msg_id: 'w-1' })
  const page = await held
  t.strictSame(page.events.map((event) => event.msg_id), ['w-1'])
  t.ok(Date.now() - started < 4000, 'answered when the store committed, not when the time was up')
})

feedTest('a waiting request whose events are held back behind an older transaction is answered when that transaction ends', { skip: TEST_STORE !== 'postgres' && 'the horizon is PostgreSQL\'s' }, async (t) => {
  const test = await buildTestApp(t, ON)
  const { cursor } = await all(test)
  // Another client's transaction with an xid, as another application's on the same server would be: the feed serves
  // nothing committed after it began until it ends, and its end announces nothing to the service.
  const other = new pg.Client({ connectionString: test.config.database.databaseUrl })
  await other.connect()
  t.teardown(async () => { await other.end() })
  await other.query('BEGIN')
  await other.query('SELECT pg_current_xact_id()')
  t.equal((await store(test, { receiver_uid: 'bob', msg_id: 'h-1' })).statusCode, 201)
  // After the store and its notification: nothing wakes this request, it must look again by itself.
  const answer = test.call({ method: 'GET', url: `/v1/events?wait_seconds=20&cursor=${cursor}`, headers: FEED })
  await new Promise((resolve) => setTimeout(resolve, 300))
  await other.query('COMMIT')
  // The horizon is the cluster's: a transaction of another test file running now holds these events back as long
  // (once 6.4 s in CI). Counted from when the horizon has passed both.
  await horizonPassed(test.config.database.databaseUrl)
  const ended = Date.now()
  const page = (await answer).json<Page>()
  t.strictSame(page.events.map((event) => event.msg_id), ['h-1'])
  t.ok(Date.now() - ended < 2000, `answered ${Date.now() - ended} ms after the older transaction ended, not when the 20 s were up`)
})

feedTest('retention: the sweep deletes old events, and a cursor before them has missed some', async (t) => {
  const test = await buildTestApp(t, { ...ON, EVENT_RETENTION_SECONDS: '60' })
  await store(test, { receiver_uid: 'bob', msg_id: 'k-1' })
  const { cursor } = await all(test)
  await store(test, { receiver_uid: 'bob', msg_id: 'k-2' })
  test.clock.advance(61_000)
  await store(test, { receiver_uid: 'bob', msg_id: 'k-3' })
  // Retention deletes only below the horizon, which a transaction running in any database of the server (another
  // test file's) holds back: the sweep waits until it has passed what was written here, as the feed's reads do.
  await horizonPassed(test.config.database.databaseUrl)
  await test.app.messages.sweep()
  const page = await feed(test, `?cursor=${cursor}`)
  t.strictSame(page.events.map((event) => event.msg_id), ['k-3'])
  // The erasure's list of a receiver's events (SQLite) forgets what retention deleted, and still finds the rest.
  await test.call({ method: 'DELETE', url: '/v1/receivers/bob' })
  t.strictSame((await feed(test)).events.map((event) => event.type), ['receiver.erased'])
  t.equal(page.missed, true, 'k-2 was deleted before this consumer read it')
  t.equal((await feed(test)).missed, false, 'no cursor: from the oldest kept')
  t.equal((await feed(test, `?cursor=${page.next_cursor}`)).missed, false)
})


feedTest('offline_messages_events_total counts each type once its transaction committed', async (t) => {
  const test = await buildTestApp(t, ON)
  await store(test, { receiver_uid: 'bob', msg_id: 'n-1' })
  await store(test, { receiver_uid: 'bob', msg_id: 'n-2' })
  await test.call({ method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['n-1'] } })
  const text = (await test.call({ method: 'GET', url: '/metrics' })).body
  t.match(text, /^offline_messages_events_total\{type="message\.stored"\} 2$/m)
  t.match(text, /^offline_messages_events_total\{type="message\.delivered"\} 1$/m)
})

feedTest('with EVENTS=on, a store adds one statement, the insert of its events, or on PostgreSQL none when they give all', async (t) => {
  const on = await buildTestApp(t, ON)
  const off = await buildTestApp(t)
  const cost = async (test: TestApp, receiverUid: string, msgId: string): Promise<number> => {
    const before = test.app.store.statementCounts().statements
    t.equal((await store(test, { receiver_uid: receiverUid, msg_id: msgId })).statusCode, 201)
    return test.app.store.statementCounts().statements - before
  }
  for (const test of [on, off]) {
    await cost(test, 'bob', 's-0')
    await test.call({ method: 'PUT', url: '/v1/receivers/dana/devices/phone' })
    await cost(test, 'dana', 's-0')
  }
  // Without devices the domain knows each event's every field: PostgreSQL sends them with the write-back
  // (SQL.writeBackEvents), SQLite inserts them one statement each.
  t.equal(await cost(on, 'bob', 's-1'), await cost(off, 'bob', 's-1') + (TEST_STORE === 'postgres' ? 0 : 1), 'a receiver without devices')
  // With one, the store names the stored message's devices: a statement of its own after the write-back, on both.
  t.equal(await cost(on, 'dana', 's-1'), await cost(off, 'dana', 's-1') + 1, 'a receiver with a device')
  const stored = (await all(on)).events.filter((event) => event.msg_id === 's-1')
  t.strictSame(stored.map((event) => [event.receiver_uid, event.pending_count, event.devices]), [['bob', 2, []], ['dana', 2, ['phone']]])
})

feedTest('an event keeps any text as it was given, and an event whose insert fails commits nothing of its change', async (t) => {
  const on = await buildTestApp(t, ON)
  const content = `it's "quoted" \\ back{slash}, {NULL}, NULL; COMMIT; $1 é 😀\n\t'');--`
  await store(on, { receiver_uid: 'carol', msg_id: 'q-1', content })
  const stored = (await all(on)).events.find((event) => event.msg_id === 'q-1')
  t.equal(stored?.content_preview, content)

  // The rest reaches the database from outside the service, through a second connection: PostgreSQL's server. (SQLite's
  // insert is a statement like the others in the same synchronous transaction: "no event for a transaction that rolled
  // back" above covers it.)
  if (TEST_STORE !== 'postgres') return
  // A trigger refuses the event of one message: its store fails and leaves nothing, and the connections go on.
  const client = new pg.Client({ connectionString: on.config.database.databaseUrl })
  await client.connect()
  t.teardown(async () => { await client.end() })
  await client.query("CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.msg_id LIKE 'boom-%' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$")
  await client.query('CREATE TRIGGER refuse_boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_boom()')
  for (let i = 0; i < 3; i++) {
    t.ok((await store(on, { receiver_uid: 'carol', msg_id: `boom-${i}` })).statusCode >= 500, `boom-${i}: the store fails`)
    t.equal((await store(on, { receiver_uid: 'carol', msg_id: `fine-${i}` })).statusCode, 201, `fine-${i}: the next store commits`)
  }
  const kept = await client.query("SELECT msg_id FROM messages WHERE receiver_uid = 'carol' ORDER BY seq")
  t.strictSame(kept.rows.map((row: { msg_id: string }) => row.msg_id), ['q-1', 'fine-0', 'fine-1', 'fine-2'], 'no message whose event failed')
  t.strictSame((await all(on)).events.filter((event) => event.receiver_uid === 'carol').map((event) => event.msg_id), ['q-1', 'fine-0', 'fine-1', 'fine-2'])
})

t.test('on a store routed by shard (Citus: one with write lanes), EVENTS=on stops the start naming EVENTS and closes the store', async (t) => {
  let closed = 0
  // The Citus backend is the one whose writes go by lanes (src/store/citus/store.ts); this wraps the test's own store so.
  const routedByShard = async (options: DatabaseOptions): Promise<Store> => {
    const store = await createStore(options)
    return { ...store, writeLanes: { concurrency: 4, laneOf: (receiverUid: string) => receiverUid.slice(0, 1) }, close: async () => { closed++; await store.close() } }
  }
  await t.rejects(buildTestApp(t, ON, undefined, routedByShard), { name: 'ConfigError', variable: 'EVENTS', message: /not supported on a Citus database/ })
  t.equal(closed, 1, 'the store it opened is closed')
  const off = await buildTestApp(t, {}, undefined, routedByShard)
  t.equal((await store(off, { receiver_uid: 'bob', msg_id: 'c-1' })).statusCode, 201, 'with EVENTS=off it starts and stores')
})

t.test('EVENTS is off unless set to on, events are kept 7 days, and a bad value names the variable and the allowed values', async (t) => {
  const defaults = loadConfig({})
  t.equal(defaults.rules.events, false)
  t.equal(defaults.rules.eventRetentionSeconds, 604800)
  t.equal(loadConfig({ EVENTS: 'on', EVENT_RETENTION_SECONDS: '60' }).rules.events, true)
  t.throws(() => loadConfig({ EVENTS: 'yes' }), new ConfigError('EVENTS', 'must be one of off, on'))
  t.throws(() => loadConfig({ EVENT_RETENTION_SECONDS: '0' }), { name: 'ConfigError', variable: 'EVENT_RETENTION_SECONDS' })
  t.throws(() => loadConfig({ API_KEYS: 'feed:feed-secret-1:event' }), { message: /scopes are write, read, ack, events/ })
})
