// Group commit: calls that arrive together share one commit, each caller gets its own outputs, and nobody is
// answered before the commit that holds its items has finished.
import t from 'tap'
import { createBatcher } from '../../src/lib/batcher.js'

interface Deferred<T> { promise: Promise<T>, resolve (value: T): void, reject (error: unknown): void }

function deferred<T> (): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** A commit the test finishes by hand; it records each group it was given. */
function manualCommit () {
  const groups: number[][] = []
  const pending: Array<Deferred<void>> = []
  const commit = async (items: readonly number[]): Promise<string[]> => {
    groups.push([...items])
    const gate = deferred<void>()
    pending.push(gate)
    await gate.promise
    return items.map((item) => `out-${item}`)
  }
  return { groups, pending, commit }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

/** Resolves with 'pending' if the promise has not settled by the next turn of the event loop. */
async function state (promise: Promise<unknown>): Promise<string> {
  return await Promise.race([promise.then(() => 'resolved', () => 'rejected'), tick().then(() => 'pending')])
}

t.test('calls made together share one commit, and each caller gets its own outputs in order', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500)
  const a = submit([1, 2])
  const b = submit([3])
  const c = submit([4, 5, 6])
  await tick()
  t.same(groups, [[1, 2, 3, 4, 5, 6]], 'one commit for the three calls')
  pending[0]?.resolve()
  t.same(await a, ['out-1', 'out-2'])
  t.same(await b, ['out-3'])
  t.same(await c, ['out-4', 'out-5', 'out-6'])
})

t.test('nobody is answered before its commit has finished', async (t) => {
  const { pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500)
  const a = submit([1])
  await tick()
  t.equal(await state(a), 'pending', 'the commit is running: no answer yet')
  pending[0]?.resolve()
  t.equal(await state(a), 'resolved')
})

t.test('calls made while a commit runs wait for it, then all go together in the next one', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500)
  const first = submit([1])
  await tick()
  const later = [submit([2]), submit([3]), submit([4])]
  await tick()
  t.same(groups, [[1]], 'the later calls do not start a second transaction while the first runs')
  pending[0]?.resolve()
  await first
  await tick()
  t.same(groups, [[1], [2, 3, 4]], 'the next commit takes every waiting call')
  t.equal(await state(later[0] as Promise<string[]>), 'pending', 'and they wait for that commit')
  pending[1]?.resolve()
  t.same(await Promise.all(later), [['out-2'], ['out-3'], ['out-4']])
})

t.test('a group stops before maxItems; a single call larger than maxItems still goes whole, alone', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 4)
  const calls = [submit([1, 2]), submit([3, 4]), submit([5]), submit([6, 7, 8, 9, 10, 11]), submit([12])]
  for (let i = 0; i < 4; i++) {
    await tick()
    pending[i]?.resolve()
  }
  await Promise.all(calls)
  t.same(groups, [[1, 2, 3, 4], [5], [6, 7, 8, 9, 10, 11], [12]])
})

t.test('a failed commit rejects every call of its group, and the next group still runs', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500)
  const failing = [submit([1]), submit([2])]
  await tick()
  const next = submit([3])
  pending[0]?.reject(new Error('disk full'))
  for (const call of failing) await t.rejects(call, { message: 'disk full' })
  await tick()
  pending[1]?.resolve()
  t.same(await next, ['out-3'])
  t.same(groups, [[1, 2], [3]])
})

t.test('with a concurrency of 2, a second group starts while the first commits, and a third waits for one of them', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500, 2)
  const first = submit([1])
  await tick()
  const second = [submit([2]), submit([3])]
  await tick()
  t.same(groups, [[1], [2, 3]], 'the calls made during the first commit go together into a second, at once')
  const third = submit([4])
  await tick()
  t.same(groups, [[1], [2, 3]], 'both slots are busy: the next call waits')
  pending[1]?.resolve()
  t.same(await Promise.all(second), [['out-2'], ['out-3']], 'the second group is answered on its own commit, before the first')
  t.equal(await state(first), 'pending', 'the first still waits for its own')
  await tick()
  t.same(groups, [[1], [2, 3], [4]], 'the freed slot takes the waiting call')
  pending[0]?.resolve()
  pending[2]?.resolve()
  t.same(await first, ['out-1'])
  t.same(await third, ['out-4'])
})

t.test('with a concurrency above 1, a call on a receiver a running group holds waits for it; calls on free receivers go, in order per receiver', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500, 3, (item: number) => `r${item % 10}`)
  const first = submit([1, 2])
  await tick()
  const calls = [submit([11, 5]), submit([3]), submit([15])]
  await tick()
  t.same(groups, [[1, 2], [3]], 'r1 is busy: 11 with 5 waits, and 15 waits behind it (r5, free, but after 5); 3 is free and goes')
  pending[0]?.resolve()
  await first
  await tick()
  t.same(groups, [[1, 2], [3], [11, 5, 15]], 'once r1 is free, the calls that waited go together, in their order')
  pending[1]?.resolve()
  pending[2]?.resolve()
  t.same(await Promise.all(calls), [['out-11', 'out-5'], ['out-3'], ['out-15']])
})

// A stub placement: item n belongs to receiver r-(n % 10), and each receiver lives on node A or B.
const NODES: Record<string, string> = { 'r-0': 'A', 'r-1': 'B', 'r-2': 'A', 'r-3': 'B', 'r-4': 'B', 'r-5': 'A', 'r-6': 'A', 'r-7': 'B', 'r-8': 'A', 'r-9': 'B' }
const receiverOf = (item: number): string => `r-${item % 10}`
const nodeOf = (item: number): string => NODES[receiverOf(item)] ?? '?'

