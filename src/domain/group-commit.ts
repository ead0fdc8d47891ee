// Group commit: stores that arrive together share one transaction, and each caller is answered only after that commit.
import { groupBy } from './group-by.js'

interface Job<I, O> {
  items: readonly I[]
  keys: readonly string[]
  partition: string
  resolve (outputs: O[]): void
  reject (error: unknown): void
}

/**
 * Wraps `commit` (one transaction over many items, outputs in input order) so that concurrent calls are coalesced:
 * calls made while `concurrency` transactions are running wait for the next one to start, which takes them all (up to
 * maxItems). One fsync then acknowledges many messages, which is what makes durable stores fast.
 *
 * With a concurrency above 1 (a store whose transactions on different receivers can overlap) the next group starts
 * while others commit, but only with calls whose keys (their receivers, from `keysOf`; none without it) no running group holds: a call
 * on a busy receiver would only wait for its lock, so it waits here instead and goes with the next group of that
 * receiver. Calls sharing a key still start in the order they were made.
 *
 * With `partitionOf` (a function of the item's key: on Citus, the shard of its receiver) a group holds the items of
 * one partition only, so that its transaction writes one shard, on one node. A call whose items span partitions is
 * cut into one part per partition, each going with the groups of its own; the call is answered, outputs in its input
 * order, once every part has committed, and fails if one did. Each part commits on its own: a failed call may have stored some of its
 * items, which a retry finds again (stores are deduplicated by msg_id, acks take nothing twice).
 */
export function createGroupCommit<I, O> (
  commit: (items: readonly I[]) => Promise<O[]>, maxItems: number, concurrency = 1, keysOf?: (item: I) => string,
  partitionOf?: (item: I) => string
) {
  const waiting: Array<Job<I, O>> = []
  const busy = new Set<string>()
  // With partitions, one transaction per partition at a time: on Citus, two groups of one partition at once made fewer
  // stores than one (measured when partitions were nodes: README, Scaling out: Citus), and, when their inserts went
  // through the coordinator, deadlocked each other on Citus's shard locks; groups of different shards share no lock.
  const busyPartitions = new Set<string>()
  let running = 0
  let scheduled = false
  // With one transaction at a time and one partition nothing can overtake a call: no keys to track. With partitions a
  // call skipped for its partition holds back later calls of its keys, even once a refreshed map puts them elsewhere.
  const tracksKeys = concurrency > 1 || partitionOf !== undefined

  function takeGroup (): Array<Job<I, O>> {
    const group: Array<Job<I, O>> = []
    // Keys of calls left waiting: a later call with one of them waits too, so that they keep their order.
    const passed = new Set<string>()
    let count = 0
    for (let i = 0; i < waiting.length;) {
      const next = waiting[i] as Job<I, O>
      const otherPartition = group.length > 0 ? next.partition !== group[0]?.partition : busyPartitions.has(next.partition)
      if (!otherPartition && group.length > 0 && count + next.items.length > maxItems) break
      if (otherPartition || next.keys.some((key) => busy.has(key) || passed.has(key))) {
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
      const partition = group[0]?.partition ?? ''
      if (partitionOf !== undefined) busyPartitions.add(partition)
      running++
      void run(group).finally(() => {
        for (const key of keys) busy.delete(key)
        busyPartitions.delete(partition)
        running--
        // What arrived during that commit is already waiting: its group starts at once.
        startGroups()
      })
    }
  }

  function enqueue (items: readonly I[], partition: string): Promise<O[]> {
    return new Promise<O[]>((resolve, reject) => {
      waiting.push({ items, keys: tracksKeys && keysOf !== undefined ? [...new Set(items.map(keysOf))] : [], partition, resolve, reject })
      // Wait for the current I/O round to hand over every request that arrived with this one.
      if (running < concurrency && !scheduled) {
        scheduled = true
        setImmediate(startGroups)
      }
    })
  }

  return async function submit (items: readonly I[]): Promise<O[]> {
    if (partitionOf === undefined) return await enqueue(items, '')
    // The call's item indexes by partition, in the order each partition first appears, each part in input order.
    const byPartition = groupBy(items.keys(), (index) => partitionOf(items[index] as I))
    if (byPartition.size <= 1) return await enqueue(items, byPartition.keys().next().value ?? '')
    const split = [...byPartition].map(([partition, indexes]) => ({ indexes, outputs: enqueue(indexes.map((index) => items[index] as I), partition) }))
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
