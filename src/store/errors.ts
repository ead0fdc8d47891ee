// The store's own failure: the database could not be reached or did not answer in time.

/** The caller may retry later; the HTTP layer answers 503 STORE_UNAVAILABLE. */
export class StoreUnavailableError extends Error {
  constructor (readonly reason: unknown) {
    super('the message store is unavailable')
    this.name = 'StoreUnavailableError'
  }
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006', '57014'
])
// better-sqlite3's codes, extended ones included (SQLITE_IOERR_FSYNC, SQLITE_BUSY_TIMEOUT, ...).
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/

// What pg, pg-pool, tarn and knex throw, without a code, when the server cannot be reached or stops answering
// ('timeout expired' is pg's connect timeout; 'operation timed out' is tarn's acquire timeout).
const UNAVAILABLE_MESSAGE = new RegExp([
  'Connection terminated', 'Connection ended unexpectedly', 'timeout expired', 'timeout exceeded when trying to connect',
  'operation timed out', 'Client has encountered a connection error', 'Client was closed', 'Query read timeout'
].join('|'), 'i')

/** True for a failure to reach the database or to get its answer in time (503), false for everything else (500). */
export function isUnavailable (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || SQLITE_UNAVAILABLE.test(code))) return true
  return error.name === 'KnexTimeoutError' || UNAVAILABLE_MESSAGE.test(error.message)
}
