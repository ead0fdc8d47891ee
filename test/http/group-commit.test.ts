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
