// Small load helpers for the concurrency tests: a cluster of real instances on one database, a round-robin HTTP client, a promise pool.
import Sqlite from 'better-sqlite3'
import pg from 'pg'
import { AUTH } from '../helpers/app.js'
import { TEST_STORE, createTestDatabase } from '../helpers/database.js'
import { startService, type ServiceProcess } from '../helpers/process.js'

interface Tap { teardown (fn: () => unknown): void }

/**
 * PostgreSQL is the store that many instances share, so there the cluster is three processes on one fresh database.
 * SQLite is an embedded, single-process store (one connection serialises every statement): there the same scenarios
 * run against one process on an SQLite file, with the same concurrent clients.
 */
export const INSTANCES = TEST_STORE === 'postgres' ? 3 : 1

export interface Cluster {
  databaseUrl: string
  services: ServiceProcess[]
  urls: string[]
}

/** Starts INSTANCES real processes, all with the same DATABASE_URL and the same extra environment. */
export async function startCluster (t: Tap, env: Record<string, string> = {}): Promise<Cluster> {
  const databaseUrl = await createTestDatabase(t, { file: true })
  // They start together on purpose: migrating one database from several instances at once is part of the setup they must survive.
  const services = await Promise.all(
    Array.from({ length: INSTANCES }, () => startService(t, { ...env, DATABASE_URL: databaseUrl }))
  )
  return { databaseUrl, services, urls: services.map((service) => service.url) }
}

export type Role = keyof typeof AUTH

export interface Answer {
  status: number
  body: any // eslint-disable-line @typescript-eslint/no-explicit-any
  instance: string
}

export interface Client {
  /** Sends one request to the next instance in round-robin order, or to instance `via` (modulo their number); never throws. */
  request (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, role: Role, body?: unknown, via?: number): Promise<Answer>
  /** Every answer with a 5xx status, and every request that got no answer (status 0), kept for the test to assert there were none. */
  serverErrors: Array<{ method: string, path: string, status: number, instance: string, body: unknown }>
  /** How many requests each instance answered. */
  perInstance: Map<string, number>
}

