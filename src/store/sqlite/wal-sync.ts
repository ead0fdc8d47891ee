// Durability off the event loop: commits run with synchronous=NORMAL, then an fsync of the WAL in libuv's thread
// pool covers every transaction committed before that fsync started (group commit at the fsync level).
import { open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface WalSync {
  /** Notes that a transaction has just committed (its frames are written to the WAL, not yet on disk). */
  committed (): void
  /** Resolves once everything committed so far is on disk. */
  durable (): Promise<void>
  close (): Promise<void>
}

interface Waiter { upTo: number, resolve (): void, reject (error: unknown): void }

// Overlapping fsyncs: a commit waits for one fsync started after it, not for the one in flight to end first.
// Three leave a thread of libuv's default four for other file work.
const MAX_IN_FLIGHT = 3

/** One piece: the counters, the waiters and the fsyncs in flight are one small state machine. */
export function createWalSync (databasePath: string): WalSync {
  let written = 0
  let synced = 0
  let startedFor = 0
  let inFlight = 0
  let wal: Promise<FileHandle> | null = null
  let waiters: Waiter[] = []
  const running = new Set<Promise<void>>()

  async function openWal (): Promise<FileHandle> {
    const handle = await open(`${databasePath}-wal`, 'r+')
    // The WAL file may have just been created: make its directory entry durable too.
    const directory = await open(dirname(databasePath), 'r')
    try { await directory.sync() } finally { await directory.close() }
    return handle
  }

  function settle (target: number, error: unknown): void {
    if (error === undefined) synced = Math.max(synced, target)
    const done = waiters.filter((waiter) => waiter.upTo <= (error === undefined ? synced : target))
    waiters = waiters.filter((waiter) => !done.includes(waiter))
    for (const waiter of done) {
      if (error === undefined) waiter.resolve()
      else waiter.reject(error)
    }
  }

  function startFsync (): void {
    const target = written
    startedFor = target
    inFlight++
    wal ??= openWal()
    const fsync = wal.then((handle) => handle.sync()).then(
      () => { settle(target, undefined) },
      (error: unknown) => { wal = null; settle(target, error) }
    ).finally(() => {
      inFlight--
      running.delete(fsync)
      maybeStart()
    })
    running.add(fsync)
  }

  function maybeStart (): void {
    // Start one when some waiter is not covered by an fsync already running, and a thread is free.
    if (inFlight < MAX_IN_FLIGHT && waiters.some((waiter) => waiter.upTo > startedFor)) startFsync()
  }

  return {
    committed () {
      written++
    },
    durable () {
      if (synced >= written) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        waiters.push({ upTo: written, resolve, reject })
        maybeStart()
      })
    },
    async close () {
      await Promise.allSettled([...running])
      if (wal !== null) await (await wal).close().catch(() => undefined)
      wal = null
    }
  }
}
