// Graceful shutdown: on SIGTERM the real service stops accepting, finishes what is in flight, keeps what it acknowledged, and exits 0 in bounded time.
import { connect } from 'node:net'
import t from 'tap'
import { AUTH } from '../helpers/app.js'
import { createTestDatabase, TEST_STORE } from '../helpers/database.js'
import { startService, type ServiceProcess } from '../helpers/process.js'

const LOOPS = 30
const MAX_REQUESTS = 2000
const SIGTERM_AFTER_MS = 500
const FIRST_ACK_WITHIN_MS = 10_000 // on a loaded machine the burst's first 201 can take longer than SIGTERM_AFTER_MS
const SHUTDOWN_TIMEOUT_MS = 10_000
const EXIT_MARGIN_MS = 5000 // the process gets SHUTDOWN_TIMEOUT_MS + this before the test calls it hung
const REQUEST_TIMEOUT_MS = 10_000 // a hang detector, not a speed target
const RECEIVERS = ['down-r0', 'down-r1', 'down-r2', 'down-r3']

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves with the exit code, or 'timeout' when the process is still alive after `ms`. */
async function exitWithin (service: ServiceProcess, ms: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<string>((resolve) => { timer = setTimeout(() => { resolve('timeout') }, ms) })
  const result = await Promise.race([service.exited, timeout])
  clearTimeout(timer)
  return result
}

function storeBody (msgId: string, receiver: string): string {
  return JSON.stringify({ receiver_uid: receiver, sender_uid: 'down-sender', msg_id: msgId, msg_type: 1, content: `content of ${msgId}` })
}

/** Tries a new TCP connection: 'refused', 'connected' or another error code. */
async function tryConnect (url: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) })
    socket.setTimeout(2000, () => { socket.destroy(); resolve('timeout') })
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (error: NodeJS.ErrnoException) => { resolve(error.code === 'ECONNREFUSED' ? 'refused' : error.code ?? 'error') })
  })
}

/** Splits what a raw HTTP/1.1 socket received into its responses (status and body; bodies here are small JSON). */
function responsesOf (raw: string): Array<{ status: number, body: string }> {
  const out: Array<{ status: number, body: string }> = []
  const pattern = /HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/g
  for (let match = pattern.exec(raw); match !== null; match = pattern.exec(raw)) {
    const length = Number(/content-length: *(\d+)/i.exec(match[2] ?? '')?.[1] ?? 0)
    const start = match.index + match[0].length
    out.push({ status: Number(match[1]), body: raw.slice(start, start + length) })
    pattern.lastIndex = start + length
  }
  return out
}

/**
 * A store whose body arrives in two parts, so it is in flight for as long as the test wants; `finish` sends
 * the rest and, pipelined on the same keep-alive connection, a second store that arrives during the drain.
 */
function startSlowStore (url: string, msgId: string, lateMsgId: string): { finish: () => Promise<Array<{ status: number, body: string }>>, connectionHeader: () => string } {
  const { hostname, port } = new URL(url)
  const body = Buffer.from(storeBody(msgId, 'down-slow'))
  const late = Buffer.from(storeBody(lateMsgId, 'down-slow'))
  const head = (length: number) =>
    `POST /v1/messages HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: ${AUTH.router.authorization}\r\n` +
    `content-type: application/json\r\ncontent-length: ${length}\r\n\r\n`
  const socket = connect({ host: hostname, port: Number(port) })
  let raw = ''
  const closed = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => { raw += chunk.toString('utf8') })
    socket.on('close', () => { resolve() })
    socket.on('error', () => { /* the close event follows */ })
  })
  socket.write(head(body.length))
  socket.write(body.subarray(0, 10))
  return {
    connectionHeader: () => /\r\nconnection: *([^\r]*)/i.exec(raw)?.[1] ?? '',
    finish: async () => {
      socket.write(Buffer.concat([body.subarray(10), Buffer.from(head(late.length)), late]))
      await Promise.race([closed, sleep(REQUEST_TIMEOUT_MS)])
      socket.destroy()
      return responsesOf(raw)
    }
  }
}

