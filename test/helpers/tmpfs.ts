// A small tmpfs for a test that fills its disk: mounted as root, grown on demand, always unmounted in teardown.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

interface Tap { teardown (fn: () => unknown): void }

export interface Tmpfs {
  dir: string
  /** Grows (or shrinks) the file system in place, as an operator growing a volume would. */
  resize (size: string): void
}

/** Mounts a tmpfs of `size` (e.g. '4m'); throws with the reason when this machine does not allow it. */
export function mountTmpfs (t: Tap, size: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'om-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`cannot mount a tmpfs (needs root): ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`)
  }
  t.teardown(() => {
    // Lazy: detaches at once even if a process that was just killed still holds a file there.
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
    rmSync(dir, { recursive: true, force: true })
  })
  return { dir, resize: (to) => { execFileSync('mount', ['-o', `remount,size=${to}`, dir], { stdio: 'pipe' }) } }
}
