// Over HTTP, on the store under test: concurrent single stores share transactions, and each is answered with
// its own outcome after the commit.
import type { StoreTx } from '../../src/store/types.js'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

t.test('fifty concurrent single stores are written in a few transactions, each answered with its own message', async (t) => {
  const { app, call } = await buildTestApp(t)
  let transactions = 0
  const original = app.store.transaction.bind(app.store)
  app.store.transaction = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    transactions++
    return await original(fn)
  }
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => call({
    method: 'POST',
    url: '/v1/messages',
    payload: { receiver_uid: `gc-${i % 5}`, sender_uid: 'alice', msg_id: `gc-${i}`, msg_type: 1, content: `message ${i}` }
  })))
  t.same(answers.map((answer) => answer.statusCode), Array(50).fill(201), 'every store answered 201')
  t.same(answers.map((answer) => (answer.json() as { msg_id: string }).msg_id), Array.from({ length: 50 }, (_, i) => `gc-${i}`), 'each with its own message')
  t.ok(transactions >= 1 && transactions <= 5, `${transactions} transaction(s) for 50 stores`)
  for (let r = 0; r < 5; r++) {
    const page = (await call({ method: 'GET', url: `/v1/receivers/gc-${r}/messages` })).json() as { messages: Array<{ seq: number }> }
    t.same(page.messages.map((message) => message.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `gc-${r} holds its ten messages with seq 1..10`)
  }
})

t.test('concurrent acks share transactions, each answered with what it deleted, and nothing is deleted twice', async (t) => {
  const { app, call } = await buildTestApp(t)
  for (let r = 0; r < 5; r++) {
    const messages = Array.from({ length: 10 }, (_, i) => ({ receiver_uid: `ga-${r}`, sender_uid: i % 2 === 0 ? 'alice' : 'carol', msg_id: `ga-${r}-${i}`, msg_type: 1, content: `m ${i}` }))
    t.equal((await call({ method: 'POST', url: '/v1/messages/batch', payload: { messages } })).statusCode, 200)
  }
  let transactions = 0
  const original = app.store.transaction.bind(app.store)
  app.store.transaction = async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    transactions++
    return await original(fn)
  }
  // For each receiver: its ten messages acked one by one, the same ids again, and an up_to_seq ack of alice's.
  const acks = Array.from({ length: 5 }, (_, r) => [
    ...Array.from({ length: 10 }, (_, i) => ({ r, body: { msg_ids: [`ga-${r}-${i}`] } })),
    ...Array.from({ length: 10 }, (_, i) => ({ r, body: { msg_ids: [`ga-${r}-${i}`] } })),
    { r, body: { up_to_seq: 10, sender_uid: 'alice' } }
  ]).flat()
  const answers = await Promise.all(acks.map(({ r, body }) => call({ method: 'POST', url: `/v1/receivers/ga-${r}/acks`, payload: body })))
  t.same(answers.map((answer) => answer.statusCode), Array(acks.length).fill(200))
  const deleted = answers.map((answer) => (answer.json() as { deleted: number }).deleted)
  // The acks of one receiver may reach the group in any order: together they delete its ten messages exactly once.
  for (let r = 0; r < 5; r++) {
    const own = deleted.slice(r * 21, r * 21 + 21)
    t.equal(own.reduce((sum, n) => sum + n, 0), 10, `ga-${r}: ten messages deleted in all, none twice`)
    for (let i = 0; i < 10; i++) t.ok(own[i] === 0 || own[i] === 1, 'an ack of one id deletes at most one')
    t.same((await call({ method: 'GET', url: `/v1/receivers/ga-${r}/messages` })).json().messages, [])
  }
  t.ok(transactions >= 1 && transactions <= 10, `${transactions} transaction(s) for ${acks.length} acks`)
})
