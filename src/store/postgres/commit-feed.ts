// Wake-ups across instances through PostgreSQL's own LISTEN/NOTIFY: each committed group of stores sends, in a
// statement of its own right after its COMMIT (store.ts), the receivers it stored for; every instance listens on one
// dedicated connection (not the pool), reconnects by itself, and after a reconnect tells its waiters to read again.
import pg from 'pg'
import type { DatabaseOptions } from '../database.js'
import type { CommitFeed } from '../types.js'

export const CHANNEL = 'offline_messages_stored'
// PostgreSQL refuses payloads of 8000 bytes or more; JSON of ids from the uid alphabet is one byte a character.
const MAX_PAYLOAD_BYTES = 7900
const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 2000

interface Payload { from: string, receivers: string[] }

/** The NOTIFY payloads naming `receiverUids` (one, unless so many receivers do not fit under the limit). */
export function commitPayloads (instanceId: string, receiverUids: readonly string[]): string[] {
  const payloads: string[] = []
  let receivers: string[] = []
  let size = JSON.stringify({ from: instanceId, receivers: [] }).length
  const base = size
  for (const receiverUid of new Set(receiverUids)) {
    const extra = JSON.stringify(receiverUid).length + 1
    if (receivers.length > 0 && size + extra > MAX_PAYLOAD_BYTES) {
      payloads.push(JSON.stringify({ from: instanceId, receivers }))
      receivers = []
      size = base
    }
    receivers.push(receiverUid)
    size += extra
  }
  if (receivers.length > 0) payloads.push(JSON.stringify({ from: instanceId, receivers }))
  return payloads
}

function parse (payload: string | undefined): Payload | null {
  try {
    const value = JSON.parse(payload ?? '') as Partial<Payload>
    return typeof value.from === 'string' && Array.isArray(value.receivers) ? value as Payload : null
  } catch {
    return null
  }
}

export interface CommitListener {
  close (): Promise<void>
}

/**
 * Listens for the commits of other instances (its own are woken in process). Until close(), a dropped connection is
 * opened again, and once it is, every listener is told 'all': what committed while it was down was not heard.
 */
export function listenForCommits (options: DatabaseOptions, instanceId: string, feed: CommitFeed): CommitListener {
  let client: pg.Client | null = null
  let closed = false
  let delay = RECONNECT_MIN_MS
  let retry: NodeJS.Timeout | undefined
  let connectedBefore = false

  const reconnectLater = (): void => {
    if (closed || retry !== undefined) return
    retry = setTimeout(() => { retry = undefined; void connect() }, delay)
    retry.unref()
    delay = Math.min(delay * 2, RECONNECT_MAX_MS)
  }

  async function connect (): Promise<void> {
    const next = new pg.Client({
      connectionString: options.databaseUrl,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      application_name: 'offline-messages-listener'
    })
    next.on('error', (error) => { options.log?.('warn', `commit feed: ${error.message}; reconnecting`) })
    next.on('end', () => {
      if (client === next) client = null
      reconnectLater()
    })
    next.on('notification', (message) => {
      const payload = parse(message.payload)
      if (payload !== null && payload.from !== instanceId) feed(payload.receivers)
    })
    try {
      await next.connect()
      await next.query(`LISTEN ${CHANNEL}`)
    } catch (error) {
      options.log?.('warn', `commit feed: cannot listen (${error instanceof Error ? error.message : String(error)}); retrying`)
      await next.end().catch(() => undefined)
      reconnectLater()
      return
    }
    if (closed) {
      await next.end().catch(() => undefined)
      return
    }
    client = next
    delay = RECONNECT_MIN_MS
    if (connectedBefore) feed('all')
    connectedBefore = true
  }

  void connect()
  return {
    async close () {
      closed = true
      clearTimeout(retry)
      await client?.end().catch(() => undefined)
      client = null
    }
  }
}