async function pendingIds (url: string, receivers: readonly string[]): Promise<Set<string>> {
  const ids = new Set<string>()
  for (const receiver of receivers) {
    let cursor: string | null = null
    for (let pages = 0; pages < 100; pages++) {
      const query: string = cursor === null ? '?limit=1000' : `?limit=1000&cursor=${encodeURIComponent(cursor)}`
      const response = await fetch(`${url}/v1/receivers/${receiver}/messages${query}`, { headers: AUTH.gateway, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
      if (response.status !== 200) throw new Error(`page of ${receiver} answered ${response.status}`)
      const page = await response.json() as { messages: Array<{ msg_id: string }>, next_cursor: string | null, has_more: boolean }
      for (const message of page.messages) ids.add(message.msg_id)
      if (!page.has_more) break
      cursor = page.next_cursor
    }
  }
  return ids
}

t.test(`SIGTERM under a burst of stores: in-flight stores finish, acknowledged ones are kept, new connections are refused, exit 0 (${TEST_STORE})`, async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  const service = await startService(t, { DATABASE_URL: databaseUrl, SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) })

  const acked = new Set<string>()
  const unexpected: string[] = []
  const unavailable: string[] = []
  let connectionErrors = 0
  let issued = 0
  let terminatedAt = 0

  const slow = startSlowStore(service.url, 'down-slow-1', 'down-late-1')
  await sleep(100) // its headers are read before the SIGTERM

  const loop = async (index: number) => {
    const receiver = RECEIVERS[index % RECEIVERS.length] ?? 'down-r0'
    for (let i = 0; issued < MAX_REQUESTS; i++) {
      issued++
      const msgId = `down-${index}-${i}`
      try {
        const response = await fetch(`${service.url}/v1/messages`, {
          method: 'POST',
          headers: { ...AUTH.router, 'content-type': 'application/json' },
          body: storeBody(msgId, receiver),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
        })
        const text = await response.text()
        if (response.status === 201) { acked.add(msgId); continue }
        if (response.status === 503) unavailable.push(text)
        else unexpected.push(`${msgId}: ${response.status} ${text}`)
      } catch (error) {
        if ((error as Error).name === 'TimeoutError') unexpected.push(`${msgId}: no answer within ${REQUEST_TIMEOUT_MS} ms`)
        else connectionErrors++
      }
      // After a refusal, a 503 or an error, nothing more is promised: this loop is done.
      return
    }
  }

  const burst = Promise.all(Array.from({ length: LOOPS }, (_, index) => loop(index)))
  await sleep(SIGTERM_AFTER_MS)
  // The SIGTERM is meant to land in the middle of the burst, after some stores were acknowledged: a fixed sleep alone
  // sent it before the first 201 on a loaded machine. The assertion below still fails when none comes in time.
  for (const until = Date.now() + FIRST_ACK_WITHIN_MS; acked.size === 0 && Date.now() < until;) await sleep(20)
  const ackedBeforeTerm = acked.size
  terminatedAt = Date.now()
  service.signal('SIGTERM')

  // The slow store holds the process open: a refusal now comes from a closed listener, not from a dead process.
  let connection = 'connected'
  for (let attempt = 0; attempt < 100 && connection === 'connected'; attempt++) {
    await sleep(50)
    connection = await tryConnect(service.url)
  }
  const aliveWhenRefused = service.child.exitCode === null && service.child.signalCode === null
  t.equal(connection, 'refused', `after the SIGTERM a new connection is refused (${Date.now() - terminatedAt} ms after it)`)
  t.ok(aliveWhenRefused, 'the refusal came while the process was still finishing its in-flight work')

  const [slowAnswer, lateAnswer] = await slow.finish()
  const slowDoneMs = Date.now() - terminatedAt
  t.equal(slowAnswer?.status, 201, 'the store in flight at the SIGTERM is finished with 201')
  // During the drain every answer says Connection: close, so a store pipelined behind the in-flight one is either
  // refused with 503 SHUTTING_DOWN (the contract's error shape) or never read at all; either way it is not stored.
  if (lateAnswer !== undefined) {
    t.equal(lateAnswer.status, 503, 'a store that arrives during the drain on a live connection answers 503')
    let lateBody: unknown = lateAnswer.body
    try {
      lateBody = JSON.parse(lateAnswer.body)
    } catch { /* kept as text */ }
    t.match(lateBody, { statusCode: 503, code: 'SHUTTING_DOWN', error: 'Service Unavailable', message: String },
      'and that 503 has the contract\'s error shape, code included')
  } else {
    t.match(slow.connectionHeader(), /close/i, 'the in-flight answer closed its connection, so the pipelined store was never read')
  }
  await burst
  const code = await exitWithin(service, SHUTDOWN_TIMEOUT_MS + EXIT_MARGIN_MS)
  const exitMs = Date.now() - terminatedAt
  t.equal(code, 0, `the process exits with code 0 within SHUTDOWN_TIMEOUT_MS + ${EXIT_MARGIN_MS} ms (${exitMs} ms after the SIGTERM)`)
  t.same(unexpected, [], 'every store answered 201, 503 or lost its connection: no other status, no hang')
  t.ok(ackedBeforeTerm > 0, `stores were acknowledged before the SIGTERM (${ackedBeforeTerm})`)

  const restarted = await startService(t, { DATABASE_URL: databaseUrl })
  const present = await pendingIds(restarted.url, [...RECEIVERS, 'down-slow'])
  const lost = [...acked, 'down-slow-1'].filter((msgId) => !present.has(msgId))
  t.same(lost, [], 'every acknowledged store is present after a restart')
  t.notOk(present.has('down-late-1'), 'the store refused (or never read) during the drain was not stored')
  t.comment(`${TEST_STORE}: SIGTERM exit ${exitMs} ms (the test held a store open for ${slowDoneMs} ms of it); acked ${acked.size + 1} (${acked.size - ackedBeforeTerm} after the SIGTERM), lost ${lost.length}; ` +
    `${unavailable.length} answered 503, ${connectionErrors} lost their connection`)
  t.equal(await restarted.stop(), 0, 'the restarted service closes cleanly')
})

