// The domain's failures: a stable code and a message for a person, no HTTP status (src/http/errors.ts maps them).

export type DomainErrorCode =
  'INVALID_CURSOR' | 'MESSAGE_NOT_FOUND' | 'MSG_ID_CONFLICT' | 'INBOX_FULL' | 'STORE_UNAVAILABLE' | 'STORE_FULL' | 'TOO_MANY_WAITERS' |
  'TOO_MANY_DEVICES' | 'DEVICE_REQUIRED' | 'DEVICE_NOT_FOUND' | 'EVENTS_OFF'

export class DomainError extends Error {
  constructor (readonly code: DomainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DomainError'
  }
}

/** The store could not reach its database, or did not get its answer in time: the caller may retry later. */
export class StoreUnavailableError extends DomainError {
  constructor (cause: unknown) {
    super('STORE_UNAVAILABLE', 'the message store is unavailable; retry later', { cause })
    this.name = 'StoreUnavailableError'
  }
}

/** The database is out of disk space: nothing new can be stored until there is room again. */
export class StoreFullError extends DomainError {
  constructor (cause: unknown) {
    super('STORE_FULL', 'the message store is out of disk space: no new message can be stored until an operator frees space ' +
      'or grows the volume; reads and acks still work, and acks make room', { cause })
    this.name = 'StoreFullError'
  }
}

export const domainErrors = {
  invalidCursor: () => new DomainError('INVALID_CURSOR', 'cursor is not one this service issued for this listing; start again without a cursor'),
  messageNotFound: (msgId: string) => new DomainError('MESSAGE_NOT_FOUND', `no pending message with msg_id "${msgId}" for this receiver`),
  msgIdConflict: (msgId: string) => new DomainError('MSG_ID_CONFLICT',
    `msg_id "${msgId}" is already stored for this receiver with a different sender_uid, msg_type, content or collapse_key`),
  inboxFull: (receiverUid: string, max: number) => new DomainError('INBOX_FULL',
    `receiver "${receiverUid}" already holds ${max} pending messages; it must ack some before more can be stored`),
  tooManyDevices: (receiverUid: string, max: number) => new DomainError('TOO_MANY_DEVICES',
    `receiver "${receiverUid}" already has ${max} devices (MAX_DEVICES_PER_RECEIVER); unregister one before registering another`),
  deviceRequired: (receiverUid: string) => new DomainError('DEVICE_REQUIRED',
    `receiver "${receiverUid}" has registered devices: say which one with device_id`),
  deviceNotFound: (receiverUid: string, deviceId: string) => new DomainError('DEVICE_NOT_FOUND',
    `device "${deviceId}" is not registered for receiver "${receiverUid}"; register it with PUT /v1/receivers/${receiverUid}/devices/${deviceId}`),
  tooManyWaiters: (max: number) => new DomainError('TOO_MANY_WAITERS',
    `this instance already holds ${max} waiting requests (MAX_WAITERS); retry after Retry-After seconds, or without wait_seconds`)
}
