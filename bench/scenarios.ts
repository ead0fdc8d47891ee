// The scenarios: what autocannon sends in each, one run of one against a server, and the medians of several runs.
import autocannon from 'autocannon'
import { cpuPer, cpuTimes, machinePer, machineTimes, type CpuTimes } from './cpu.js'
import { deviceIds, preload, receiversFor, registerDevices, type Proc } from './services.js'
import { CONNECTIONS, DURATION, ROW_COUNTS, SCENARIOS } from './options.js'
import { SENDERS_PER_RECEIVER, storedMessage } from './data.js'

const ACK_POOL_RECEIVERS = 400
const ACK_POOL_MESSAGES = 100
const EXPIRY_RATE = 2000

export interface Run {
  /** Requests answered in the run, and per second. */
  requests: number
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
  /**
   * The whole machine's busy CPU microseconds per request (the service, its database's processes, the load generator,
   * the kernel), and the share of the machine's CPU time left idle during the run: where it is near 0, the machine's
   * cores bound the rate, and two sides' rates stand in the inverse ratio of their machine CPU per request.
   */
  machineCpu: number
  machineIdle: number
}

type RequestSpec = NonNullable<autocannon.Options['requests']>[number]

export interface Scenario {
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

/**
 * A POST per request that walks a preloaded pool (preloadPool): the pool's receivers in turn, then again; `pass` counts
 * the walks so far. `requestOf` makes the request's path and JSON body.
 */
function walkPool (requestOf: (receiver: number, pass: number) => { path: string, body: unknown }): RequestSpec[] {
  let i = 0
  return [{
    method: 'POST',
    path: '/',
    headers: json,
    setupRequest: (request) => {
      const { path, body } = requestOf(i % ACK_POOL_RECEIVERS, Math.floor(i / ACK_POOL_RECEIVERS))
      i++
      return { ...request, path, body: JSON.stringify(body) }
    }
  }]
}

/** The receivers each scenario sends to, by prefix, and how many: with devices, these register them before any message. */
export const SCENARIO_RECEIVERS: Partial<Record<string, { prefix: string, count: number }>> = {
  store: { prefix: 'store', count: 1000 },
  batch: { prefix: 'group', count: 100 },
  expiry: { prefix: 'expiry', count: 1000 }
}

/** What a side with `devices` devices per receiver registered, for the results' prose (compareRows registers them). */
export const withDevices = (devices: number): string =>
  `every receiver the scenarios use (the preloaded \`load-*\`, the store scenario's 1,000 \`store-*\`, the batch scenario's 100 ` +
  `\`group-*\`, each ack pool) registered ${devices} devices (\`d0\`...) before any message was stored, so that each message is ` +
  `pending for ${devices} readers and has ${devices} summary rows. There the summaries and pages name a device at random; each ack ` +
  `names one device, taking turns, so that each ack takes one message from one device and one ack in ${devices} deletes it.`

/**
 * The scenarios chosen by --scenarios, for `receivers` preloaded receivers. With `devices` (--devices), every receiver
 * has that many devices registered (`d0`, `d1`, ...; the ack pools' register theirs before they are filled): the
 * summaries and pages name one device, chosen at random, and the acks take turns through the devices, so that each
 * ack takes one message from one device and every `devices`-th deletes it.
 */
export function scenarios (receivers: number, devices = 0): Scenario[] {
  const ids = deviceIds(devices)
  const device = (separator: string) => devices === 0 ? '' : `${separator}device_id=${ids[Math.floor(Math.random() * devices)] ?? ''}`
  // Any preloaded receiver: at 10,000,000 rows the reads spread over 50,000 inboxes, most of them out of every cache.
  const target = () => `load-${Math.floor(Math.random() * receivers)}`
  // The receivers of the run's largest row count, whichever row count this is: on a smaller database most are new.
  const spread = receiversFor(Math.max(...ROW_COUNTS))
  /** A round's pool of receivers (`prefix<round>-<n>`), their devices registered first, then filled with messages. */
  const preloadPool = (prefix: string) => async (url: string, round: number): Promise<void> => {
    if (devices > 0) await registerDevices(url, `${prefix}${round}`, ACK_POOL_RECEIVERS, devices)
    await preload(url, `${prefix}${round}`, ACK_POOL_RECEIVERS, ACK_POOL_MESSAGES)
  }
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
      requests: () => [{ method: 'GET', path: '/', setupRequest: (request) => ({ ...request, path: `/v1/receivers/${target()}/senders${device('?')}` }) }]
    },
    {
      name: 'page',
      messagesPerRequest: 100,
      requests: () => [{ method: 'GET', path: '/', setupRequest: (request) => ({ ...request, path: `/v1/receivers/${target()}/messages?limit=100${device('&')}` }) }]
    },
    {
      // Not in the default: batches of 100 messages, each to a receiver drawn from `spread` (`load-*`), as inboxes fill
      // while the others do. With --rows 10000,10000000 (and --fill copy) it measures batch stores into a database of
      // 10 million messages against into a nearly empty one (issue 30), over the same 50,000 receivers.
      name: 'spread',
      messagesPerRequest: 100,
      requests: () => postJson('/v1/messages/batch', (n) => ({
        messages: Array.from({ length: 100 }, (_, i) => ({
          receiver_uid: `load-${Math.floor(Math.random() * spread)}`,
          sender_uid: `s-${i % SENDERS_PER_RECEIVER}`,
          msg_id: `sp-${n}-${i}`,
          msg_type: 1,
          content: `spread message ${n} `.padEnd(100, 'x')
        }))
      }))
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
      // The store scenario with a collapse key (one of 4 per sender): once warm, every store replaces a pending message.
      // Issue 29's goal: at least 0.7 of the store scenario's rate.
      name: 'store-collapse',
      messagesPerRequest: 1,
      requests: () => postJson('/v1/messages', (n) => ({ ...storedMessage('collapse', n), collapse_key: `k-${n % 4}` }))
    },
    {
      // Each request recalls the next preloaded message of the next receiver of its pool, by its own sender. Issue 29's
      // goal: at least the ack scenario's rate (an ack of one message).
      name: 'recall',
      messagesPerRequest: 1,
      before: preloadPool('recall'),
      requests: (round) => walkPool((receiver, pass) => {
        const index = pass % ACK_POOL_MESSAGES
        return { path: `/v1/receivers/recall${round}-${receiver}/messages/p-${index}/recall`, body: { sender_uid: `s-${index % SENDERS_PER_RECEIVER}` } }
      })
    },
    {
      name: 'ack',
      messagesPerRequest: 1,
      before: preloadPool('ack'),
      requests: (round) => walkPool((receiver, pass) => {
        // Without devices each pass over the pool acks one more message of each receiver; with them, each pass is one
        // device's, and the pool moves on by one message once every device has had its pass.
        const upTo = Math.floor(pass / Math.max(1, devices)) + 1
        const body = devices === 0 ? { up_to_seq: upTo } : { up_to_seq: upTo, device_id: ids[pass % devices] }
        return { path: `/v1/receivers/ack${round}-${receiver}/acks`, body }
      })
    }
  ]
  return list.filter((scenario) => SCENARIOS.includes(scenario.name))
}

