// A webhook receiver for the tests: a node:http server that records each request, checks its signature with the
// standardwebhooks library (as a receiver would), and answers each one as the test says.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { sleep } from './wait.js'

/** whsec_ and the base64 of 32 bytes. */
export const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`

/**
 * How to answer one request: a status (after `delayMs`), `hang` (never), `destroy` (close the socket unanswered),
 * `garbage` (bytes that are not HTTP).
 */
export type Answer = number | 'hang' | 'destroy' | 'garbage' | { status: number, delayMs?: number, headers?: Record<string, string> }

export interface WebhookEvent { id: string, type: string, msg_id: string | null, receiver_uid: string, [field: string]: unknown }

export interface Received {
  headers: IncomingMessage['headers']
  body: string
  events: WebhookEvent[]
  /** Whether Webhook.verify of the standardwebhooks library accepted it with WEBHOOK_SECRET. */
  verified: boolean
  at: number
}

export interface Receiver {
  url: string
  received: Received[]
  /** The answers to the next requests, in order; then `otherwise`. */
  answers: Answer[]
  otherwise: Answer
  /** Requests being answered right now, and the most there ever were at once. */
  inFlight: number
  maxInFlight: number
  /** Every event received, in order of arrival (a batch sent twice, twice). */
  events (): WebhookEvent[]
  /** Resolves once `done()` holds (checked every 10 ms), rejects after `timeoutMs`. */
  until (done: () => boolean, timeoutMs?: number): Promise<void>
  close (): Promise<void>
}

interface Tap { teardown (fn: () => unknown): void }


function answer (request: IncomingMessage, response: ServerResponse, how: Answer, done: () => void): void {
  if (how === 'hang') return
  if (how === 'destroy') {
    request.socket.destroy()
    done()
    return
  }
  if (how === 'garbage') {
    request.socket.end('this is not HTTP\r\n\r\n')
    done()
    return
  }
  const { status, delayMs = 0, headers = {} } = typeof how === 'number' ? { status: how } : how
  setTimeout(() => {
    response.writeHead(status, headers).end()
    done()
  }, delayMs)
}

export async function startReceiver (t: Tap, secret = WEBHOOK_SECRET): Promise<Receiver> {
  const verifier = new Webhook(secret)
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let verified = true
      try {
        verifier.verify(body, request.headers as Record<string, string>)
      } catch {
        verified = false
      }
      let events: WebhookEvent[] = []
      try {
        events = (JSON.parse(body) as { events: WebhookEvent[] }).events
      } catch {}
      receiver.received.push({ headers: request.headers, body, events, verified, at: Date.now() })
      receiver.inFlight++
      receiver.maxInFlight = Math.max(receiver.maxInFlight, receiver.inFlight)
      let answered = false
      const done = (): void => {
        if (answered) return
        answered = true
        receiver.inFlight--
      }
      request.socket.once('close', done)
      answer(request, response, receiver.answers.shift() ?? receiver.otherwise, done)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/offline-messages`,
    received: [],
    answers: [],
    otherwise: 204,
    inFlight: 0,
    maxInFlight: 0,
    events: () => receiver.received.flatMap((request) => request.events),
    async until (done, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`the receiver did not get what was expected within ${timeoutMs} ms (${receiver.received.length} requests)`)
        await sleep(10)
      }
    },
    close
  }
  t.teardown(close)
  return receiver
}
