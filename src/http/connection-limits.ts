// How long the HTTP server keeps a connection: the limits that cut off slow, stalled and idle callers.
import type { ServerOptions } from 'node:http'
import type { HttpLimits } from '../config.js'

/** The whole head (request line and headers) must arrive within this, or REQUEST_TIMEOUT_MS if lower. */
const HEADERS_TIMEOUT_MS = 10_000
/** An idle keep-alive connection is closed this long after its last answer. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000
/** How often Node checks the two timeouts above (its default, 30 s, would let a trickling head live for 90 s). */
const CHECK_INTERVAL_MS = 1_000

interface ConnectionLimits { requestTimeout: number, connectionTimeout: number, keepAliveTimeout: number, http: ServerOptions }

export function connectionLimits (limits: HttpLimits): ConnectionLimits {
  return {
    // The whole request, head and body.
    requestTimeout: limits.requestTimeoutMs,
    // A socket with no traffic either way: one that never sends, or a reader that stops reading.
    connectionTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: { headersTimeout: Math.min(HEADERS_TIMEOUT_MS, limits.requestTimeoutMs), connectionsCheckingInterval: CHECK_INTERVAL_MS }
  }
}
