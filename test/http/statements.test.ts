// What one request costs the database, endpoint by endpoint, on the store under test: the SQL statements it sends and
// the network round trips it waits for, as the README's table states them. A change that adds a statement to a hot
// path fails here until the table (and this file) say so.
import t from 'tap'
import type { InjectOptions } from 'fastify'
import { TEST_STORE } from '../helpers/database.js'
import { buildTestApp, newMessage, type TestApp } from '../helpers/app.js'

interface Cost { statements: number, roundTrips: number }

/** Per endpoint and store: [statements, round trips] of one request alone (no other request shares its transaction). */
const EXPECTED: Record<string, Record<typeof TEST_STORE, [number, number]>> = {
  'store, a new receiver': { sqlite: [11, 0], postgres: [6, 3] },
  'store, a known receiver': { sqlite: [9, 0], postgres: [6, 3] },
  'store, a retry (duplicate)': { sqlite: [7, 0], postgres: [5, 2] },
  'batch of 10 for 3 receivers': { sqlite: [56, 0], postgres: [6, 3] },
  summary: { sqlite: [2, 0], postgres: [1, 1] },
  page: { sqlite: [1, 0], postgres: [1, 1] },
  'page of one sender': { sqlite: [1, 0], postgres: [1, 1] },
  'one message': { sqlite: [1, 0], postgres: [1, 1] },
  'ack by ids (2)': { sqlite: [10, 0], postgres: [5, 3] },
  'ack up to a seq': { sqlite: [9, 0], postgres: [5, 3] },
  'ack up to a seq of one sender': { sqlite: [9, 0], postgres: [5, 3] },
  'DELETE one message': { sqlite: [8, 0], postgres: [5, 3] },
  'ack of an unknown receiver': { sqlite: [3, 0], postgres: [3, 2] },
  'batch for 3 receivers with expired messages': { sqlite: [38, 0], postgres: [9, 6] }
}

/**
 * On Citus, what a group sends beyond these: it holds its node's shards (citus/shards.ts), so its statements are these
 * on the shards' tables (one per shard its receivers are of), after an opening of two statements (the lock on the
 * shards' metadata, the check of their placement) that go in BEGIN's round trip; its first statements, which go with
 * BEGIN elsewhere, then take a round trip of their own.
 */
const OPENING_ON_CITUS = 2
/** The endpoints that only read: no transaction, no opening. */
const READS = new Set(['summary', 'page', 'page of one sender', 'one message', 'summary of a device', 'page of a device', 'one message of a device', 'list the devices'])

/** [statements, round trips] of one group: on Citus with its opening, when it writes. */
function perGroup (test: TestApp, endpoint: string, [statements, roundTrips]: [number, number]): [number, number] {
  return test.app.store.writeLanes.laneOf === undefined || READS.has(endpoint) ? [statements, roundTrips] : [statements + OPENING_ON_CITUS, roundTrips + 1]
}

/**
 * The groups a request for these receivers runs as, each as the number of its receivers whose statements it may cut
 * by shard: on Citus one per node (the store's write lanes), each costing the round trips one group does; elsewhere
 * one group, never cut (1).
 */
function groupsOf (test: TestApp, receivers: readonly string[]): number[] {
  const { laneOf } = test.app.store.writeLanes
  if (laneOf === undefined) return [1]
  const counts = new Map<string, number>()
  for (const receiver of receivers) counts.set(laneOf(receiver), (counts.get(laneOf(receiver)) ?? 0) + 1)
  return [...counts.values()]
}

async function cost (test: TestApp, options: InjectOptions, status: number): Promise<Cost> {
  const before = test.app.store.statementCounts()
  const answer = await test.call(options)
  if (answer.statusCode !== status) throw new Error(`${options.method ?? ''} ${String(options.url)} answered ${answer.statusCode}: ${answer.body}`)
  const after = test.app.store.statementCounts()
  return { statements: after.statements - before.statements, roundTrips: after.roundTrips - before.roundTrips }
}

