// Durability off the event loop: commits run with synchronous=NORMAL, then one fsync of the WAL in libuv's
// thread pool covers every transaction committed before it started (group commit at the fsync level).
import { open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface WalSync {
  /** Notes that a transaction has just committed (its frames are written to the WAL, not yet on disk). */
  committed (): void
  /** Resolves once everything committed so far is on disk. */
  durable (): Promise<void>
  close (): Promise<void>
}

export function createWalSync (databasePath: string): WalSync {
  let written = 0
  let synced = 0
  let running: Promise<void> | null = null
  let wal: FileHandle | null = null
  let waiters: Array<{ upTo: number, resolve (): void, reject (error: unknown): void }> = []

  async function fsyncOnce (): Promise<void> {
    if (wal === null) {
      wal = await open(`${databasePath}-wal`, 'r+')
      // The WAL file was just created: make its directory entry durable too.
      const directory = await open(dirname(databasePath), 'r')
      try { await directory.sync() } finally { await directory.close() }
    }
    await wal.sync()
  }

  function run (): void {
    const target = written
    running = fsyncOnce().then(() => {
      synced = Math.max(synced, target)
      const done = waiters.filter((waiter) => waiter.upTo <= synced)
      waiters = waiters.filter((waiter) => waiter.upTo > synced)
      for (const waiter of done) waiter.resolve()
    }, (error: unknown) => {
      const failed = waiters.filter((waiter) => waiter.upTo <= target)
      waiters = waiters.filter((waiter) => waiter.upTo > target)
      for (const waiter of failed) waiter.reject(error)
    }).finally(() => {
      running = null
      // Commits that landed while this fsync ran need the next one.
      if (waiters.length > 0) run()
    })
  }

  return {
    committed () {
      written++
    },
    durable () {
      if (synced >= written) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        waiters.push({ upTo: written, resolve, reject })
        if (running === null) run()
      })
    },
    async close () {
      if (running !== null) await running.catch(() => undefined)
      if (wal !== null) await wal.close()
      wal = null
    }
  }
}