for (const concurrency of [1, 3]) {
  t.test(`with a partition and a concurrency of ${concurrency}, concurrent calls for receivers of two nodes never share a commit`, async (t) => {
    const { groups, pending, commit } = manualCommit()
    const submit = createBatcher(commit, 8, concurrency, receiverOf, nodeOf)
    const calls: Array<Promise<string[]>> = []
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) calls.push(submit([round * 10 + i]))
      await tick()
      // Finish about half of what runs, so that new calls meet busy receivers and both nodes' groups overlap.
      pending.splice(0, Math.ceil(pending.length / 2)).forEach((gate) => { gate.resolve() })
    }
    while (groups.flat().length < 50 || pending.length > 0) {
      pending.splice(0).forEach((gate) => { gate.resolve() })
      await tick()
    }
    t.same(await Promise.all(calls), Array.from({ length: 50 }, (_, i) => [`out-${i}`]), 'each call answered with its own output')
    for (const group of groups) t.equal(new Set(group.map(nodeOf)).size, 1, `commit [${group.join(', ')}] holds one node`)
    t.ok(groups.every((group) => group.length <= 8), 'no group above maxItems')
    for (let r = 0; r < 10; r++) {
      const order = groups.flat().filter((item) => item % 10 === r)
      t.same(order, [...order].sort((a, b) => a - b), `r-${r}'s calls committed in the order they were made`)
    }
  })
}

t.test('a call for receivers of two nodes is split, one part per node, and answered whole in its input order once both have committed', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500, 2, receiverOf, nodeOf)
  // 0, 2, 5 on A; 1, 3 on B.
  const call = submit([1, 0, 3, 2, 5])
  await tick()
  t.same(groups, [[1, 3], [0, 2, 5]], 'one commit per node, each part in its input order, the first node seen first')
  pending[1]?.resolve()
  await tick()
  t.equal(await state(call), 'pending', 'one part committed: no answer yet')
  pending[0]?.resolve()
  t.same(await call, ['out-1', 'out-0', 'out-3', 'out-2', 'out-5'], 'the outputs in the input order')
})

t.test('a failed part rejects its call, which is answered only after its other part has committed', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500, 2, receiverOf, nodeOf)
  const call = submit([0, 1])
  const other = submit([11])
  await tick()
  t.same(groups, [[0], [1, 11]])
  pending[1]?.reject(new Error('node B down'))
  await t.rejects(other, { message: 'node B down' }, 'the whole group of the failed part fails')
  t.equal(await state(call), 'pending', 'the part on A still commits: no answer yet')
  pending[0]?.resolve()
  await t.rejects(call, { message: 'node B down' })
})

t.test('a spanning call keeps the order per receiver with one transaction at a time', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500, 1, receiverOf, nodeOf)
  const calls = [submit([0, 1]), submit([11]), submit([10])]
  for (let i = 0; i < 2; i++) {
    await tick()
    pending[i]?.resolve()
  }
  t.same(await Promise.all(calls), [['out-0', 'out-1'], ['out-11'], ['out-10']])
  t.same(groups, [[0, 10], [1, 11]], 'one commit per node, each receiver in call order')
})

t.test('without a partition, calls for receivers of both nodes still share one commit', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 500, 3, receiverOf)
  const calls = [submit([0, 1]), submit([2]), submit([3])]
  await tick()
  t.same(groups, [[0, 1, 2, 3]])
  pending[0]?.resolve()
  t.same(await Promise.all(calls), [['out-0', 'out-1'], ['out-2'], ['out-3']])
})

t.test('when a receiver moves to another node between two of its calls, they still commit in the order they were made', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const nodes = new Map([['r-0', 'A'], ['r-1', 'B']])
  const submit = createBatcher(commit, 500, 1, receiverOf, (item: number) => nodes.get(receiverOf(item)) ?? '?')
  const calls = [submit([0]), submit([1])]
  // A refreshed placement: r-1 now lives on A, with r-0.
  nodes.set('r-1', 'A')
  calls.push(submit([11]))
  for (let i = 0; i < 3; i++) {
    await tick()
    pending[i]?.resolve()
  }
  await Promise.all(calls)
  t.same(groups, [[0], [1], [11]], '11 (r-1, now on A) does not join 0 ahead of 1 (r-1, still queued for B)')
})

t.test('with a partition, one transaction per node at a time: a second group of a busy node waits, one of the other node goes', async (t) => {
  const { groups, pending, commit } = manualCommit()
  const submit = createBatcher(commit, 8, 3, receiverOf, nodeOf)
  // r-0 and r-2 are on A, r-1 on B: three receivers, no key shared, yet only two transactions may run.
  const first = submit([0])
  await tick()
  const second = submit([2])
  const third = submit([1])
  await tick()
  t.same(groups, [[0], [1]], 'A and B each run one transaction; A\'s second group waits though its receiver is free')
  pending.splice(0).forEach((gate) => { gate.resolve() })
  await tick()
  t.same(groups, [[0], [1], [2]], 'it starts once A\'s transaction has committed')
  pending.splice(0).forEach((gate) => { gate.resolve() })
  t.same(await Promise.all([first, second, third]), [['out-0'], ['out-2'], ['out-1']])
})
