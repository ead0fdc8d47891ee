// Whether PostgreSQL makes a commit durable for the service's role: fsync, synchronous_commit and full_page_writes as a
// session of the pool sees them (so an ALTER ROLE ... SET or ALTER DATABASE ... SET counts), read at start and again
// after each new connection of the pool, in the background: never on a request's path.
import type { Row } from './pool.js'

type Log = (level: 'info' | 'warn', message: string) => void

/** Each setting the check reads, and what it risks when off. */
const RISKS = {
  fsync: 'fsync is off on the server: committed messages may be lost, and the database corrupted, if the operating system crashes or the power fails',
  synchronous_commit: 'synchronous_commit is off for this role: a 201 may be lost if PostgreSQL crashes within ~3x wal_writer_delay of it',
  full_page_writes: 'full_page_writes is off on the server: pages torn by an operating-system crash or a power failure may leave the database corrupt'
} as const
type Setting = keyof typeof RISKS
const SETTINGS = Object.keys(RISKS) as Setting[]

/** The settings that are off in a row of SQL.durability (synchronous_commit's local and remote_* are durable here). */
export function settingsOff (row: Row): Setting[] {
  return SETTINGS.filter((setting) => String(row[setting]) === 'off')
}

export interface DurabilityCheck {
  /** The last reading's verdict; the first reading, made now, when there has been none yet. */
  durable (): Promise<boolean>
  /** Reads the settings again (one reading at a time: a call during one makes one more after it). */
  refresh (): Promise<boolean>
  /** The database was lost (a connection broke): the next reading says what it finds again, even if unchanged. */
  lost (): void
}

/** `read` answers SQL.durability's row on a session of the pool; `log` takes the warnings. */
export function createDurabilityCheck (read: () => Promise<Row>, log: Log | undefined): DurabilityCheck {
  let verdict: boolean | undefined
  let reported: string | undefined
  let reading: Promise<boolean> | undefined
  let again = false

  const readOnce = async (): Promise<boolean> => {
    const off = settingsOff(await read())
    const finding = off.join(',')
    if (finding !== reported) {
      for (const setting of off) log?.('warn', `${RISKS[setting]}; the store is not durable (offline_messages_store_durable 0, /readyz durable: false)`)
      reported = finding
    }
    if (off.length === 0 && verdict === false) log?.('info', 'fsync, synchronous_commit and full_page_writes are on again: the store is durable')
    verdict = off.length === 0
    return verdict
  }
  const refresh = (): Promise<boolean> => {
    if (reading !== undefined) {
      again = true
      return reading
    }
    reading = readOnce().finally(() => {
      reading = undefined
      if (again) {
        again = false
        refresh().catch(() => {})
      }
    })
    return reading
  }
  return {
    durable: async () => verdict ?? await refresh(),
    refresh,
    lost () { reported = undefined }
  }
}
