// Every error code the service answers, and the one error handler that shapes them all as {statusCode, code, error, message}.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { StoreUnavailableError } from './store/errors.js'

export const VALIDATION_CODE = 'FST_ERR_VALIDATION'

/** An error the service answers on purpose, with a stable code. */
export class ServiceError extends Error {
  constructor (readonly statusCode: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
    this.name = 'ServiceError'
  }
}

export const errors = {
  invalid: (message: string) => new ServiceError(400, VALIDATION_CODE, message),
  invalidCursor: () => new ServiceError(400, 'INVALID_CURSOR', 'cursor is not one this service issued for this listing; start again without a cursor'),
  unauthorized: () => new ServiceError(401, 'UNAUTHORIZED', 'a valid API key is required: send Authorization: Bearer <key>', { 'www-authenticate': 'Bearer' }),
  forbidden: (scope: string) => new ServiceError(403, 'FORBIDDEN', `this API key lacks the "${scope}" scope this operation needs`),
  messageNotFound: (msgId: string) => new ServiceError(404, 'MESSAGE_NOT_FOUND', `no pending message with msg_id "${msgId}" for this receiver`),
  routeNotFound: (method: string, url: string) => new ServiceError(404, 'ROUTE_NOT_FOUND', `no route ${method} ${url.split('?')[0] ?? ''}`),
  msgIdConflict: (msgId: string) => new ServiceError(409, 'MSG_ID_CONFLICT',
    `msg_id "${msgId}" is already stored for this receiver with a different sender_uid, msg_type or content`),
  inboxFull: (receiverUid: string, max: number) => new ServiceError(429, 'INBOX_FULL',
    `receiver "${receiverUid}" already holds ${max} pending messages; it must ack some before more can be stored`),
  rateLimited: (retryAfterSeconds: number) => new ServiceError(429, 'RATE_LIMITED',
    `too many requests for this API key; retry after ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) }),
  storeUnavailable: () => new ServiceError(503, 'STORE_UNAVAILABLE', 'the message store is unavailable; retry later', { 'retry-after': '1' }),
  shuttingDown: () => new ServiceError(503, 'SHUTTING_DOWN', 'this instance is shutting down; retry on another one', { 'retry-after': '1', connection: 'close' })
}

export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

export function errorBody (statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

function classify (error: FastifyError | Error): { status: number, code: string, message: string, headers: Record<string, string> } {
  if (error instanceof ServiceError) return { status: error.statusCode, code: error.code, message: error.message, headers: error.headers }
  if (error instanceof StoreUnavailableError) {
    const unavailable = errors.storeUnavailable()
    return { status: 503, code: unavailable.code, message: unavailable.message, headers: unavailable.headers }
  }
  const fastifyError = error as FastifyError
  if (fastifyError.validation !== undefined) {
    return { status: 400, code: VALIDATION_CODE, message: fastifyError.message, headers: {} }
  }
  const status = fastifyError.statusCode
  if (status !== undefined && status >= 400 && status < 500) {
    const code = typeof fastifyError.code === 'string' && /^[A-Z0-9_]+$/.test(fastifyError.code) ? fastifyError.code : 'BAD_REQUEST'
    return { status, code, message: fastifyError.message, headers: {} }
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: 'internal error; it has been logged', headers: {} }
}

export function errorHandler (this: FastifyInstance, error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const { status, code, message, headers } = classify(error)
  if (status === 503) request.log.warn({ code }, message)
  else if (status >= 500) request.log.error({ err: error }, 'request failed')
  else request.log.info({ code }, message)
  void reply.code(status).headers(headers).send(errorBody(status, code, message))
}

export function notFoundHandler (request: FastifyRequest, reply: FastifyReply): void {
  const error = errors.routeNotFound(request.method, request.url)
  void reply.code(404).send(errorBody(404, error.code, error.message))
}