t.test('each endpoint sends the statements and waits for the round trips the README states', async (t) => {
  const test = await buildTestApp(t)
  const store = (body: Record<string, unknown>) => ({ method: 'POST' as const, url: '/v1/messages', payload: newMessage(body) })
  const measured: Record<string, Cost> = {}
  measured['store, a new receiver'] = await cost(test, store({ receiver_uid: 'bob', msg_id: 'b-1' }), 201)
  measured['store, a known receiver'] = await cost(test, store({ receiver_uid: 'bob', msg_id: 'b-2' }), 201)
  measured['store, a retry (duplicate)'] = await cost(test, store({ receiver_uid: 'bob', msg_id: 'b-2', content: (await test.call({ method: 'GET', url: '/v1/receivers/bob/messages/b-2' })).json<{ content: string }>().content }), 200)
  const messages = Array.from({ length: 10 }, (_, i) => newMessage({ receiver_uid: `r-${i % 3}`, sender_uid: i % 2 === 0 ? 'alice' : 'carol' }))
  measured['batch of 10 for 3 receivers'] = await cost(test, { method: 'POST', url: '/v1/messages/batch', payload: { messages } }, 200)
  for (let i = 3; i <= 6; i++) await test.call(store({ receiver_uid: 'bob', msg_id: `b-${i}`, sender_uid: i % 2 === 0 ? 'alice' : 'carol' }))
  measured.summary = await cost(test, { method: 'GET', url: '/v1/receivers/bob/senders' }, 200)
  measured.page = await cost(test, { method: 'GET', url: '/v1/receivers/bob/messages' }, 200)
  measured['page of one sender'] = await cost(test, { method: 'GET', url: '/v1/receivers/bob/messages?sender_uid=carol' }, 200)
  measured['one message'] = await cost(test, { method: 'GET', url: '/v1/receivers/bob/messages/b-1' }, 200)
  measured['ack by ids (2)'] = await cost(test, { method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['b-1', 'b-2'] } }, 200)
  measured['ack up to a seq'] = await cost(test, { method: 'POST', url: '/v1/receivers/bob/acks', payload: { up_to_seq: 3 } }, 200)
  measured['ack up to a seq of one sender'] = await cost(test, { method: 'POST', url: '/v1/receivers/bob/acks', payload: { up_to_seq: 5, sender_uid: 'carol' } }, 200)
  measured['DELETE one message'] = await cost(test, { method: 'DELETE', url: '/v1/receivers/bob/messages/b-4' }, 204)
  measured['ack of an unknown receiver'] = await cost(test, { method: 'POST', url: '/v1/receivers/nobody/acks', payload: { up_to_seq: 3 } }, 200)
  // Each receiver's expired messages go in the group's one purge statement, however many receivers are due.
  await test.call({ method: 'POST', url: '/v1/messages/batch', payload: { messages: ['x-0', 'x-1', 'x-2'].map((receiver) => newMessage({ receiver_uid: receiver, ttl_seconds: 1 })) } })
  test.clock.advance(2000)
  const later = ['x-0', 'x-1', 'x-2'].map((receiver) => newMessage({ receiver_uid: receiver }))
  measured['batch for 3 receivers with expired messages'] = await cost(test, { method: 'POST', url: '/v1/messages/batch', payload: { messages: later } }, 200)
  t.comment(JSON.stringify(measured))
  const groups: Record<string, number[]> = {
    'batch of 10 for 3 receivers': groupsOf(test, ['r-0', 'r-1', 'r-2']),
    'batch for 3 receivers with expired messages': groupsOf(test, ['x-0', 'x-1', 'x-2'])
  }
  for (const [endpoint, expected] of Object.entries(EXPECTED)) {
    const perEach = perGroup(test, endpoint, expected[TEST_STORE])
    const ofGroups = groups[endpoint] ?? [1]
    const roundTrips = perEach[1] * ofGroups.length
    // A group on Citus whose receivers are of several shards of its node cuts a statement naming them into one per
    // shard, all in the statement's round trip: at most one per receiver, of each statement but BEGIN, COMMIT and the
    // opening.
    const fewest = perEach[0] * ofGroups.length
    const naming = perEach[0] - 2 - OPENING_ON_CITUS
    const most = ofGroups.reduce((sum, receivers) => sum + perEach[0] + naming * (receivers - 1), 0)
    const { statements } = measured[endpoint] ?? { statements: -1 }
    if (most === fewest) t.strictSame(measured[endpoint], { statements: fewest, roundTrips }, `${endpoint}: ${fewest} statements, ${roundTrips} round trips on ${TEST_STORE}`)
    else {
      t.equal(measured[endpoint]?.roundTrips, roundTrips, `${endpoint}: ${roundTrips} round trips on ${TEST_STORE}, a group per node`)
      t.ok(statements >= fewest && statements <= most, `${endpoint}: ${statements} statements, from ${fewest} to ${most} on ${TEST_STORE}, as its groups' receivers are of one shard or each of its own`)
    }
  }
})

