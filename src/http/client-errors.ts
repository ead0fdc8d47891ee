// Requests that Node's HTTP parser refuses before Fastify sees them (a head over the size limit, bytes that are not
// HTTP, an unknown method, a request that took too long): answered in the contract's error shape with
// Connection: close, and the socket closed only once that answer has been flushed and the client has had time to read it.
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { errorBody } from './errors.js'

interface Refusal { status: number, code: string, message: string }

/** Node's limit on a request's head (request line and headers), the default of --max-http-header-size. */
const MAX_HEAD_BYTES = 16 * 1024
/** How long a refused client has to read the answer and close its end before the socket is destroyed. */
const LINGER_MS = 2_000

const refused = new WeakSet<Socket>()

/**
 * Node reports a request line and headers over the limit alike (HPE_HEADER_OVERFLOW); the request line is the
 * culprit when the bytes parsed so far hold no end of line within the limit.
 */
function headTooLarge (error: ParserError): Refusal {
  const packet = error.rawPacket
  const endOfLine = packet === undefined ? 0 : packet.indexOf('\r\n')
  if (packet !== undefined && /^[A-Z]+ /.test(packet.subarray(0, 16).toString('latin1')) && (endOfLine === -1 || endOfLine >= MAX_HEAD_BYTES)) {
    return { status: 414, code: 'URI_TOO_LONG', message: `the request line is over ${MAX_HEAD_BYTES} bytes; shorten the URL` }
  }
  return { status: 431, code: 'REQUEST_HEADER_TOO_LARGE', message: `the request line and headers are over ${MAX_HEAD_BYTES} bytes together` }
}

interface ParserError extends Error { code?: string, reason?: string, rawPacket?: Buffer }

export function refusalOf (error: ParserError): Refusal {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW': return headTooLarge(error)
    case 'ERR_HTTP_REQUEST_TIMEOUT': return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request was not received in time' }
    case 'HPE_INVALID_METHOD': return { status: 400, code: 'BAD_REQUEST', message: 'unknown HTTP method' }
    case 'HPE_INVALID_URL': return { status: 400, code: 'BAD_REQUEST', message: 'the URL is not valid: characters outside ASCII must be percent-encoded' }
    default: return { status: 400, code: 'BAD_REQUEST', message: `the request is not valid HTTP/1.1${error.reason === undefined ? '' : `: ${error.reason}`}` }
  }
}

function answer ({ status, code, message }: Refusal): string {
  const body = JSON.stringify(errorBody(status, code, message))
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
}

/**
 * Fastify's clientErrorHandler. end() sends the answer and then FIN; the socket is destroyed when the client closes
 * its end, or after LINGER_MS. Destroying at once, as the default handler does, can turn the unread rest of the
 * request into a TCP reset that reaches the client before it has read the answer.
 */
export const clientErrorHandler: FastifyServerOptions['clientErrorHandler'] = function (this: FastifyInstance, connectionError, socket: Socket) {
  // Node's parser errors carry the bytes it was parsing as a Buffer (Fastify's type says otherwise).
  const error = connectionError as unknown as ParserError
  if (error.code === 'ECONNRESET' || socket.destroyed || refused.has(socket)) return
  refused.add(socket)
  const refusal = refusalOf(error)
  this.log.info({ code: refusal.code, reason: error.code }, `request refused: ${refusal.message}`)
  // An answer already under way on this socket cannot be followed by another one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy()
    return
  }
  const linger = setTimeout(() => { socket.destroy() }, LINGER_MS)
  linger.unref()
  socket.once('close', () => { clearTimeout(linger) })
  socket.on('end', () => { socket.destroy() })
  socket.resume()
  socket.end(answer(refusal))
}
