// The load generator's side of long-polling: requests held open on a service (one socket each, each asking again
// from its cursor once answered, as a gateway would), a stream of stores to their receivers, and the time from each
// store's answer to the held request's answer. node:http, not fetch: an agent with a socket per held request.
import http from 'node:http'
import { readdirSync, readFileSync } from 'node:fs'

/** A held request and the store that woke it are matched by receiver and msg_id. */
export const key = (receiverUid: string, msgId: string): string => `${receiverUid}\n${msgId}`
export const receiverOf = (k: string): string => k.slice(0, k.indexOf('\n'))

/** New connections opened at a time while holding: a burst of thousands overflows the server's accept backlog. */
const OPENING_AT_ONCE = 200

export interface Holding {
  /** When each message's held answer arrived (performance.now(), at the answer's head), by key(receiver, msg_id). */
  readonly answered: Map<string, number>
  /** Answers other than 200 (by status code) and requests that failed without an answer. */
  readonly statuses: Map<number, number>
  errors: number
  /** Resolves once every request has been sent on a connected socket. */
  opened: Promise<void>
  /** Stops asking again and closes every socket (the service forgets each held request at once). */
  release (): void
}

interface Page { messages: Array<{ msg_id: string }>, next_cursor: string }

/** Holds a page request for each of `receivers` on `url`, asking again (from the page's cursor) after each answer. */
export function holdRequests (url: string, receivers: readonly string[], waitSeconds = 30): Holding {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: receivers.length })
  const live = new Set<http.ClientRequest>()
  let stopped = false
  const holding: Holding = {
    answered: new Map(),
    statuses: new Map(),
    errors: 0,
    opened: Promise.resolve(),
    release () {
      stopped = true
      for (const request of live) request.destroy()
      agent.destroy()
    }
  }

  /** Asks for `receiverUid`'s page after `cursor`; calls `sent` once the request is on a connected socket. */
  function ask (receiverUid: string, cursor: string | undefined, sent?: () => void): void {
    if (stopped) { sent?.(); return }
    const path = `/v1/receivers/${receiverUid}/messages?wait_seconds=${waitSeconds}${cursor === undefined ? '' : `&cursor=${cursor}`}`
    const request = http.get(`${url}${path}`, { agent }, (response) => {
      const at = performance.now()
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        live.delete(request)
        if (response.statusCode !== 200) {
          holding.statuses.set(response.statusCode ?? 0, (holding.statuses.get(response.statusCode ?? 0) ?? 0) + 1)
          // 503 TOO_MANY_WAITERS says Retry-After: 1.
          setTimeout(() => { ask(receiverUid, cursor) }, 1000).unref()
          return
        }
        const page = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Page
        for (const message of page.messages) holding.answered.set(key(receiverUid, message.msg_id), at)
        ask(receiverUid, page.next_cursor)
      })
    })
    live.add(request)
    request.on('error', () => {
      live.delete(request)
      if (!stopped) holding.errors++
      sent?.()
    })
    if (sent !== undefined) {
      request.once('socket', (socket) => {
        if (socket.connecting) socket.once('connect', sent)
        else sent()
      })
    }
  }

  holding.opened = (async () => {
    for (let from = 0; from < receivers.length; from += OPENING_AT_ONCE) {
      await Promise.all(receivers.slice(from, from + OPENING_AT_ONCE).map(async (receiverUid) => {
        await new Promise<void>((resolve) => { ask(receiverUid, undefined, resolve) })
      }))
    }
  })()
  return holding
}

export interface Stream {
  /** When each store's 201 arrived (performance.now()), by key(receiver, msg_id). */
  stored: Map<string, number>
  /** Wake-up latencies in ms, store's answer to held answer (negative when the held one came first; both follow the commit). */
  latencies: number[]
  /** Stores whose held answer never came within the grace after the last store. */
  missed: number
  failures: number
  seconds: number
}

const ANSWER_GRACE_MS = 5000

/**
 * Stores one message for each of `receivers` through `url`, `inFlight` at a time, and matches each with its held
 * answer in `holding`.
 */
export async function storeStream (url: string, receivers: readonly string[], holding: Holding, msgPrefix: string, inFlight: number): Promise<Stream> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight })
  const stored = new Map<string, number>()
  let failures = 0
  let next = 0
  const started = performance.now()
  const storeOne = async (receiverUid: string, msgId: string): Promise<void> => {
    const body = JSON.stringify({ receiver_uid: receiverUid, sender_uid: 'alice', msg_id: msgId, msg_type: 1, content: 'wake up' })
    await new Promise<void>((resolve) => {
      const request = http.request(`${url}/v1/messages`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
        const at = performance.now()
        response.resume()
        response.on('end', () => {
          if (response.statusCode === 201) stored.set(key(receiverUid, msgId), at)
          else failures++
          resolve()
        })
      })
      request.on('error', () => { failures++; resolve() })
      request.end(body)
    })
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, receivers.length) }, async () => {
    for (let i = next++; i < receivers.length; i = next++) await storeOne(receivers[i] as string, `${msgPrefix}-${i}`)
  }))
  const seconds = (performance.now() - started) / 1000
  const deadline = performance.now() + ANSWER_GRACE_MS
  while ([...stored.keys()].some((k) => !holding.answered.has(k)) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  agent.destroy()
  const latencies: number[] = []
  let missed = 0
  for (const [k, at] of stored) {
    const answeredAt = holding.answered.get(k)
    if (answeredAt === undefined) missed++
    else latencies.push(answeredAt - at)
  }
  return { stored, latencies, missed, failures, seconds }
}

/** The soft limit on open files of a process (`self` for this one), from /proc/<pid>/limits. */
export function openFilesLimit (pid: number | 'self'): number {
  const line = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1]
  return line === undefined || line === 'unlimited' ? Infinity : Number(line)
}

/** File descriptors a process has open right now. */
export const openFiles = (pid: number | 'self'): number => readdirSync(`/proc/${pid}/fd`).length
