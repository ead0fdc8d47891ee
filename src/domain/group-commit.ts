// Group commit: stores that arrive together share one transaction, and each caller is answered only after that commit.

interface Job<I, O> {
  items: readonly I[]
  resolve (outputs: O[]): void
  reject (error: unknown): void
}

/**
 * Wraps `commit` (one transaction over many items, outputs in input order) so that concurrent calls are coalesced:
 * calls made while a transaction is running wait for the next one, which takes them all (up to maxItems).
 * One fsync then acknowledges many messages, which is what makes durable stores fast.
 */
export function createGroupCommit<I, O> (commit: (items: readonly I[]) => Promise<O[]>, maxItems: number) {
  const waiting: Array<Job<I, O>> = []
  let running = false

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

  async function drain (): Promise<void> {
    running = true
    try {
      while (waiting.length > 0) {
        const group = takeGroup()
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
    } finally {
      running = false
    }
  }

  return function submit (items: readonly I[]): Promise<O[]> {
    return new Promise<O[]>((resolve, reject) => {
      waiting.push({ items, resolve, reject })
      // Wait for the current I/O round to hand over every request that arrived with this one.
      if (!running) {
        running = true
        setImmediate(() => { void drain() })
      }
    })
  }
}
