// Slow clients cannot hold the service: a stalled request is cut off after REQUEST_TIMEOUT_MS, and others are served meanwhile.
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { AUTH } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

// A hang detector, not a speed target: the service's own timeout is 1 s.
const CUT_OFF_WITHIN_MS = 15_000

interface Stalled { socket: Socket, closed: Promise<{ afterMs: number, answer: string }> }

/** Resolves with `value` after `ms`, without keeping the process alive once the test is done (a pending timer would). */
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => { setTimeout(() => { resolve(value) }, ms).unref() })

/** Opens a connection that sends the head of a store and part of its body, then stalls. */
function stall (url: string): Stalled {
  const { hostname, port } = new URL(url)
  const socket = connect({ host: hostname, port: Number(port) })
  const started = Date.now()
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8') })
  socket.on('error', () => { /* the close event follows */ })
  const closed = new Promise<{ afterMs: number, answer: string }>((resolve) => {
    socket.on('close', () => { resolve({ afterMs: Date.now() - started, answer }) })
  })
  socket.write(`POST /v1/messages HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: ${AUTH.router.authorization}\r\n` +
    'content-type: application/json\r\ncontent-length: 200\r\n\r\n{"receiver_uid":')
  return { socket, closed }
}

t.test('a client that stalls in the middle of its body is cut off, and what it sent is not stored', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }), REQUEST_TIMEOUT_MS: '1000' })
  const stalled = stall(service.url)
  const timer = setTimeout(() => { stalled.socket.destroy() }, CUT_OFF_WITHIN_MS)
  const { afterMs, answer } = await stalled.closed
  clearTimeout(timer)
  t.ok(afterMs < CUT_OFF_WITHIN_MS, `the service closed the stalled connection (after ${afterMs} ms)`)
  t.notMatch(answer, /^HTTP\/1\.1 2/, 'the stalled request got no success answer')
  const summary = await fetch(`${service.url}/v1/receivers/anyone/senders`, { headers: AUTH.gateway })
  t.equal(summary.status, 200)
})

t.test('a hundred stalled connections do not keep a normal request from being served', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }), REQUEST_TIMEOUT_MS: '1000' })
  const stalled = Array.from({ length: 100 }, () => stall(service.url))
  t.teardown(() => { for (const connection of stalled) connection.socket.destroy() })
  const response = await fetch(`${service.url}/v1/messages`, {
    method: 'POST',
    headers: { ...AUTH.router, 'content-type': 'application/json' },
    body: JSON.stringify({ receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'while-stalled', msg_type: 1, content: 'hi' }),
    signal: AbortSignal.timeout(CUT_OFF_WITHIN_MS)
  })
  t.equal(response.status, 201, 'a normal store is answered while 100 connections stall')
  const results = await Promise.all(stalled.map((connection) => Promise.race([
    connection.closed.then(() => 'closed'),
    after(CUT_OFF_WITHIN_MS, 'still open')
  ])))
  t.same([...new Set(results)], ['closed'], 'every stalled connection was closed by the service')
})

t.test('a client that trickles its head, a byte at a time, is cut off by the headers timeout, with 408', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }), REQUEST_TIMEOUT_MS: '1000' })
  const { hostname, port } = new URL(service.url)
  const socket = connect({ host: hostname, port: Number(port) })
  socket.on('error', () => { /* the close event follows */ })
  const head = 'GET /healthz HTTP/1.1\r\nhost: x\r\n' + 'x-slow: 1\r\n'.repeat(100)
  let sent = 0
  // Twice a second, so that the socket is never idle as long as REQUEST_TIMEOUT_MS: only the headers timeout can end it.
  const timer = setInterval(() => { if (socket.writable) socket.write(head[sent++ % head.length] ?? '') }, 500)
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('utf8') })
  const closed = await Promise.race([
    new Promise<string>((resolve) => socket.on('close', () => { resolve('closed') })),
    after(CUT_OFF_WITHIN_MS, 'still open')
  ])
  clearInterval(timer)
  socket.destroy()
  t.equal(closed, 'closed', `the service closed the connection (after ${sent} bytes)`)
  t.match(answer, /^HTTP\/1\.1 408 [^]*"code":"REQUEST_TIMEOUT"/, 'with 408 REQUEST_TIMEOUT in the error shape')
})