/** The same with three devices: a store writes three summary rows but no more statements; a device's read is one statement. */
const EXPECTED_WITH_DEVICES: Record<string, Record<typeof TEST_STORE, [number, number]>> = {
  'register a device': { sqlite: [8, 0], postgres: [8, 6] },
  'store for 3 devices': { sqlite: [11, 0], postgres: [6, 3] },
  'summary of a device': { sqlite: [4, 0], postgres: [1, 1] },
  'page of a device': { sqlite: [2, 0], postgres: [1, 1] },
  'one message of a device': { sqlite: [2, 0], postgres: [1, 1] },
  'ack by ids (2) of a device': { sqlite: [10, 0], postgres: [6, 4] },
  'ack up to a seq of a device': { sqlite: [14, 0], postgres: [6, 4] },
  'list the devices': { sqlite: [2, 0], postgres: [2, 2] },
  'unregister a device': { sqlite: [15, 0], postgres: [7, 5] }
}

t.test('with devices, each endpoint sends the statements the README states', async (t) => {
  const test = await buildTestApp(t)
  const store = (body: Record<string, unknown>) => ({ method: 'POST' as const, url: '/v1/messages', payload: newMessage({ receiver_uid: 'dana', ...body }) })
  const measured: Record<string, Cost> = {}
  await test.call(store({ msg_id: 'd-0' }))
  for (const device of ['phone', 'laptop']) await test.call({ method: 'PUT', url: `/v1/receivers/dana/devices/${device}` })
  measured['register a device'] = await cost(test, { method: 'PUT', url: '/v1/receivers/dana/devices/browser' }, 201)
  measured['store for 3 devices'] = await cost(test, store({ msg_id: 'd-1' }), 201)
  for (let i = 2; i <= 5; i++) await test.call(store({ msg_id: `d-${i}`, sender_uid: i % 2 === 0 ? 'alice' : 'carol' }))
  measured['summary of a device'] = await cost(test, { method: 'GET', url: '/v1/receivers/dana/senders?device_id=laptop' }, 200)
  measured['page of a device'] = await cost(test, { method: 'GET', url: '/v1/receivers/dana/messages?device_id=laptop' }, 200)
  measured['one message of a device'] = await cost(test, { method: 'GET', url: '/v1/receivers/dana/messages/d-1?device_id=laptop' }, 200)
  measured['ack by ids (2) of a device'] = await cost(test, { method: 'POST', url: '/v1/receivers/dana/acks', payload: { device_id: 'laptop', msg_ids: ['d-1', 'd-2'] } }, 200)
  measured['ack up to a seq of a device'] = await cost(test, { method: 'POST', url: '/v1/receivers/dana/acks', payload: { device_id: 'phone', up_to_seq: 4 } }, 200)
  measured['list the devices'] = await cost(test, { method: 'GET', url: '/v1/receivers/dana/devices' }, 200)
  measured['unregister a device'] = await cost(test, { method: 'DELETE', url: '/v1/receivers/dana/devices/browser' }, 204)
  t.comment(JSON.stringify(measured))
  for (const [endpoint, expected] of Object.entries(EXPECTED_WITH_DEVICES)) {
    const [statements, roundTrips] = perGroup(test, endpoint, expected[TEST_STORE])
    t.strictSame(measured[endpoint], { statements, roundTrips }, `${endpoint}: ${statements} statements, ${roundTrips} round trips on ${TEST_STORE}`)
  }
})

