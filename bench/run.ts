// `npm run bench`: autocannon scenarios against the real service and a bare Fastify floor, side by side, medians of rounds.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { cpuPer, cpuTimes, type CpuTimes } from './cpu.js'
import { MESSAGES_PER_RECEIVER, preloadedMessage, storedMessage } from './data.js'

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '40000' },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    scenarios: { type: 'string', default: 'store,batch,summary,page,ack,expiry' },
    out: { type: 'string', default: 'bench/results' }
  }
})

const DURATION = Number(args.duration)
const ROUNDS = Number(args.rounds)
const CONNECTIONS = Number(args.connections)
const SCENARIOS = String(args.scenarios).split(',')
const ROW_COUNTS = String(args.rows).split(',').map(Number)
const DATABASE_URL = process.env.DATABASE_URL
const ACK_POOL_RECEIVERS = 400
const ACK_POOL_MESSAGES = 100
const EXPIRY_RATE = 2000
// prom-client samples the event loop with a 10 ms timer (its default eventLoopMonitoringPrecision) and reports the
// whole interval between ticks: an idle loop reads 10 ms. The tables show the delay beyond that tick.
const LOOP_SAMPLING_MS = 10

interface Proc { child: ChildProcess, url: string, pid: number }

async function freePort (): Promise<number> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