t.test(`SIGTERM on an idle service, an idle keep-alive connection open, exits 0 promptly (${TEST_STORE})`, async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  // A long grace delay: should the close wait for it, the bound below catches that.
  const service = await startService(t, { DATABASE_URL: databaseUrl, SHUTDOWN_TIMEOUT_MS: '60000' })
  const response = await fetch(`${service.url}/v1/receivers/idle/senders`, { headers: AUTH.gateway, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  t.equal(response.status, 200, 'a request leaves an idle keep-alive connection behind')
  await response.arrayBuffer()

  const started = Date.now()
  service.signal('SIGTERM')
  const code = await exitWithin(service, 5000)
  const exitMs = Date.now() - started
  t.equal(code, 0, `exits with code 0 well before its grace delay (${exitMs} ms)`)
  t.match(service.output(), /closing: no new requests/, 'it says why it closes')
  t.comment(`${TEST_STORE}: idle SIGTERM exit ${exitMs} ms`)
})

t.test(`a keep-alive connection whose request finished during the drain does not hold the shutdown past its grace delay (${TEST_STORE})`, async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  // A grace delay shorter than the 5 s keep-alive timeout: the close must not wait for a well-behaved client to hang up.
  const graceMs = 3000
  const service = await startService(t, { DATABASE_URL: databaseUrl, SHUTDOWN_TIMEOUT_MS: String(graceMs) })
  const { hostname, port } = new URL(service.url)
  const body = Buffer.from(storeBody('keepalive-1', 'down-keepalive'))
  const socket = connect({ host: hostname, port: Number(port) })
  t.teardown(() => { socket.destroy() })
  let raw = ''
  socket.on('data', (chunk: Buffer) => { raw += chunk.toString('utf8') })
  socket.on('error', () => { /* the exit code tells */ })
  socket.write(
    `POST /v1/messages HTTP/1.1\r\nhost: ${hostname}:${port}\r\nauthorization: ${AUTH.router.authorization}\r\n` +
    `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`
  )
  socket.write(body.subarray(0, 10))
  await sleep(200)

  const started = Date.now()
  service.signal('SIGTERM')
  await sleep(200)
  socket.write(body.subarray(10)) // the request completes; the client then keeps its connection, as keep-alive clients do
  const code = await exitWithin(service, graceMs + EXIT_MARGIN_MS)
  const exitMs = Date.now() - started
  const [answer] = responsesOf(raw)
  t.equal(answer?.status, 201, 'the request in flight at the SIGTERM is answered 201')
  t.equal(code, 0, `the process exits 0, not killed by its own ${graceMs} ms grace timer (exit ${String(code)} after ${exitMs} ms)`)
  t.notMatch(service.output(), /killed by timeout/, 'close-with-grace did not have to kill it')
  t.comment(`${TEST_STORE}: keep-alive client during the drain: exit ${String(code)} after ${exitMs} ms; the answer said "${/\r\nconnection: *([^\r]*)/i.exec(raw)?.[1] ?? '?'}"`)
})
