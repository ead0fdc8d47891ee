// The store port's promises (src/store/types.ts), held against the store under test: this one file runs on SQLite and
// on PostgreSQL, so a rule that one store keeps and the other breaks fails here, below the HTTP and domain layers.
import t, { type Test } from 'tap'
import type { ReceiverState, RemovedMessage, StoredMessage, SummaryRow } from '../../src/domain/model.js'
import { createStore } from '../../src/store/backends.js'
import type { Store, StoreTx } from '../../src/store/types.js'
import { createTestDatabase, TEST_STORE } from '../helpers/database.js'

const NOW = Date.parse('2026-11-27T04:36:55.123Z')
const MINUTE = 60_000

async function openStore (t: Test): Promise<Store> {
  const databaseUrl = await createTestDatabase(t)
  const store = await createStore({ databaseUrl, poolMax: 4, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })
  t.teardown(() => store.close())
  return store
}

function message (receiverUid: string, seq: number, fields: Partial<StoredMessage> = {}): StoredMessage {
  return {
    receiverUid,
    seq,
    msgId: `m-${seq}`,
    senderUid: 'alice',
    msgType: 1,
    content: `hello ${seq}`,
    sendTime: NOW - 1000,
    storedAt: NOW,
    expiresAt: NOW + MINUTE,
    collapseKey: null,
    ...fields
  }
}

function summaryRow (receiverUid: string, senderUid: string, fields: Partial<SummaryRow> = {}): SummaryRow {
  return { receiverUid, reader: 0, senderUid, pendingCount: 0, last: null, sortSeq: 1, lostCount: 0, lostSeq: null, ...fields }
}

