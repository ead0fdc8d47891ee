// Group commit: stores that arrive together share one transaction, and each caller is answered only after that commit.

interface Job<I, O> {
  items: readonly I[]
  keys: readonly string[]
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
 */
export function createGroupCommit<I, O> (
  commit: (items: readonly I[]) => Promise<O[]>, maxItems: number, concurrency = 1, keysOf?: (item: I) => string
) {
  const waiting: Array<Job<I, O>> = []
  const busy = new Set<string>()
  let running = 0
  let scheduled = false

  function takeGroup (): Array<Job<I, O>> {
    const group: Array<Job<I, O>> = []
    // Keys of calls left waiting: a later call with one of them waits too, so that they keep their order.
    const passed = new Set<string>()
    let count = 0
    for (let i = 0; i < waiting.length;) {
      const next = waiting[i] as Job<I, O>
      if (group.length > 0 && count + next.items.length > maxItems) break
      if (next.keys.some((key) => busy.has(key) || passed.has(key))) {
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
      running++
      void run(group).finally(() => {
        for (const key of keys) busy.delete(key)
        running--
        // What arrived during that commit is already waiting: its group starts at once.
        startGroups()
      })
    }
  }

  return function submit (items: readonly I[]): Promise<O[]> {
    return new Promise<O[]>((resolve, reject) => {
      // With one transaction at a time nothing is ever busy: no keys to track.
      waiting.push({ items, keys: concurrency > 1 && keysOf !== undefined ? [...new Set(items.map(keysOf))] : [], resolve, reject })
      // Wait for the current I/O round to hand over every request that arrived with this one.
      if (running < concurrency && !scheduled) {
        scheduled = true
        setImmediate(startGroups)
      }
    })
  }
}
