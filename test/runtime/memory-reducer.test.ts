// The memory reducer: one memory-reducing collection once a burst of held requests has ended, none while it lasts,
// none for a steady number of held requests; and in the real process (node --expose-gc, as npm start runs it), its
// log line after held requests go away.
import t from 'tap'
import { createMemoryReducer } from '../../src/plugins/memory-reducer.js'
import { AUTH } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

/** A reducer over a scripted count of held requests, and the collections it asked for. */
function scripted (minDrop: number, withGc = true) {
  let held = 0
  const collections: unknown[] = []
  const gc = ((options: unknown) => { collections.push(options) }) as NodeJS.GCFunction
  const reducer = createMemoryReducer({ heldRequests: () => held, minDrop, gc: withGc ? gc : undefined })
  /** Counts these held requests one check each; answers the checks that collected (their index). */
  const run = (counts: number[]): number[] => counts.flatMap((count, index) => {
    held = count
    return reducer.check() === undefined ? [] : [index]
  })
  return { run, collections }
}

t.test('one collection once the held requests have fallen by minDrop to half their peak or less and stopped falling', async (t) => {
  const { run, collections } = scripted(1000)
  t.strictSame(run([0, 1500, 3000, 3000]), [], 'none while they rise or stay')
  t.strictSame(run([2500, 1200]), [], 'none while they fall')
  t.strictSame(run([1200]), [0], 'one once they stop falling: 1,800 fewer than the peak of 3,000, and at most half of it')
  t.strictSame(collections, [{ type: 'major', execution: 'sync', flavor: 'last-resort' }], 'a full, memory-reducing collection, at once')
  t.strictSame(run([1200, 1250, 1180, 1220, 1200]), [], 'none again for the same number coming and going: the peak starts from the collection')
  t.strictSame(run([2400, 1100, 1100]), [2], 'one for the next burst (from 2,400 down by 1,300 to 1,100)')
})

t.test('no collection for a fall smaller than minDrop, or to more than half the peak', async (t) => {
  t.strictSame(scripted(1000).run([900, 0, 0]), [], '900 held, then none: below minDrop')
  t.strictSame(scripted(1000).run([10_000, 6000, 6000]), [], '10,000 down to 6,000: more than half left')
  t.strictSame(scripted(1000).run([10_000, 0, 0]), [2], 'the same 10,000 down to none: once it has stopped falling')
})

t.test('without V8\'s collector exposed (node without --expose-gc), it does nothing', async (t) => {
  const { run } = scripted(1000, false)
  t.strictSame(run([10_000, 0, 0, 0]), [])
})

t.test('the service run with --expose-gc logs one memory-reducing collection after its held requests have gone', async (t) => {
  // MAX_WAITERS=100: a fall of 10 held requests is worth a collection.
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }), MAX_WAITERS: '100' }, { nodeArgs: ['--expose-gc'] })
  const callers = Array.from({ length: 40 }, () => new AbortController())
  const held = callers.map(async (caller, i) => await fetch(`${service.url}/v1/receivers/held-${i}/messages?wait_seconds=30`, { headers: AUTH.gateway, signal: caller.signal })
    .catch((error: unknown) => error))
  const metric = async (): Promise<number> => {
    const text = await (await fetch(`${service.url}/metrics`)).text()
    return Number(/^offline_messages_waiters (\d+)/m.exec(text)?.[1] ?? NaN)
  }
  for (let i = 0; i < 100 && await metric() < 40; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await metric(), 40, '40 requests held')
  // Held over a count (every second), so that the reducer sees their peak.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.notMatch(service.output(), /memory-reducing collection/, 'no collection while they are held')
  for (const caller of callers) caller.abort()
  await Promise.all(held)
  const line = (): string | undefined => service.output().split('\n').find((text) => text.includes('memory-reducing collection'))
  for (let i = 0; i < 100 && line() === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  const logged = JSON.parse(line() ?? '{}') as { level?: number, msg?: string, memoryReduction?: Record<string, number> }
  t.equal(logged.level, 30, 'logged at info')
  t.match(logged.msg, /^40 held requests ended: a memory-reducing collection took \d+ ms, RSS \d+ -> \d+ MB$/)
  t.match(logged.memoryReduction, { peak: 40, held: 0 })
  t.ok((logged.memoryReduction?.rssAfterMb ?? 0) > 0, 'the RSS after it')
})
