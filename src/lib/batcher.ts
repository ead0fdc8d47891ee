// The batcher (group commit): calls that arrive together share one commit, and each caller is answered only after it.
import { groupBy } from './group-by.js'

interface Job<I, O> {
  items: readonly I[]
  keys: readonly string[]
  lane: string
  resolve (outputs: O[]): void
  reject (error: unknown): void
}

/**
 * Wraps `commit` (one commit over many items, outputs in input order) so that concurrent calls are coalesced: calls
 * made while `concurrency` commits are running wait for the next one to start, which takes them all (up to maxItems).
 * One fsync then acknowledges many items, which is what makes durable writes fast.
 *
 * With a concurrency above 1 (commits that can overlap when they hold different keys) the next group starts while
 * others commit, but only with calls whose keys (from `keysOf`; none without it) no running group holds: a call on a
 * busy key would only wait for it, so it waits here instead and goes with the next group of that key. Calls sharing a
 * key still start in the order they were made.
 *
 * With `laneOf` a group holds the items of one lane only, and each lane runs one group at a time. A call whose items
 * span lanes is cut into one part per lane, each going with the groups of its own; the call is answered, outputs in
 * its input order, once every part has committed, and fails if one did. Each part commits on its own: a failed call
 * may have committed some of its items (the caller's commit must make a retry safe).
 */
export function createBatcher<I, O> (
  commit: (items: readonly I[]) => Promise<O[]>, maxItems: number, concurrency = 1, keysOf?: (item: I) => string,
  laneOf?: (item: I) => string
) {
  const waiting: Array<Job<I, O>> = []
  const busy = new Set<string>()
  // With lanes, one commit per lane at a time: the caller's lanes are where two commits at once would only slow (or
  // block) each other, and commits of different lanes do not.
  const busyLanes = new Set<string>()
  let running = 0
  let scheduled = false
  // With one commit at a time and one lane nothing can overtake a call: no keys to track. With lanes a call skipped for
  // its lane holds back later calls of its keys, even once laneOf puts them elsewhere.
  const tracksKeys = concurrency > 1 || laneOf !== undefined

  function takeGroup (): Array<Job<I, O>> {
    const group: Array<Job<I, O>> = []
    // Keys of calls left waiting: a later call with one of them waits too, so that they keep their order.
    const passed = new Set<string>()
    let count = 0
    for (let i = 0; i < waiting.length;) {
      const next = waiting[i] as Job<I, O>
      const otherLane = group.length > 0 ? next.lane !== group[0]?.lane : busyLanes.has(next.lane)
      if (!otherLane && group.length > 0 && count + next.items.length > maxItems) break
      if (otherLane || next.keys.some((key) => busy.has(key) || passed.has(key))) {
        for (const key of next.keys) passed.add(key)
        i++
        continue
      }
      group.push(next)
      count += next.items.length
      waiting.splice(i, 1)
    }
    return group
  }

  async function run (group: Array<Job<I, O>>): Promise<void> {
    try {
      const outputs = await commit(group.flatMap((job) => job.items))
      let offset = 0
      for (const job of group) {
        job.resolve(outputs.slice(offset, offset + job.items.length))
        offset += job.items.length
      }
    } catch (error) {
      for (const job of group) job.reject(error)
    }
  }

  function startGroups (): void {
    scheduled = false
    while (running < concurrency && waiting.length > 0) {
      const group = takeGroup()
      if (group.length === 0) return
      const keys = [...new Set(group.flatMap((job) => job.keys))]
      for (const key of keys) busy.add(key)
      const lane = group[0]?.lane ?? ''
      if (laneOf !== undefined) busyLanes.add(lane)
      running++
      void run(group).finally(() => {
        for (const key of keys) busy.delete(key)
        busyLanes.delete(lane)
        running--
        // What arrived during that commit is already waiting: its group starts at once.
        startGroups()
      })
    }
  }

  function enqueue (items: readonly I[], lane: string): Promise<O[]> {
    return new Promise<O[]>((resolve, reject) => {
      waiting.push({ items, keys: tracksKeys && keysOf !== undefined ? [...new Set(items.map(keysOf))] : [], lane, resolve, reject })
      // Wait for the current I/O round to hand over every request that arrived with this one.
      if (running < concurrency && !scheduled) {
        scheduled = true
        setImmediate(startGroups)
      }
    })
  }

  return async function submit (items: readonly I[]): Promise<O[]> {
    if (laneOf === undefined) return await enqueue(items, '')
    // The call's item indexes by lane, in the order each lane first appears, each part in input order.
    const byLane = groupBy(items.keys(), (index) => laneOf(items[index] as I))
    if (byLane.size <= 1) return await enqueue(items, byLane.keys().next().value ?? '')
    const split = [...byLane].map(([lane, indexes]) => ({ indexes, outputs: enqueue(indexes.map((index) => items[index] as I), lane) }))
    // Answered only once every part has settled: never while a part of it is still committing.
    const settled = await Promise.allSettled(split.map((part) => part.outputs))
    const failed = settled.find((result) => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const outputs = new Array<O>(items.length)
    settled.forEach((result, i) => {
      const values = (result as PromiseFulfilledResult<O[]>).value
      split[i]?.indexes.forEach((index, j) => { outputs[index] = values[j] as O })
    })
    return outputs
  }
}
