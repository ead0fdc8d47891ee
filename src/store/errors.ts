// Which driver failures mean "the database is unavailable" (503, retry later) or "out of disk space" (507) rather than a bug (500).
import { StoreFullError, StoreUnavailableError } from '../domain/errors.js'
import { BACKENDS, backendFor } from './backends.js'

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN'])
// tarn's acquire timeout, raised by knex's pool whatever the database.
const POOL_TIMEOUT = /operation timed out/i

function codeOf (error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** True for a failure to reach the database or to get its answer in time, false for everything else. */
export function isUnavailable (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = codeOf(error)
  if (code !== undefined && (NETWORK_CODES.has(code) || BACKENDS.some((backend) => backend.unavailableCodes.test(code)))) return true
  if (error.name === 'KnexTimeoutError' || POOL_TIMEOUT.test(error.message)) return true
  return BACKENDS.some((backend) => backend.unavailableMessages?.test(error.message) === true)
}

/** True when the database (or the file system under it) has run out of space. */
export function isFull (error: unknown): boolean {
  const code = codeOf(error)
  return code !== undefined && (code === 'ENOSPC' || BACKENDS.some((backend) => backend.fullCodes.test(code)))
}

/** The store's failure as the domain knows it: StoreFullError, StoreUnavailableError, or the error itself. */
export function storeFailure (error: unknown): unknown {
  if (isFull(error)) return new StoreFullError(error)
  return isUnavailable(error) ? new StoreUnavailableError(error) : error
}

/** DATABASE_URL refused by its server (no such database, a role that may not log in): the process cannot work with it. */
export class DatabaseUrlError extends Error {
  readonly variable = 'DATABASE_URL'
  constructor (detail: string) {
    super(`DATABASE_URL: ${detail}`)
    this.name = 'DatabaseUrlError'
  }
}

/** A connection's failure as a DatabaseUrlError when the server refused DATABASE_URL itself; else the error itself. */
export function connectionFailure (error: unknown, databaseUrl: string): unknown {
  const refusal = backendFor(databaseUrl)?.refusal?.(error, databaseUrl) ?? null
  return refusal === null ? error : new DatabaseUrlError(refusal)
}