/** Stores messages as the domain does: lock the receiver, insert, and save its seq and count. */
async function seed (store: Store, receiverUid: string, messages: readonly StoredMessage[]): Promise<void> {
  await store.transaction(async (tx) => {
    const [receiver] = await tx.lockReceivers([receiverUid])
    if (receiver === undefined) throw new Error('no receiver row')
    await tx.insertMessages(messages.map((m) => ({ ...m, readers: 1 })))
    const expiries = messages.map((m) => m.expiresAt)
    await tx.saveReceivers([{
      receiverUid,
      lastSeq: Math.max(receiver.lastSeq, ...messages.map((m) => m.seq)),
      pendingCount: receiver.pendingCount + messages.length,
      nextExpiry: Math.min(receiver.nextExpiry ?? Infinity, ...expiries),
      devices: 0
    }])
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a committed transaction is read back exactly; a failed one leaves nothing, not even its receiver row', async (t) => {
  const store = await openStore(t)
  const failure = new Error('the domain changed its mind')
  await t.rejects(store.transaction(async (tx) => {
    await tx.lockReceivers(['bob'])
    await tx.insertMessages([{ ...message('bob', 1), readers: 1 }])
    throw failure
  }), failure)
  t.equal(await store.receiver('bob'), undefined, 'the receiver row of the failed transaction is gone')
  t.strictSame(await store.page({ receiverUid: 'bob', afterSeq: 0, limit: 10, now: NOW }), [])

  const stored = message('bob', 1, { content: 'größer 😀', msgType: 65535, sendTime: Date.parse('1999-12-31T23:59:59.999Z') })
  await seed(store, 'bob', [stored])
  t.strictSame(await store.receiver('bob'), { receiverUid: 'bob', lastSeq: 1, pendingCount: 1, nextExpiry: stored.expiresAt, devices: 0 })
  t.strictSame(await store.page({ receiverUid: 'bob', afterSeq: 0, limit: 10, now: NOW }), [stored], 'every field as written, times as numbers')
  t.strictSame(await store.findPendingLive('bob', 'm-1', NOW), stored)
})

t.test('two transactions that lock one receiver run one after the other, the second seeing what the first saved', async (t) => {
  const store = await openStore(t)
  const events: string[] = []
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const first = store.transaction(async (tx) => {
    const [receiver] = await tx.lockReceivers(['bob'])
    events.push(`first locked at seq ${receiver?.lastSeq ?? -1}`)
    await gate
    await tx.insertMessages([{ ...message('bob', 1), readers: 1 }])
    await tx.saveReceivers([{ receiverUid: 'bob', lastSeq: 1, pendingCount: 1, nextExpiry: NOW + MINUTE, devices: 0 }])
    events.push('first wrote seq 1')
  })
  while (events.length === 0) await sleep(5)
  const second = store.transaction(async (tx) => {
    const [receiver] = await tx.lockReceivers(['bob'])
    events.push(`second locked at seq ${receiver?.lastSeq ?? -1}`)
    await tx.saveReceivers([{ receiverUid: 'bob', lastSeq: (receiver?.lastSeq ?? 0) + 1, pendingCount: 2, nextExpiry: NOW + MINUTE, devices: 0 }])
  })
  await sleep(200)
  t.strictSame(events, ['first locked at seq 0'], 'the second waits while the first holds the receiver')
  release()
  await Promise.all([first, second])
  t.strictSame(events, ['first locked at seq 0', 'first wrote seq 1', 'second locked at seq 1'])
  t.equal((await store.receiver('bob'))?.lastSeq, 2, 'seq follows commit order')
})

const BOB_KEYS = { messageKeys: [['bob', 'm-1']] as Array<[string, string]>, senderKeys: [['bob', 'alice']] as Array<[string, string]> }

/**
 * A first transaction locks bob and waits; a second locks bob with BOB_KEYS' lookups, sent while the first holds the
 * lock; then the first goes on with `then` and commits: the second's `read` after its lock, once the first committed.
 */
async function lookupsBehindTheLock<T> (store: Store, then: (tx: StoreTx) => Promise<void>, read: (tx: StoreTx, receiver: ReceiverState | undefined) => Promise<T>): Promise<T> {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let held = false
  const first = store.transaction(async (tx) => {
    await tx.lockReceivers(['bob'])
    held = true
    await gate
    await then(tx)
  })
  while (!held) await sleep(5)
  const second = store.transaction(async (tx) => await read(tx, (await tx.lockReceivers(['bob'], { find: BOB_KEYS }))[0]))
  // The second's lock (and, on PostgreSQL, its lookups behind it) is sent now and waits for the first.
  await sleep(200)
  release()
  await first
  return await second
}

t.test('lookups given with the lock see what the lock\'s last holder committed, and answer the next lookup of those keys', async (t) => {
  const store = await openStore(t)
  const { lastSeq, found, sent, again, sentAgain } = await lookupsBehindTheLock(store, async (tx) => {
    await tx.insertMessages([{ ...message('bob', 1), readers: 1 }])
    await tx.saveSummaryRows([summaryRow('bob', 'alice', { pendingCount: 1, sortSeq: 1 })])
    await tx.saveReceivers([{ receiverUid: 'bob', lastSeq: 1, pendingCount: 1, nextExpiry: NOW + MINUTE, devices: 0 }])
  }, async (tx, receiver) => {
    const before = store.statementCounts().statements
    const found = await tx.findCopiesAndSummaryRows(BOB_KEYS.messageKeys, BOB_KEYS.senderKeys)
    const sent = store.statementCounts().statements - before
    const again = await tx.findCopiesAndSummaryRows(BOB_KEYS.messageKeys, BOB_KEYS.senderKeys)
    return { lastSeq: receiver?.lastSeq, found, sent, again, sentAgain: store.statementCounts().statements - before - sent }
  })
  t.equal(lastSeq, 1, 'locked after the first committed')
  t.strictSame(found.pending.map((m) => m.msgId), ['m-1'], 'the message the first stored while the second waited for the lock')
  t.strictSame(found.summaryRows.map((row) => row.pendingCount), [1], 'and the summary row it saved')
  t.strictSame(again, found, 'looked up once more: the same')
  if (TEST_STORE === 'postgres') {
    t.equal(sent, 0, 'the lookup of the keys given with the lock: read with it, no statement of its own')
    t.equal(sentAgain, 1, 'the next lookup of them: a statement of its own')
  }
})

t.test('lookups given with the lock see an erasure committed while they waited: nothing of the receiver, a new row', async (t) => {
  const store = await openStore(t)
  await seed(store, 'bob', [message('bob', 1)])
  await store.transaction(async (tx) => { await tx.saveSummaryRows([summaryRow('bob', 'alice', { pendingCount: 1, sortSeq: 1 })]) })
  const { receiver, found } = await lookupsBehindTheLock(store, async (tx) => { await tx.erase('bob') },
    async (tx, receiver) => ({ receiver, found: await tx.findCopiesAndSummaryRows(BOB_KEYS.messageKeys, BOB_KEYS.senderKeys) }))
  t.strictSame(receiver, { receiverUid: 'bob', lastSeq: 0, pendingCount: 0, nextExpiry: null, devices: 0 }, 'a row made anew')
  t.strictSame(found, { pending: [], tombstones: [], summaryRows: [] }, 'none of what the erasure removed')
})

t.test('a page is seq ascending after its cursor, of one sender when asked, bounded, without expired messages', async (t) => {
  const store = await openStore(t)
  await seed(store, 'bob', [
    message('bob', 1), message('bob', 2, { senderUid: 'carol' }), message('bob', 3, { expiresAt: NOW }),
    message('bob', 4), message('bob', 5, { senderUid: 'carol' })
  ])
  await seed(store, 'eve', [message('eve', 1)])
  const seqs = async (query: { senderUid?: string, afterSeq: number, limit: number }) =>
    (await store.page({ receiverUid: 'bob', now: NOW, ...query })).map((m) => m.seq)
  t.strictSame(await seqs({ afterSeq: 0, limit: 10 }), [1, 2, 4, 5], 'seq 3 expires at now: not pending')
  t.strictSame(await seqs({ afterSeq: 1, limit: 2 }), [2, 4])
  t.strictSame(await seqs({ senderUid: 'carol', afterSeq: 0, limit: 10 }), [2, 5])
  t.equal(await store.findPendingLive('bob', 'm-3', NOW), undefined, 'an expired message is not found')
  t.equal((await store.findPendingLive('bob', 'm-3', NOW - 1))?.seq, 3, 'it was pending until then')
})

t.test('acks delete only the receiver\'s unexpired messages, by ids or up to a seq, of one sender when asked, each once', async (t) => {
  const store = await openStore(t)
  await seed(store, 'bob', [message('bob', 1), message('bob', 2, { senderUid: 'carol' }), message('bob', 3, { expiresAt: NOW }), message('bob', 4), message('bob', 5)])
  await seed(store, 'eve', [message('eve', 1), message('eve', 2)])
  const seqsOf = (removed: readonly RemovedMessage[]) => removed.map((message) => `${message.receiverUid}/${message.seq}`).sort()
  await store.transaction(async (tx) => {
    const byIds = (await tx.removeAcked([{ receiverUid: 'bob', reader: 0, selector: { kind: 'ids', msgIds: ['m-1', 'm-3', 'm-9', 'm-1'] } }], NOW, null)).removed
    t.strictSame(seqsOf(byIds), ['bob/1'], 'unknown, expired and repeated ids delete nothing more')
    t.match(byIds[0], { receiverUid: 'bob', seq: 1, senderUid: 'alice', msgId: 'm-1', expiresAt: NOW + MINUTE })
    const ofSender = (await tx.removeAcked([{ receiverUid: 'bob', reader: 0, selector: { kind: 'up-to', upToSeq: 4, senderUid: 'alice' } }], NOW, null)).removed
    t.strictSame(seqsOf(ofSender), ['bob/4'], 'of one sender, up to the seq')
  })
  const group = await store.transaction((tx) => tx.removeAcked([
    { receiverUid: 'bob', reader: 0, selector: { kind: 'up-to', upToSeq: 3 } },
    { receiverUid: 'bob', reader: 0, selector: { kind: 'ids', msgIds: ['m-2', 'm-5'] } },
    { receiverUid: 'eve', reader: 0, selector: { kind: 'up-to', upToSeq: 1 } }
  ], NOW, null))
  t.strictSame(seqsOf(group.removed), ['bob/2', 'bob/5', 'eve/1'], 'several acks of several receivers in one statement, a message once')
  t.strictSame((await store.page({ receiverUid: 'eve', afterSeq: 0, limit: 10, now: NOW })).map((m) => m.seq), [2], 'eve keeps what no ack covered')
})

t.test('an ack with a purge time leaves tombstones as the messages were; a removal of lost messages leaves none', async (t) => {
  const store = await openStore(t)
  const messages = [message('bob', 1), message('bob', 2, { senderUid: 'carol' }), message('bob', 3)]
  await seed(store, 'bob', messages)
  const keys = [['bob', 'm-1'], ['bob', 'm-2'], ['bob', 'm-3'], ['eve', 'm-1']] as const
  await store.transaction(async (tx) => {
    await tx.removeAcked([{ receiverUid: 'bob', reader: 0, selector: { kind: 'up-to', upToSeq: 2 } }], NOW, NOW + MINUTE)
    await tx.removePending('bob', [3])
  })
  t.strictSame(await store.page({ receiverUid: 'bob', afterSeq: 0, limit: 10, now: NOW }), [])
  await store.transaction(async (tx) => {
    const copies = await tx.findCopiesAndSummaryRows(keys, [])
    t.strictSame(copies.pending, [])
    t.strictSame(copies.tombstones.sort((a, b) => a.message.seq - b.message.seq),
      [{ message: messages[0], purgeAt: NOW + MINUTE }, { message: messages[1], purgeAt: NOW + MINUTE }])
    await tx.deleteTombstone('bob', 'm-1')
    t.strictSame((await tx.findCopiesAndSummaryRows(keys, [])).tombstones.map((tombstone) => tombstone.message.msgId), ['m-2'])
  })
})

t.test('the tombstone purge takes only tombstones past their window, at most as many as asked each time', async (t) => {
  const store = await openStore(t)
  await seed(store, 'bob', Array.from({ length: 6 }, (_, i) => message('bob', i + 1)))
  await store.transaction(async (tx) => {
    for (let seq = 1; seq <= 6; seq++) await tx.removeAcked([{ receiverUid: 'bob', reader: 0, selector: { kind: 'up-to', upToSeq: seq } }], NOW, NOW + seq * 1000)
  })
  t.equal(await store.purgeTombstones(NOW + 4000, 3), 3, 'bounded: 4 are due, 3 go')
  t.equal(await store.purgeTombstones(NOW + 4000, 3), 1)
  t.equal(await store.purgeTombstones(NOW + 4000, 3), 0)
  const left = await store.transaction((tx) => tx.findCopiesAndSummaryRows([1, 2, 3, 4, 5, 6].map((seq) => ['bob', `m-${seq}`] as const), []))
  t.strictSame(left.tombstones.map((tombstone) => tombstone.message.seq).sort(), [5, 6], 'the ones still in their window stay')
})

t.test('summary rows: saved and read back, ordered by sortSeq, and lost counts cleared only where an ack covers them', async (t) => {
  const store = await openStore(t)
  await seed(store, 'bob', [message('bob', 7)])
  const last = { seq: 7, sendTime: NOW - 1000, msgType: 2, preview: 'größer 😀' }
  const rows = [
    summaryRow('bob', 'alice', { pendingCount: 1, last, sortSeq: 7, lostCount: 2, lostSeq: 5 }),
    summaryRow('bob', 'carol', { sortSeq: 9, lostCount: 1, lostSeq: 9 }),
    summaryRow('bob', 'dave', { sortSeq: 4, lostCount: 3, lostSeq: 4 }),
    summaryRow('eve', 'alice', { sortSeq: 1, lostCount: 1, lostSeq: 1 })
  ]
  await store.transaction((tx) => tx.saveSummaryRows(rows))
  const summary = async (receiverUid: string, before: number | null = null, limit = 10) =>
    (await store.summary(receiverUid, undefined, before, limit)).rows
  t.strictSame(await summary('bob'), [rows[1], rows[0], rows[2]], 'sortSeq descending, every field as written')
  t.strictSame((await summary('bob', 9, 1)).map((row) => row.senderUid), ['alice'], 'before a sortSeq, bounded')
  t.equal((await store.summary('bob', undefined, null, 10)).receiver?.pendingCount, 1, 'the receiver row comes with it')

  const acked = await store.transaction((tx) => tx.removeAcked([{ receiverUid: 'bob', reader: 0, selector: { kind: 'ids', msgIds: ['m-7'] } }], NOW, null))
  t.strictSame(acked.removed.map((key) => key.seq), [7])
  t.strictSame(acked.summaryRows, [rows[0]], 'with the summary row of its sender as it was, and no other')
  t.strictSame(acked.cleared, [], 'an ack by ids covers no losses')
  // An up-to ack that deletes nothing (bob has no pending message above seq 7) still answers the rows it covers.
  const lost = async (...clears: Array<{ receiverUid: string, upToSeq: number, senderUid?: string }>) => {
    const acks = clears.map(({ receiverUid, upToSeq, senderUid }) => ({ receiverUid, reader: 0, selector: { kind: 'up-to' as const, upToSeq, senderUid } }))
    const removal = await store.transaction((tx) => tx.removeAcked(acks, NOW + 2 * MINUTE, null))
    t.strictSame(removal.removed, [], 'nothing deleted: bob\'s message has expired by then')
    return removal.cleared.map((row) => `${row.receiverUid}/${row.senderUid}`).sort()
  }
  t.strictSame(await lost({ receiverUid: 'bob', upToSeq: 5 }), ['bob/alice', 'bob/dave'], 'rows whose losses all are at or below the seq')
  t.strictSame(await lost({ receiverUid: 'bob', upToSeq: 100, senderUid: 'carol' }), ['bob/carol'], 'only the named sender')
  t.strictSame(await lost({ receiverUid: 'bob', upToSeq: 3 }, { receiverUid: 'eve', upToSeq: 1 }, { receiverUid: 'bob', upToSeq: 4, senderUid: 'dave' }),
    ['bob/dave', 'eve/alice'], 'several receivers in one statement, a row once')
  t.strictSame(await lost({ receiverUid: 'zoe', upToSeq: 100 }), [], 'never another receiver\'s rows')

  await store.transaction(async (tx) => {
    const found = await tx.findSummaryRows([['bob', 'alice'], ['bob', 'carol'], ['eve', 'alice'], ['eve', 'carol']])
    t.strictSame(found.map((row) => `${row.receiverUid}/${row.senderUid}`).sort(), ['bob/alice', 'bob/carol', 'eve/alice'])
    await tx.deleteSummaryRows([['bob', 0, 'alice'], ['eve', 0, 'alice']])
    t.strictSame(await tx.findSummaryRows([['bob', 'alice'], ['eve', 'alice'], ['bob', 'dave']]), [rows[2]], 'deleted exactly those')
  })
})

t.test('expiry: the receivers due, and what is pending of them', async (t) => {
  const store = await openStore(t)
  await seed(store, 'bob', [message('bob', 1, { expiresAt: NOW + 3 }), message('bob', 2, { expiresAt: NOW + 1 }), message('bob', 3, { expiresAt: NOW + 2 }), message('bob', 4)])
  await seed(store, 'carol', [message('carol', 1, { expiresAt: NOW + 5 })])
  await seed(store, 'dave', [message('dave', 1, { expiresAt: NOW - 5 })])
  await seed(store, 'eve', [message('eve', 1)])
  await store.transaction(async (tx) => {
    t.strictSame((await tx.oldestPending('bob'))?.seq, 1)
    const latest = await tx.lastPendingOfSenders([['bob', 0, 'alice'], ['carol', 0, 'alice'], ['bob', 0, 'zed'], ['eve', 0, 'alice']])
    t.strictSame(latest.map(({ message: m }) => `${m.receiverUid}/${m.seq}`).sort(), ['bob/4', 'carol/1', 'eve/1'], 'each sender\'s highest seq, none for an unknown one')
  })
  t.strictSame(await store.receiversDueForExpiry(NOW + 5, 10), ['dave', 'bob', 'carol'], 'earliest next expiry first')
  t.strictSame(await store.receiversDueForExpiry(NOW + 5, 2), ['dave', 'bob'], 'bounded')
  t.strictSame(await store.receiversDueForExpiry(NOW - 10, 10), [])
  t.equal(await store.totalPending(NOW), 6, 'dave\'s expired message is not pending')
  t.equal(await store.totalPending(NOW + 5), 2, 'nor, later, those of bob and carol')
})

t.test('expiry: the expired of several receivers deleted in seq order, bounded for each, with their senders\' rows and what expires next', async (t) => {
  const store = await openStore(t)
  await seed(store, 'bob', [message('bob', 1, { expiresAt: NOW + 3 }), message('bob', 2, { expiresAt: NOW + 1 }), message('bob', 3, { expiresAt: NOW + 2, senderUid: 'carol' }), message('bob', 4)])
  await seed(store, 'carol', [message('carol', 1, { expiresAt: NOW + 1 })])
  await seed(store, 'eve', [message('eve', 1, { expiresAt: NOW + 9 })])
  const rows = [
    summaryRow('bob', 'alice', { pendingCount: 3 }), summaryRow('bob', 'carol', { pendingCount: 1 }), summaryRow('bob', 'dave', { pendingCount: 1 }),
    summaryRow('carol', 'alice', { pendingCount: 1 })
  ]
  await store.transaction(async (tx) => { await tx.saveSummaryRows(rows) })
  const seqs = (keys: readonly RemovedMessage[]) => keys.map((key) => `${key.receiverUid}/${key.seq}`).sort()
  await store.transaction(async (tx) => {
    const first = await tx.removeExpired(['bob', 'carol', 'eve', 'nobody'], NOW + 3, 2)
    t.strictSame(seqs(first.removed), ['bob/1', 'bob/2', 'carol/1'], 'at most 2 of each receiver, lowest seqs first')
    t.ok(first.removed.every((key) => key.readers === 1 && key.remaining === 0), 'each removed whole')
    t.strictSame(first.summaryRows.map((row) => `${row.receiverUid}/${row.senderUid}`).sort(), ['bob/alice', 'carol/alice'], 'the rows of their senders, no other')
    t.strictSame([...first.nextExpiry].sort(), [['carol', null], ['eve', NOW + 9], ['nobody', null]], 'bob has one left behind: no next expiry for it')
    const second = await tx.removeExpired(['bob'], NOW + 3, 2)
    t.strictSame(seqs(second.removed), ['bob/3'])
    t.strictSame(second.summaryRows.map((row) => row.senderUid), ['carol'])
    t.strictSame([...second.nextExpiry], [['bob', NOW + MINUTE]], 'what it keeps expires in a minute')
    t.strictSame(seqs((await tx.removeExpired(['bob'], NOW + 3, 2)).removed), [], 'none left')
  })
  const left = await store.page({ receiverUid: 'bob', afterSeq: 0, limit: 10, now: NOW })
  t.strictSame(left.map((m) => m.seq), [4], 'deleted for good')
})

t.test('a group\'s lookups find what each receiver holds, never another receiver\'s rows', async (t) => {
  const store = await openStore(t)
  await seed(store, 'bob', [message('bob', 1), message('bob', 2)])
  await seed(store, 'eve', [message('eve', 1, { msgId: 'm-2' })])
  await store.transaction(async (tx) => {
    const locked = await tx.lockReceivers(['bob', 'eve', 'zoe'])
    t.strictSame(locked.map((receiver) => [receiver.receiverUid, receiver.lastSeq]), [['bob', 2], ['eve', 1], ['zoe', 0]], 'in the order asked; a new one at seq 0')
    await tx.saveSummaryRows([summaryRow('bob', 'alice', { pendingCount: 2, sortSeq: 2 }), summaryRow('eve', 'carol', { pendingCount: 1 })])
    const found = await tx.findCopiesAndSummaryRows([['bob', 'm-2'], ['eve', 'm-2'], ['zoe', 'm-2']], [['bob', 'alice'], ['eve', 'alice'], ['zoe', 'carol']])
    t.strictSame(found.pending.map((m) => `${m.receiverUid}/${m.seq}`).sort(), ['bob/2', 'eve/1'])
    t.strictSame(found.summaryRows, [summaryRow('bob', 'alice', { pendingCount: 2, sortSeq: 2 })], 'the summary rows of exactly those pairs, read in the same call')
  })
  await store.transaction(async (tx) => {
    const existing = await tx.lockReceivers(['nobody', 'eve', 'bob'], { create: false })
    t.strictSame(existing.map((receiver) => receiver.receiverUid), ['eve', 'bob'], 'without create: only those that exist, in the order asked')
  })
  t.equal(await store.receiver('nobody'), undefined, 'and no row is made')
})
