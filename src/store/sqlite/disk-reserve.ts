// The embedded store on a disk that fills up: a reserve of space held in a file beside the database, released when
// a write finds the disk full so that acks (and the sweep) can still drain the store, and taken back once there is room.
import { unlinkSync } from 'node:fs'
import { open, statfs, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'

export interface DiskReserve {
  /** True from a write that found the disk full until there is room again: new messages are refused meanwhile. */
  readonly full: boolean
  /** A write failed for lack of space: give the reserve back to the file system, for the writes that make room. */
  exhausted (): void
  /** While full, at most once a second: when the file system has room again, takes the reserve back and clears full. */
  recheck (): Promise<void>
}

type Log = (level: 'warn' | 'info', message: string) => void

const RECHECK_INTERVAL_MS = 1_000
/** Without a reserve, the room that counts as "space is back". */
const MIN_FREE_BYTES = 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024)

/** Writes the reserve file with real blocks (not a sparse file); false when the disk has no room for it. */
async function fill (path: string, bytes: number): Promise<boolean> {
  const file = await open(path, 'w')
  try {
    for (let written = 0; written < bytes; written += CHUNK.length) {
      await file.write(CHUNK, 0, Math.min(CHUNK.length, bytes - written))
    }
    await file.sync()
    return true
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOSPC') throw error
    return false
  } finally {
    await file.close()
  }
}

export async function openDiskReserve (databasePath: string, bytes: number, log: Log): Promise<DiskReserve> {
  const path = `${databasePath}-reserve`
  let full = false
  let lastCheck = 0
  let checking: Promise<void> | null = null

  const take = async (): Promise<boolean> => {
    if (bytes === 0 || await fill(path, bytes)) return true
    await unlink(path).catch(() => undefined)
    return false
  }

  async function check (): Promise<void> {
    const { bavail, bsize } = await statfs(dirname(databasePath))
    if (bavail * bsize < Math.max(2 * bytes, MIN_FREE_BYTES) || !await take()) return
    full = false
    log('info', 'disk space is back: new messages are stored again')
  }

  if (!await take()) {
    full = true
    log('warn', `disk full at start: no room for the ${bytes}-byte reserve (${path}); new messages are refused until there is room`)
  }

  return {
    get full () { return full },
    exhausted () {
      if (full) return
      full = true
      lastCheck = Date.now()
      // At once, so that the very next transaction (an ack) has the room.
      try { unlinkSync(path) } catch { /* there was none */ }
      log('warn', `disk full: new messages are refused (507 STORE_FULL); the ${bytes}-byte reserve is released so that acks can drain the store`)
    },
    async recheck () {
      if (!full || Date.now() - lastCheck < RECHECK_INTERVAL_MS) return
      lastCheck = Date.now()
      checking ??= check().catch(() => undefined).finally(() => { checking = null })
      await checking
    }
  }
}
