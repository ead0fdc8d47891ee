// Every error the service answers, as {statusCode, code, error, message}: the HTTP layer's own failures, the one
// mapping of the domain's failures to the contract's status codes, and the error handler that shapes them all.
import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { DomainError, type DomainErrorCode } from '../domain/errors.js'

export const VALIDATION_CODE = 'FST_ERR_VALIDATION'

/** A failure of the HTTP layer itself (authentication, routing, request shape, shutdown), with its status. */
export class HttpError extends Error {
  constructor (readonly statusCode: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
    this.name = 'HttpError'
  }
}

export const httpErrors = {
  invalid: (message: string) => new HttpError(400, VALIDATION_CODE, message),
  unauthorized: () => new HttpError(401, 'UNAUTHORIZED', 'a valid API key is required: send Authorization: Bearer <key>', { 'www-authenticate': 'Bearer' }),
  forbidden: (scope: string) => new HttpError(403, 'FORBIDDEN', `this API key lacks the "${scope}" scope this operation needs`),
  routeNotFound: (method: string, url: string) => new HttpError(404, 'ROUTE_NOT_FOUND', `no route ${method} ${url.split('?')[0] ?? ''}`),
  rateLimited: (retryAfterSeconds: number) => new HttpError(429, 'RATE_LIMITED',
    `too many requests for this API key; retry after ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) }),
  notReady: (code: string, message: string) => new HttpError(503, code, message, { 'retry-after': '1' }),
  shuttingDown: () => new HttpError(503, 'SHUTTING_DOWN', 'this instance is shutting down; retry on another one', { 'retry-after': '1', connection: 'close' })
}

/** The contract's status (and headers) for each failure of the domain. */
const DOMAIN_STATUS: Record<DomainErrorCode, { status: number, headers?: Record<string, string> }> = {
  INVALID_CURSOR: { status: 400 },
  MESSAGE_NOT_FOUND: { status: 404 },
  MSG_ID_CONFLICT: { status: 409 },
  INBOX_FULL: { status: 429 },
  STORE_UNAVAILABLE: { status: 503, headers: { 'retry-after': '1' } },
  STORE_FULL: { status: 507 },
  TOO_MANY_WAITERS: { status: 503, headers: { 'retry-after': '1' } },
  TOO_MANY_DEVICES: { status: 409 },
  DEVICE_REQUIRED: { status: 400 },
  DEVICE_NOT_FOUND: { status: 404 },
  EVENTS_OFF: { status: 404 }
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

interface Answer { status: number, code: string, message: string, headers: Record<string, string> }

function classify (error: FastifyError | Error): Answer {
  if (error instanceof HttpError) return { status: error.statusCode, code: error.code, message: error.message, headers: error.headers }
  if (error instanceof DomainError) {
    const { status, headers = {} } = DOMAIN_STATUS[error.code]
    return { status, code: error.code, message: error.message, headers }
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
  const error = httpErrors.routeNotFound(request.method, request.url)
  void reply.code(404).send(errorBody(404, error.code, error.message))
}

/** Fastify's constructor option for errors the router raises before any route (a malformed percent-encoding, say). */
export const frameworkErrors: FastifyServerOptions['frameworkErrors'] = (error, _request, reply: FastifyReply) => {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400
  void reply.code(status).send(errorBody(status, error.code, error.message))
}

/** The error handler, the 404 handler, and an unknown route answered 404 before its body is read (no 400, 413 or 415). */
export const errorHandling = fp(async (app) => {
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) notFoundHandler(request, reply)
    else done()
  })
}, { name: 'error-handling' })
