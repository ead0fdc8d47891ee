// Slow and idle callers against the real service (SQLite file, the service's defaults): how long each is kept, how
// much the other callers' stores are delayed meanwhile, and the service's RSS. `npx tsx bench/slow-clients.ts`.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AUTH } from '../test/helpers/app.js'
import { startService } from '../test/helpers/process.js'

const COUNT = { trickle: 50, slowReaders: 50, idle: 2000 }
const teardowns: Array<() => unknown> = []
const dir = mkdtempSync(join(tmpdir(), 'om-slow-'))
const env: Record<string, string> = { DATABASE_URL: `sqlite:${join(dir, 'messages.db')}`, LOG_LEVEL: 'warn', ...process.env.REQUEST_TIMEOUT_MS === undefined ? {} : { REQUEST_TIMEOUT_MS: process.env.REQUEST_TIMEOUT_MS } }
const service = await startService({ teardown: (fn) => { teardowns.push(fn) } }, { ...env, LOG_LEVEL: 'info' })
const { hostname, port } = new URL(service.url)
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${service.child.pid ?? 0}/status`, 'utf8'))?.[1] ?? 0) / 1024
const openFds = () => readdirSync(`/proc/${service.child.pid ?? 0}/fd`).length
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const headers = { ...AUTH.admin, 'content-type': 'application/json' }
let seq = 0

async function storeLatencies (n: number): Promise<{ p50: number, p99: number, max: number }> {
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    const res = await fetch(`${service.url}/v1/messages`, { method: 'POST', headers, body: JSON.stringify({ receiver_uid: 'probe', sender_uid: 'bench', msg_id: `p-${seq++}`, msg_type: 1, content: 'hi' }) })
    await res.arrayBuffer()
    if (res.status !== 201) throw new Error(`store answered ${res.status}`)
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  const at = (q: number) => Number((times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0).toFixed(1))
  return { p50: at(0.5), p99: at(0.99), max: at(1) }
}

interface Opened { socket: Socket }
function open (onConnect: (socket: Socket) => void): Opened {
  const socket = connect({ host: hostname, port: Number(port) })
  socket.on('error', () => {})
  socket.on('connect', () => { onConnect(socket) })
  return { socket }
}

/** Runs the attack, measures stores and RSS meanwhile, and how long the service holds the connections (its open fds). */
async function scenario (name: string, attack: () => Opened[]): Promise<void> {
  const fdsBefore = openFds()
  const rssBefore = rssMb()
  const started = Date.now()
  const attackers = attack()
  await sleep(1000)
  const fdsDuring = openFds()
  const latency = await storeLatencies(200)
  const rssDuring = rssMb()
  while (openFds() > fdsBefore + 5 && Date.now() - started < 150_000) await sleep(250)
  const heldS = ((Date.now() - started) / 1000).toFixed(1)
  for (const attacker of attackers) attacker.socket.destroy()
  console.log(JSON.stringify({ scenario: name, connections: attackers.length, fds: { before: fdsBefore, during: fdsDuring }, storeMs: latency, rssMb: { before: rssBefore.toFixed(0), during: rssDuring.toFixed(0), after: rssMb().toFixed(0) }, serviceHeldThemS: heldS }))
  await sleep(1000)
}

try {
  console.log(JSON.stringify({ scenario: 'baseline', storeMs: await storeLatencies(300), rssMb: rssMb().toFixed(0) }))

  // One byte a second of a request head, never finished.
  const head = `GET /v1/receivers/bob/senders HTTP/1.1\r\nhost: x\r\nauthorization: ${AUTH.admin.authorization}\r\n`
  await scenario('one byte a second', () => Array.from({ length: COUNT.trickle }, () => open((socket) => {
    let i = 0
    const timer = setInterval(() => { if (socket.writable && i < head.length) socket.write(head[i++] ?? '') }, 1000)
    socket.on('close', () => { clearInterval(timer) })
  })))

  // A page of 1,000 messages of 1,000 characters, read one byte a second.
  for (let batch = 0; batch < 2; batch++) {
    const messages = Array.from({ length: 500 }, (_, i) => ({ receiver_uid: 'big', sender_uid: 'bench', msg_id: `b-${batch}-${i}`, msg_type: 1, content: 'x'.repeat(1000) }))
    const res = await fetch(`${service.url}/v1/messages/batch`, { method: 'POST', headers, body: JSON.stringify({ messages }) })
    if (res.status !== 200) throw new Error(`batch answered ${res.status}`)
  }
  await scenario('reads a page of 1,000 one byte a second', () => Array.from({ length: COUNT.slowReaders }, () => open((socket) => {
    socket.pause()
    socket.write(`GET /v1/receivers/big/messages?limit=1000 HTTP/1.1\r\nhost: x\r\nauthorization: ${AUTH.admin.authorization}\r\n\r\n`)
    const timer = setInterval(() => { socket.read(1) }, 1000)
    socket.on('close', () => { clearInterval(timer) })
  })))

  // Keep-alive connections left idle after one request, and connections that never send anything.
  await scenario('idle keep-alive after one request', () => Array.from({ length: COUNT.idle }, () => open((socket) => {
    socket.on('data', () => {})
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n')
  })))
  await scenario('idle, nothing sent', () => Array.from({ length: COUNT.idle }, () => open(() => {})))
} finally {
  await service.stop()
  for (const fn of teardowns) await fn()
  rmSync(dir, { recursive: true, force: true })
}