/**
 * v1.2: a store with a collapse_key reads what it replaces (one statement more) and, when it replaces something,
 * deletes it (on SQLite a statement more; on PostgreSQL in the write-back's round trip, which the replaced message's
 * tombstone joins); a store without one sends what it did before (above). A recall reads its message with the summary
 * rows it corrects, and withdraws it in the write-back: on PostgreSQL the round trips of an ack. Erasure, for the record.
 */
const EXPECTED_V12: Record<string, Record<typeof TEST_STORE, [number, number]>> = {
  'store with a collapse_key, nothing to replace': { sqlite: [10, 0], postgres: [7, 4] },
  'store with a collapse_key that replaces one': { sqlite: [12, 0], postgres: [7, 4] },
  recall: { sqlite: [9, 0], postgres: [5, 3] },
  erase: { sqlite: [8, 0], postgres: [4, 3] }
}

/**
 * On Citus a withdrawal goes at once, not with the write-back (TxStatements.defersWithdrawals is false there: a
 * transaction may leave its shard's tables for Citus's shapes before its write-back): its statement, and before it
 * the group's writes so far when there are some (a store that replaces a message: the new message's insert).
 */
const WITHDRAWN_AT_ONCE_ON_CITUS: Record<string, number> = { 'store with a collapse_key that replaces one': 2, recall: 1 }

t.test('v1.2: collapse keys, recall and erasure send the statements stated here', async (t) => {
  const test = await buildTestApp(t, { API_KEYS: 'root:root-secret-1:write+read+ack+admin' })
  const as = { authorization: 'Bearer root-secret-1' }
  const store = (body: Record<string, unknown>) => ({ method: 'POST' as const, url: '/v1/messages', headers: as, payload: newMessage({ receiver_uid: 'erin', ...body }) })
  const measured: Record<string, Cost> = {}
  await test.call(store({ msg_id: 'e-0' }))
  measured['store with a collapse_key, nothing to replace'] = await cost(test, store({ msg_id: 'e-1', collapse_key: 'typing' }), 201)
  measured['store with a collapse_key that replaces one'] = await cost(test, store({ msg_id: 'e-2', collapse_key: 'typing' }), 201)
  measured.recall = await cost(test, { method: 'POST', url: '/v1/receivers/erin/messages/e-0/recall', headers: as, payload: { sender_uid: 'alice' } }, 200)
  measured.erase = await cost(test, { method: 'DELETE', url: '/v1/receivers/erin', headers: as }, 200)
  t.comment(JSON.stringify(measured))
  for (const [endpoint, expected] of Object.entries(EXPECTED_V12)) {
    const [grouped, groupedTrips] = perGroup(test, endpoint, expected[TEST_STORE])
    const atOnce = test.app.store.writeLanes.laneOf === undefined ? 0 : WITHDRAWN_AT_ONCE_ON_CITUS[endpoint] ?? 0
    const [statements, roundTrips] = [grouped + atOnce, groupedTrips + atOnce]
    t.strictSame(measured[endpoint], { statements, roundTrips }, `${endpoint}: ${statements} statements, ${roundTrips} round trips on ${TEST_STORE}`)
  }
})
