// Which driver failures mean "the database is unavailable" (503, retry later) rather than a bug (500).
import { StoreUnavailableError } from '../domain/errors.js'
import { BACKENDS } from './backends.js'

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN'])
// tarn's acquire timeout, raised by knex's pool whatever the database.
const POOL_TIMEOUT = /operation timed out/i

/** True for a failure to reach the database or to get its answer in time, false for everything else. */
export function isUnavailable (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || BACKENDS.some((backend) => backend.unavailableCodes.test(code)))) return true
  if (error.name === 'KnexTimeoutError' || POOL_TIMEOUT.test(error.message)) return true
  return BACKENDS.some((backend) => backend.unavailableMessages?.test(error.message) === true)
}

/** The store's failure as the domain knows it: StoreUnavailableError when unreachable, the error itself otherwise. */
export function storeFailure (error: unknown): unknown {
  return isUnavailable(error) ? new StoreUnavailableError(error) : error
}
