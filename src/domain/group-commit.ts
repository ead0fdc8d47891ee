// Group commit: stores that arrive together share one transaction, and each caller is answered only after that commit.

interface Job<I, O> {
  items: readonly I[]
  resolve (outputs: O[]): void
  reject (error: unknown): void
}

/**
 * Wraps `commit` (one transaction over many items, outputs in input order) so that concurrent calls are coalesced:
 * calls made while `concurrency` transactions are running wait for the next one to start, which takes them all (up to
 * maxItems). One fsync then acknowledges many messages, which is what makes durable stores fast. With a concurrency
 * above 1 (a store whose transactions on different receivers can overlap) the next group starts while others commit.
 */
export function createGroupCommit<I, O> (commit: (items: readonly I[]) => Promise<O[]>, maxItems: number, concurrency = 1) {
  const waiting: Array<Job<I, O>> = []
  let running = 0
  let scheduled = false

  function takeGroup (): Array<Job<I, O>> {
    const group: Array<Job<I, O>> = []
    let count = 0
    while (waiting.length > 0) {
      const next = waiting[0] as Job<I, O>
      if (group.length > 0 && count + next.items.length > maxItems) break
      group.push(next)
      count += next.items.length
      waiting.shift()
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
      running++
      void run(takeGroup()).finally(() => {
        running--
        // What arrived during that commit is already waiting: its group starts at once.
        startGroups()
      })
    }
  }

  return function submit (items: readonly I[]): Promise<O[]> {
    return new Promise<O[]>((resolve, reject) => {
      waiting.push({ items, resolve, reject })
      // Wait for the current I/O round to hand over every request that arrived with this one.
      if (running < concurrency && !scheduled) {
        scheduled = true
        setImmediate(startGroups)
      }
    })
  }
}
