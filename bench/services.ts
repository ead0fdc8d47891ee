// The servers a benchmark run starts (the service, the bare floor), the messages it preloads through them, and what it
// reads from them between runs.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { MESSAGES_PER_RECEIVER, preloadedMessage } from './data.js'

// prom-client samples the event loop with a 10 ms timer (its default eventLoopMonitoringPrecision) and reports the
// whole interval between ticks: an idle loop reads 10 ms. The tables show the delay beyond that tick.
const LOOP_SAMPLING_MS = 10

export interface Proc { child: ChildProcess, url: string, pid: number }

async function freePort (): Promise<number> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

/** Runs `node command` (`node`: this process's Node unless given) with HOST, PORT and `env`; answers once it serves. */
export async function start (command: string[], env: Record<string, string>, cwd?: string, node = process.execPath): Promise<Proc> {
  const port = await freePort()
  const child = spawn(node, command, {
    // The service's own defaults, LOG_LEVEL=info with its per-request lines included (written to /dev/null here).
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
    ...(cwd === undefined ? {} : { cwd })
  })
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok || (await fetch(`${url}/v1/receivers/x/senders`)).ok) return { child, url, pid: child.pid ?? 0 }
    } catch { /* not up yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${command.join(' ')} did not start`)
}

const SERVER_SCRIPT = 'dist/src/server.js'

/**
 * The environment and node flags of `checkout`'s own `npm start` (its package.json: `[NAME=value ...] node <flags>
 * dist/src/server.js`), so that each side of a comparison runs as it ships, with its own V8 and malloc settings.
 */
export function startCommand (checkout: string): { env: Record<string, string>, flags: string[] } {
  const pkg = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { scripts?: { start?: string } }
  const words = (pkg.scripts?.start ?? '').trim().split(/\s+/)
  const node = words.indexOf('node')
  const script = words.indexOf(SERVER_SCRIPT)
  const assignments = words.slice(0, Math.max(node, 0))
  if (node < 0 || script < node || !assignments.every((word) => /^[A-Z_][A-Z0-9_]*=\S*$/.test(word))) {
    throw new Error(`${checkout}/package.json: "start" is not "[NAME=value ...] node [flags] ${SERVER_SCRIPT}"`)
  }
  const env = Object.fromEntries(assignments.map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]))
  return { env, flags: words.slice(node + 1, script) }
}

/**
 * The service built in `checkout` (its dist/), on its defaults but for the database and a sweep every second, with
 * the environment and node flags of its `npm start`; `nodeFlags` go to node after those (--cpu-prof); `node` runs it
 * (this process's Node unless given); `env` adds to its environment (a side's configuration, --events).
 */
export async function startService (
  checkout: string, databaseUrl: string, nodeFlags: string[] = [], node?: string, env: Record<string, string> = {}
): Promise<Proc> {
  const command = startCommand(checkout)
  return await start([...command.flags, ...nodeFlags, join(checkout, SERVER_SCRIPT)],
    { ...command.env, DATABASE_URL: databaseUrl, SWEEP_INTERVAL_SECONDS: '1', ...env }, checkout, node)
}

export async function stop (proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
  proc.child.kill('SIGTERM')
  await new Promise((resolve) => proc.child.once('exit', resolve))
}

/** Requests from `count` tasks, `inFlight` at a time. */
async function inParallel (count: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => { while (next < count) await task(next++) }
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker))
}

async function post (url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`)
  return await response.json()
}

/** Stores receivers x perReceiver messages through the batch endpoint, 500 per request, 4 requests in flight. */
export async function preload (url: string, prefix: string, receivers: number, perReceiver: number, senders?: number): Promise<number> {
  const started = Date.now()
  const total = receivers * perReceiver
  await inParallel(Math.ceil(total / 500), 4, async (request) => {
    const messages = []
    for (let n = request * 500; n < Math.min(total, (request + 1) * 500); n++) messages.push(preloadedMessage(prefix, receivers, n, senders))
    await post(`${url}/v1/messages/batch`, { messages })
  })
  return (Date.now() - started) / 1000
}

/** The device ids the benchmark registers: `d0` to `d(devices - 1)`. */
export const deviceIds = (devices: number): string[] => Array.from({ length: devices }, (_, i) => `d${i}`)

/** Registers `devices` devices for each of the receivers `${prefix}-0` to `${prefix}-(receivers - 1)`, 8 requests in flight. */
export async function registerDevices (url: string, prefix: string, receivers: number, devices: number): Promise<void> {
  const ids = deviceIds(devices)
  await inParallel(receivers * devices, 8, async (i) => {
    const path = `${url}/v1/receivers/${prefix}-${Math.floor(i / devices)}/devices/${ids[i % devices] ?? ''}`
    const response = await fetch(path, { method: 'PUT' })
    if (response.status !== 201 && response.status !== 200) throw new Error(`PUT ${path} answered ${response.status}: ${await response.text()}`)
    await response.arrayBuffer()
  })
}

/** How many receivers `load-*` hold about `rows` preloaded messages, 200 each. */
export const receiversFor = (rows: number): number => Math.max(1, Math.floor(rows / MESSAGES_PER_RECEIVER))

/** Preloads about `rows` messages for the scenarios (receivers `load-*`, 200 each); answers how many receivers. */
export async function preloadRows (url: string, rows: number, label = ''): Promise<number> {
  const receivers = receiversFor(rows)
  const seconds = await preload(url, 'load', receivers, MESSAGES_PER_RECEIVER)
  process.stderr.write(`rows=${rows}${label}: preloaded ${receivers * MESSAGES_PER_RECEIVER} messages in ${seconds.toFixed(1)} s (${Math.round(receivers * MESSAGES_PER_RECEIVER / seconds)} msg/s through the batch path)\n`)
  return receivers
}

/**
 * A metric summed over its label sets (NaN when the service has none of that name): Prometheus' text format, with or
 * without labels or a timestamp, so that a counter that gains labels or is missing does not break a run.
 */
export function metric (text: string, name: string): number {
  let sum = NaN
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)/.exec(line)
    if (match?.[1] !== name) continue
    const value = Number(match[3])
    if (!Number.isNaN(value)) sum = Number.isNaN(sum) ? value : sum + value
  }
  return sum
}

export interface Metrics {
  /** The event-loop delay since the last read, in ms beyond the sampling tick. */
  max: number
  p99: number
  expired: number
  /** SQL statements sent to the database and network round trips to it, so far (NaN where the service counts none). */
  statements: number
  roundTrips: number
}

/** What the service's /metrics says; reading it resets the event-loop delay histogram. */
export async function readMetrics (url: string): Promise<Metrics> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return {
    max: metric(text, 'nodejs_eventloop_lag_max_seconds') * 1000 - LOOP_SAMPLING_MS,
    p99: metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000 - LOOP_SAMPLING_MS,
    expired: metric(text, 'offline_messages_expired_total'),
    statements: metric(text, 'offline_messages_store_statements_total'),
    roundTrips: metric(text, 'offline_messages_store_round_trips_total')
  }
}

export function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}
