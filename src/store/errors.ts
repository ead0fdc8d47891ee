// The store's own failure: the database could not be reached or did not answer in time.

/** The caller may retry later; the HTTP layer answers 503 STORE_UNAVAILABLE. */
export class StoreUnavailableError extends Error {
  constructor (readonly reason: unknown) {
    super('the message store is unavailable')
    this.name = 'StoreUnavailableError'
  }
}
