// A store that names write lanes (Citus: the shard of each receiver) gets transactions that each stay in one lane,
// for stores, batches spanning lanes and acks alike, with the same answers as without.
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import type { MessageEvents } from '../../src/domain/model.js'
import { createMessageService } from '../../src/domain/service.js'
import { createStore } from '../../src/store/backends.js'
import type { Store, StoreTx } from '../../src/store/types.js'
import { API_KEYS } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'

interface Teardown { teardown (fn: () => unknown): void }

const NODES: Record<string, string> = { 'r-0': 'A', 'r-1': 'B', 'r-2': 'A', 'r-3': 'B', 'r-4': 'B', 'r-5': 'A', 'r-6': 'A', 'r-7': 'B', 'r-8': 'A', 'r-9': 'B' }
const nodeOf = (receiverUid: string): string => NODES[receiverUid] ?? '?'
const noEvents: MessageEvents = { stored () {}, duplicates () {}, acked () {}, expired () {}, dropped () {}, superseded () {}, recalled () {}, erased () {}, wakeups () {} }

/** The store under test with the stub partition, recording the receivers each transaction locked. */
async function partitionedStore (t: Teardown): Promise<{ store: Store, locked: string[][] }> {
  const config = loadConfig({ API_KEYS, LOG_LEVEL: 'silent', DATABASE_URL: await createTestDatabase(t) })
  const base = await createStore(config.database)
  t.teardown(() => base.close())
  const locked: string[][] = []
  const store: Store = Object.create(base, {
    writeLanes: { value: { ...base.writeLanes, laneOf: nodeOf } },
    transaction: {
      value: async <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => await base.transaction(async (tx) => {
        const receivers: string[] = []
        locked.push(receivers)
        const recording: StoreTx = Object.create(tx, {
          lockReceivers: { value: async (uids: readonly string[], options?: { create?: boolean }) => { receivers.push(...uids); return await tx.lockReceivers(uids, options) } }
        })
        return await fn(recording)
      })
    }
  })
  return { store, locked }
}

t.test('with a partition per receiver, concurrent stores, spanning batches and acks commit each within one partition', async (t) => {
  const { store, locked } = await partitionedStore(t)
  const config = loadConfig({ API_KEYS, LOG_LEVEL: 'silent', DATABASE_URL: 'sqlite::memory:' })
  const service = createMessageService(store, config.rules, noEvents)
  const message = (r: number, id: string) => ({ receiverUid: `r-${r}`, senderUid: 'alice', msgId: id, msgType: 1, content: id })

  const singles = Array.from({ length: 40 }, (_, i) => service.storeOne(message(i % 10, `s-${i}`)))
  const batch = service.storeMany(Array.from({ length: 10 }, (_, r) => message(9 - r, `b-${r}`)))
  t.same((await Promise.all(singles)).map((outcome) => [outcome.status, outcome.msgId]), Array.from({ length: 40 }, (_, i) => ['stored', `s-${i}`]))
  t.same((await batch).map((outcome) => [outcome.status, outcome.msgId, outcome.message?.receiverUid]),
    Array.from({ length: 10 }, (_, r) => ['stored', `b-${r}`, `r-${9 - r}`]), 'the spanning batch answered whole, in its input order')
  t.ok(locked.length < 41, `${locked.length} transactions for 41 calls: still grouped`)

  const acks = Array.from({ length: 10 }, (_, r) => service.ack(`r-${r}`, { kind: 'up-to', upToSeq: 100 }))
  t.same(await Promise.all(acks), Array(10).fill(5), 'each ack took its receiver\'s five messages')
  for (const receivers of locked) t.equal(new Set(receivers.map(nodeOf)).size, 1, `a transaction on ${receivers.join(', ')}: one partition`)
})