export function createClient (urls: readonly string[]): Client {
  let next = 0
  const serverErrors: Client['serverErrors'] = []
  const perInstance = new Map<string, number>(urls.map((url) => [url, 0]))
  return {
    serverErrors,
    perInstance,
    async request (method, path, role, body, via) {
      const instance = urls[(via ?? next++) % urls.length] as string
      const headers: Record<string, string> = { ...AUTH[role] }
      if (body !== undefined) headers['content-type'] = 'application/json'
      let response: Response
      let text: string
      try {
        response = await fetch(`${instance}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) })
        })
        text = await response.text()
      } catch (error) {
        // No answer at all (a refused or reset connection) counts with the server errors: status 0.
        const reason = error instanceof Error ? `${error.message} ${String((error.cause as Error | undefined)?.message ?? '')}` : String(error)
        serverErrors.push({ method, path, status: 0, instance, body: reason })
        return { status: 0, body: { code: 'NO_ANSWER', message: reason }, instance }
      }
      let parsed: unknown = text
      try { parsed = JSON.parse(text) } catch { /* not JSON: kept as text for the report */ }
      perInstance.set(instance, (perInstance.get(instance) ?? 0) + 1)
      if (response.status >= 500) serverErrors.push({ method, path, status: response.status, instance, body: parsed })
      return { status: response.status, body: parsed, instance }
    }
  }
}

/** Runs work(0) .. work(count - 1) with at most `concurrency` in flight; answers the results in index order. */
export async function pool<T> (count: number, concurrency: number, work: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count)
  let taken = 0
  let failed = false
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (taken < count && !failed) {
      const index = taken++
      try {
        results[index] = await work(index)
      } catch (error) {
        failed = true
        throw error
      }
    }
  })
  // Every lane settles before the pool answers, so no request of a failed scenario runs on into the next one.
  const settled = await Promise.allSettled(lanes)
  const rejected = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected')
  if (rejected !== undefined) throw rejected.reason
  return results
}

export const pause = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds))

export interface PendingMessage {
  msg_id: string
  sender_uid: string
  seq: number
}

const ofDevice = (deviceId?: string): Record<string, string> => deviceId === undefined ? {} : { device_id: deviceId }

/** Reads every pending message of a receiver (of one of its devices), page by page from the start, once nothing else is writing. */
export async function fetchAllPending (client: Client, receiverUid: string, deviceId?: string): Promise<PendingMessage[]> {
  const all: PendingMessage[] = []
  let cursor: string | undefined
  for (;;) {
    const query = new URLSearchParams({ limit: '1000', ...ofDevice(deviceId), ...(cursor === undefined ? {} : { cursor }) })
    const page = await client.request('GET', `/v1/receivers/${receiverUid}/messages?${query.toString()}`, 'gateway')
    if (page.status !== 200) throw new Error(`fetching the pending messages of ${receiverUid} answered ${page.status}: ${JSON.stringify(page.body)}`)
    all.push(...(page.body.messages as PendingMessage[]))
    cursor = page.body.next_cursor as string
    if (page.body.has_more !== true) return all
  }
}

/** The receiver's (or one device's) lazy-load summary, every page of it: total_pending and the sum of its rows' counts. */
export async function readSummary (client: Client, receiverUid: string, deviceId?: string): Promise<{ totalPending: number, pendingCount: number, lostCount: number }> {
  let cursor: string | null = null
  let totalPending = 0
  let pendingCount = 0
  let lostCount = 0
  do {
    const query = new URLSearchParams({ limit: '500', ...ofDevice(deviceId), ...(cursor === null ? {} : { cursor }) })
    const summary = await client.request('GET', `/v1/receivers/${receiverUid}/senders?${query.toString()}`, 'gateway')
    if (summary.status !== 200) throw new Error(`the summary of ${receiverUid} answered ${summary.status}: ${JSON.stringify(summary.body)}`)
    totalPending = summary.body.total_pending as number
    for (const row of summary.body.senders as Array<{ pending_count: number, lost_count: number }>) {
      pendingCount += row.pending_count
      lostCount += row.lost_count
    }
    cursor = summary.body.next_cursor as string | null
  } while (cursor !== null)
  return { totalPending, pendingCount, lostCount }
}

/** A store body for `receiverUid` with a client-chosen id; the sender rotates so several senders' messages interleave. */
export function storeBody (receiverUid: string, msgId: string, index: number, senders = 5): Record<string, unknown> {
  return {
    receiver_uid: receiverUid,
    sender_uid: `sender-${index % senders}`,
    msg_id: msgId,
    msg_type: 1,
    content: `message ${msgId}`
  }
}

export interface Database {
  /** Runs one read-only statement, `?` for each parameter, on the cluster's database itself (beside the service, not through it). */
  query<T = Record<string, unknown>> (text: string, params?: unknown[]): Promise<T[]>
}

/** A direct connection to the cluster's database, closed in teardown: what a test compares the service's answers with. */
export async function openDatabase (t: Tap, databaseUrl: string): Promise<Database> {
  if (databaseUrl.startsWith('sqlite:')) {
    // The service keeps the file in WAL mode, so a second connection reads beside it.
    const db = new Sqlite(databaseUrl.slice('sqlite:'.length), { readonly: true, fileMustExist: true })
    db.pragma('busy_timeout = 5000')
    t.teardown(() => { db.close() })
    return { query: async <T>(text: string, params: unknown[] = []) => db.prepare(text).all(...params) as T[] }
  }
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 })
  await client.connect()
  t.teardown(() => client.end())
  return {
    async query<T> (text: string, params: unknown[] = []) {
      let n = 0
      return (await client.query(text.replace(/\?/g, () => `$${++n}`), params)).rows as T[]
    }
  }
}