async function start (command: string[], env: Record<string, string>): Promise<Proc> {
  const port = await freePort()
  const child = spawn(process.execPath, command, {
    // The service's own defaults, LOG_LEVEL=info with its per-request lines included (written to /dev/null here).
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'ignore', 'inherit']
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

async function stop (proc: Proc): Promise<void> {
  proc.child.kill('SIGTERM')
  await new Promise((resolve) => proc.child.once('exit', resolve))
}

async function post (url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`)
  return await response.json()
}

/** Stores receivers x perReceiver messages through the batch endpoint, 500 per request, 4 requests in flight. */
async function preload (url: string, prefix: string, receivers: number, perReceiver: number): Promise<number> {
  const started = Date.now()
  const total = receivers * perReceiver
  let next = 0
  const worker = async () => {
    while (next < total) {
      const from = next
      next = Math.min(total, next + 500)
      const messages = []
      for (let n = from; n < next; n++) messages.push(preloadedMessage(prefix, receivers, n))
      await post(`${url}/v1/messages/batch`, { messages })
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  return (Date.now() - started) / 1000
}

interface Run {
  requestsPerSecond: number
  messagesPerSecond: number
  /** Mean latency in ms: autocannon's percentiles are whole milliseconds, its mean is not. */
  mean: number
  p50: number
  p99: number
  failures: number
  /** CPU microseconds per request of the server process, and of this process (the load generator, autocannon). */
  cpu: CpuTimes
  generatorCpu: number
}

type RequestSpec = NonNullable<autocannon.Options['requests']>[number]

interface Scenario {
  name: string
  messagesPerRequest: number
  /** A fixed request rate (requests per second over all connections) instead of as fast as possible. */
  rate?: number
  requests (round: number): RequestSpec[]
  before? (url: string, round: number): Promise<void>
}

let unique = 0
const json = { 'content-type': 'application/json' }

/** A POST whose JSON body is made afresh for each request, from the next value of the shared counter. */
function postJson (path: string, body: (n: number) => unknown): RequestSpec[] {
  return [{ method: 'POST', path, headers: json, setupRequest: (request) => ({ ...request, body: JSON.stringify(body(++unique)) }) }]
}

function scenarios (receivers: number): Scenario[] {
  const target = () => `load-${Math.floor(Math.random() * Math.min(receivers, 1000))}`
  const list: Scenario[] = [
    {
      name: 'store',
      messagesPerRequest: 1,
      requests: () => postJson('/v1/messages', (n) => ({
        ...storedMessage('store', n),
        // One in ten expires within seconds, so the TTL sweep has work while the store load runs.
        ...(n % 10 === 0 ? { ttl_seconds: 2 } : {})
      }))
    },
    {
      name: 'batch',
      messagesPerRequest: 100,
      requests: () => postJson('/v1/messages/batch', (n) => ({
        messages: Array.from({ length: 100 }, (_, i) => ({
          receiver_uid: `group-${i}`, sender_uid: `g-${n % 50}`, msg_id: `gb-${n}`, msg_type: 1, content: `group message ${n}`
        }))
      }))
    },
    {
      name: 'summary',
      messagesPerRequest: 0,
      requests: () => [{ method: 'GET', path: '/', setupRequest: (request) => ({ ...request, path: `/v1/receivers/${target()}/senders` }) }]
    },
    {
      name: 'page',
      messagesPerRequest: 100,
      requests: () => [{ method: 'GET', path: '/', setupRequest: (request) => ({ ...request, path: `/v1/receivers/${target()}/messages?limit=100` }) }]
    },
    {
      // Not a throughput test: stores at a fixed rate the machine can take, every message expiring after 1 s, so that
      // the TTL sweep (every second) deletes as fast as the stores arrive. Its event-loop delay is the stall figure.
      name: 'expiry',
      messagesPerRequest: 1,
      rate: EXPIRY_RATE,
      requests: () => postJson('/v1/messages', (n) => ({
        receiver_uid: `expiry-${n % 1000}`, sender_uid: `s-${n % 7}`, msg_id: `ex-${n}`, msg_type: 1, content: `expiring ${n}`, ttl_seconds: 1
      }))
    },
    {
      name: 'ack',
      messagesPerRequest: 1,
      before: async (url, round) => { await preload(url, `ack${round}`, ACK_POOL_RECEIVERS, ACK_POOL_MESSAGES) },
      requests: (round) => {
        let i = 0
        return [{
          method: 'POST',
          path: '/',
          headers: json,
          setupRequest: (request) => {
            const receiver = i % ACK_POOL_RECEIVERS
            const upTo = Math.floor(i / ACK_POOL_RECEIVERS) + 1
            i++
            return { ...request, path: `/v1/receivers/ack${round}-${receiver}/acks`, body: JSON.stringify({ up_to_seq: upTo }) }
          }
        }]
      }
    }
  ]
  return list.filter((scenario) => SCENARIOS.includes(scenario.name))
}

async function load (proc: Proc, scenario: Scenario, round: number): Promise<Run> {
  const serverBefore = cpuTimes(proc.pid)
  const generatorBefore = cpuTimes(process.pid)
  const result = await autocannon({
    url: proc.url, connections: CONNECTIONS, duration: DURATION, requests: scenario.requests(round), ...(scenario.rate === undefined ? {} : { overallRate: scenario.rate })
  })
  const requestsPerSecond = result.requests.average
  return {
    requestsPerSecond,
    messagesPerSecond: requestsPerSecond * scenario.messagesPerRequest,
    mean: result.latency.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.errors + result.timeouts + result.non2xx,
    cpu: cpuPer(proc.pid, serverBefore, result.requests.total),
    generatorCpu: cpuPer(process.pid, generatorBefore, result.requests.total).all
  }
}

/** The event-loop delay since the last read (in ms beyond the sampling tick), and the messages expired so far. */
async function loopDelay (url: string): Promise<{ max: number, p99: number, expired: number }> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const read = (name: string) => Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? NaN)
  return {
    max: read('nodejs_eventloop_lag_max_seconds') * 1000 - LOOP_SAMPLING_MS,
    p99: read('nodejs_eventloop_lag_p99_seconds') * 1000 - LOOP_SAMPLING_MS,
    expired: read('offline_messages_expired_total')
  }
}

function rssMb (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

interface ScenarioResult {
  scenario: string
  rows: number
  service: Run
  bare: Run
  ratio: number
  eventLoopDelayMaxMs: number
  eventLoopDelayP99Ms: number
  rssMaxMb: number
  failures: number
}

async function benchRows (rows: number): Promise<ScenarioResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'om-bench-'))
  const databaseUrl = DATABASE_URL ?? `sqlite:${join(dir, 'bench.db')}`
  const service = await start(['dist/src/server.js'], { DATABASE_URL: databaseUrl, SWEEP_INTERVAL_SECONDS: '1' })
  const bare = await start(['--import', 'tsx', 'bench/bare-server.ts'], {})
  const receivers = Math.max(1, Math.floor(rows / MESSAGES_PER_RECEIVER))
  const seconds = await preload(service.url, 'load', receivers, MESSAGES_PER_RECEIVER)
  process.stderr.write(`rows=${rows}: preloaded ${receivers * MESSAGES_PER_RECEIVER} messages in ${seconds.toFixed(1)} s (${Math.round(receivers * MESSAGES_PER_RECEIVER / seconds)} msg/s through the batch path)\n`)

  let rssMax = 0
  const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssMb(service.pid)) }, 200)
  const results: ScenarioResult[] = []
  try {
    for (const scenario of scenarios(receivers)) {
      const serviceRuns: Run[] = []
      const bareRuns: Run[] = []
      const delays: Array<{ max: number, p99: number }> = []
      const rssBefore = rssMax
      rssMax = 0
      for (let round = 0; round < ROUNDS; round++) {
        if (scenario.before !== undefined) await scenario.before(service.url, round)
        bareRuns.push(await load(bare, scenario, round))
        const before = await loopDelay(service.url) // reading the metrics resets the event-loop delay histogram
        serviceRuns.push(await load(service, scenario, round))
        const after = await loopDelay(service.url)
        delays.push(after)
        process.stderr.write(`  ${scenario.name} round ${round + 1}: bare ${Math.round(bareRuns[round]?.requestsPerSecond ?? 0)} req/s, ` +
          `service ${Math.round(serviceRuns[round]?.requestsPerSecond ?? 0)} req/s, ${after.expired - before.expired} messages expired by the sweep meanwhile\n`)
      }
      const pick = (runs: Run[]): Run => ({
        requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
        messagesPerSecond: median(runs.map((run) => run.messagesPerSecond)),
        mean: median(runs.map((run) => run.mean)),
        p50: median(runs.map((run) => run.p50)),
        p99: median(runs.map((run) => run.p99)),
        failures: runs.reduce((sum, run) => sum + run.failures, 0),
        cpu: { all: median(runs.map((run) => run.cpu.all)), loop: median(runs.map((run) => run.cpu.loop)) },
        generatorCpu: median(runs.map((run) => run.generatorCpu))
      })
      results.push({
        scenario: scenario.name,
        rows,
        service: pick(serviceRuns),
        bare: pick(bareRuns),
        ratio: median(serviceRuns.map((run, i) => run.requestsPerSecond / (bareRuns[i]?.requestsPerSecond ?? 1))),
        eventLoopDelayMaxMs: Math.max(...delays.map((delay) => delay.max)),
        eventLoopDelayP99Ms: median(delays.map((delay) => delay.p99)),
        rssMaxMb: rssMax,
        failures: serviceRuns.reduce((sum, run) => sum + run.failures, 0)
      })
      rssMax = Math.max(rssMax, rssBefore)
    }
  } finally {
    clearInterval(sampler)
    await stop(service)
    await stop(bare)
    rmSync(dir, { recursive: true, force: true })
  }
  return results
}

function table (results: ScenarioResult[]): string {
  const lines = [
    '| scenario | rows | service req/s | service msg/s | bare req/s | ratio (median of rounds) | p50 / p99 ms | bare p50 / p99 ms | loop delay beyond the 10 ms tick, max / p99 ms | RSS max MB | failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |'
  ]
  for (const r of results) {
    lines.push(`| ${r.scenario} | ${r.rows} | ${Math.round(r.service.requestsPerSecond)} | ${Math.round(r.service.messagesPerSecond)} | ` +
      `${Math.round(r.bare.requestsPerSecond)} | ${r.ratio.toFixed(2)} | ${r.service.p50} / ${r.service.p99} | ${r.bare.p50} / ${r.bare.p99} | ` +
      `${r.eventLoopDelayMaxMs.toFixed(1)} / ${r.eventLoopDelayP99Ms.toFixed(1)} | ${Math.round(r.rssMaxMb)} | ${r.failures} |`)
  }
  return lines.join('\n')
}

type Floor = Partial<Record<string, CpuTimes>>

/** The service without HTTP (bench/floor.ts), in a process of its own, run while nothing else is. */
async function measureFloor (): Promise<Floor> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/floor.ts'], {
    env: { PATH: process.env.PATH ?? '', ...(DATABASE_URL === undefined ? {} : { DATABASE_URL }) },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString('utf8') })
  // 'close', not 'exit': all of its output has been read by then.
  const code = await new Promise((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`bench/floor.ts exited with ${String(code)}`)
  return JSON.parse(output) as Floor
}

// The goals of the issue, as ratios to the bare route.
const GOALS: Partial<Record<string, number>> = { store: 0.4, page: 0.5, summary: 0.5 }

/**
 * Where each request's CPU goes, and two bounds on the ratio that follow from it. The service's event loop spends at least
 * the bare route's event-loop CPU plus the event-loop part of the domain and store without HTTP on each request, so one
 * event loop answers at most 1 / (bare + that) per second. All the cores together (the load generator runs on them too)
 * give at most cores / (bare + without HTTP on every thread + the generator's share) per second, however the work were
 * spread; the generator's share is taken from the bare runs, its lowest. Both bounds leave out all that HTTP in the
 * service adds over the bare route (logging, metrics, the answers that a group commit sends together): they are the most
 * the service could reach, not estimates of it.
 */
function costTable (results: ScenarioResult[], floor: Floor): string {
  const us = (value: number) => String(Math.round(value))
  const cores = cpus().length
  const lines = [
    '| scenario | rows | ratio | goal | service CPU us/req, all threads / event loop | bare CPU us/req, all threads / event loop | ' +
      'load generator CPU us/req, bare run / service run | domain + store without HTTP, CPU us/req, all threads / event loop | ' +
      `bound on one event loop | bound on ${cores} cores |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const r of results) {
    const without = floor[r.scenario]
    const bare = r.bare.requestsPerSecond
    const oneLoop = without === undefined ? undefined : 1_000_000 / (r.bare.cpu.loop + without.loop) / bare
    const allCores = without === undefined ? undefined : cores * 1_000_000 / (r.bare.cpu.all + without.all + r.bare.generatorCpu) / bare
    lines.push(`| ${r.scenario} | ${r.rows} | ${r.ratio.toFixed(2)} | ${GOALS[r.scenario]?.toFixed(2) ?? '-'} | ` +
      `${us(r.service.cpu.all)} / ${us(r.service.cpu.loop)} | ${us(r.bare.cpu.all)} / ${us(r.bare.cpu.loop)} | ` +
      `${us(r.bare.generatorCpu)} / ${us(r.service.generatorCpu)} | ` +
      `${without === undefined ? '-' : `${us(without.all)} / ${us(without.loop)}`} | ${oneLoop?.toFixed(2) ?? '-'} | ${allCores?.toFixed(2) ?? '-'} |`)
  }
  return lines.join('\n')
}

/**
 * Latency against stored rows. At 3-4 ms a whole-millisecond p50 moves in steps of 25-33%: the mean shows it finer. Row
 * counts run minutes apart, and this machine's speed drifts meanwhile: the last column divides the service's mean by the
 * bare route's mean of the same rounds (the bare route does the same work whatever the rows) before comparing.
 */
function scaleTable (results: ScenarioResult[]): string {
  const base = ROW_COUNTS[0]
  const lines = [
    '| scenario | rows | mean ms | p50 ms | p99 ms | mean vs smallest | p50 vs smallest | mean over bare mean, vs smallest |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const r of results.filter((result) => result.scenario === 'summary' || result.scenario === 'page')) {
    const reference = results.find((other) => other.scenario === r.scenario && other.rows === base)
    const against = (pick: (result: ScenarioResult) => number) => reference === undefined ? '-' : (pick(r) / Math.max(pick(reference), 0.001)).toFixed(2)
    lines.push(`| ${r.scenario} | ${r.rows} | ${r.service.mean.toFixed(2)} | ${r.service.p50} | ${r.service.p99} | ` +
      `${against((result) => result.service.mean)} | ${against((result) => result.service.p50)} | ` +
      `${against((result) => result.service.mean / Math.max(result.bare.mean, 0.001))} |`)
  }
  return lines.join('\n')
}

const all: ScenarioResult[] = []
for (const rows of ROW_COUNTS) all.push(...await benchRows(rows))
const floor = await measureFloor()

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`
const store = DATABASE_URL === undefined ? 'SQLite (defaults: WAL, each answer after an fsync of the WAL)' : 'PostgreSQL'
const command = `npm run bench -- --rows ${args.rows} --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}`
let markdown = `Store: ${store}. Machine: ${machine}. autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ` +
  `${ROUNDS} rounds of bare then service, medians. Command: \`${command}\`. ${new Date().toISOString()}\n\n${table(all)}\n` +
  `\nWhere the CPU goes (medians of rounds; the bounds are explained in the README's Benchmarks section):\n\n${costTable(all, floor)}\n`
if (ROW_COUNTS.length > 1) markdown += `\nLatency against stored rows:\n\n${scaleTable(all)}\n`
mkdirSync(String(args.out), { recursive: true })
const name = DATABASE_URL === undefined ? 'latest' : 'latest-postgres'
writeFileSync(join(String(args.out), `${name}.md`), markdown)
writeFileSync(join(String(args.out), `${name}.json`), JSON.stringify({ machine, store, command, results: all, withoutHttpCpuMicrosPerRequest: floor }, null, 2) + '\n')
process.stdout.write(markdown)