/** One autocannon run of `scenario` against `proc`. */
export async function load (proc: Proc, scenario: Scenario, round: number): Promise<Run> {
  const serverBefore = cpuTimes(proc.pid)
  const generatorBefore = cpuTimes(process.pid)
  const machineBefore = machineTimes()
  const result = await autocannon({
    url: proc.url, connections: CONNECTIONS, duration: DURATION, requests: scenario.requests(round), ...(scenario.rate === undefined ? {} : { overallRate: scenario.rate })
  })
  const requestsPerSecond = result.requests.average
  const machine = machinePer(machineBefore, result.requests.total)
  return {
    requests: result.requests.total,
    requestsPerSecond,
    messagesPerSecond: requestsPerSecond * scenario.messagesPerRequest,
    mean: result.latency.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.errors + result.timeouts + result.non2xx,
    cpu: cpuPer(proc.pid, serverBefore, result.requests.total),
    generatorCpu: cpuPer(process.pid, generatorBefore, result.requests.total).all,
    machineCpu: machine.busy,
    machineIdle: machine.idleShare
  }
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] as number : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}

/** The medians of the runs of the rounds, field by field; the failures summed. */
export function medianRun (runs: Run[]): Run {
  return {
    requests: median(runs.map((run) => run.requests)),
    requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
    messagesPerSecond: median(runs.map((run) => run.messagesPerSecond)),
    mean: median(runs.map((run) => run.mean)),
    p50: median(runs.map((run) => run.p50)),
    p99: median(runs.map((run) => run.p99)),
    failures: runs.reduce((sum, run) => sum + run.failures, 0),
    cpu: { all: median(runs.map((run) => run.cpu.all)), loop: median(runs.map((run) => run.cpu.loop)) },
    generatorCpu: median(runs.map((run) => run.generatorCpu)),
    machineCpu: median(runs.map((run) => run.machineCpu)),
    machineIdle: median(runs.map((run) => run.machineIdle))
  }
}
