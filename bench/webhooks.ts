// The webhook's delivery against a local receiver that answers 204 at once, through the real service (its sources,
// through tsx): (1) a backlog of --events events delivered from scratch, events/s (goal 5,000/s); (2) the store rate
// with the webhook on, 50 stores in flight; (3) stores at half that rate for --seconds, and how long after its store
// each message.stored event reached the receiver, with the lag gauge's maximum (goal: under 1 s).
// `npx tsx bench/webhooks.ts [--store sqlite|postgres] [--events 20000] [--seconds 10]`; PostgreSQL on
// --postgres-url's server (default postgres://postgres@127.0.0.1:5432/postgres), in a database made and dropped here.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { WEBHOOK_SECRET } from '../test/helpers/webhook-receiver.js'
import { metric, preload, start, stop, type Proc } from './services.js'

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    events: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '10' },
    'postgres-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' }
  }
})
const EVENTS = Number(args.events)
const SECONDS = Number(args.seconds)
const IN_FLIGHT = 50
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN

/** The receiver: 204 at once; notes when each message.stored event arrived, after its occurred_at. */
const arrivals: { count: number, requests: number, first: number, last: number, delays: number[] } = { count: 0, requests: 0, first: 0, last: 0, delays: [] }
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const now = Date.now()
    const { events } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: Array<{ type: string, occurred_at: string }> }
    arrivals.requests++
    arrivals.count += events.length
    arrivals.first ||= now
    arrivals.last = now
    for (const event of events) if (event.type === 'message.stored') arrivals.delays.push(now - Date.parse(event.occurred_at))
    response.writeHead(204).end()
  })
})
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`

async function database (): Promise<{ url: string, drop: () => Promise<void> }> {
  if (args.store === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'om-webhooks-'))
    return { url: `sqlite:${join(dir, 'messages.db')}`, drop: async () => { rmSync(dir, { recursive: true, force: true }) } }
  }
  const name = `om_bench_webhooks_${Date.now().toString(36)}`
  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: args['postgres-url'] })
    await client.connect()
    try { await client.query(sql) } finally { await client.end() }
  }
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(args['postgres-url'] ?? '')
  url.pathname = `/${name}`
  return { url: url.toString(), drop: async () => { await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) } }
}

const service = async (databaseUrl: string, webhook: boolean): Promise<Proc> => await start(['--import', 'tsx', 'src/server.ts'], {
  DATABASE_URL: databaseUrl, EVENTS: 'on', ...(webhook ? { WEBHOOK_URL: webhookUrl, WEBHOOK_SECRET } : {})
})

let seq = 0
async function storeOne (url: string): Promise<void> {
  const response = await fetch(`${url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ receiver_uid: `r-${seq % 1000}`, sender_uid: 'bench', msg_id: `w-${seq++}`, msg_type: 1, content: 'hello' })
  })
  await response.arrayBuffer()
  if (response.status !== 201) throw new Error(`store answered ${response.status}`)
}

const db = await database()
const results: Record<string, unknown> = { store: args.store, events: EVENTS, seconds: SECONDS }
try {
  // (1) The backlog: recorded with no webhook, then delivered by a service started with one.
  const recorder = await service(db.url, false)
  await preload(recorder.url, 'backlog', 1000, Math.ceil(EVENTS / 1000))
  await stop(recorder)
  const deliverer = await service(db.url, true)
  const started = Date.now()
  while (arrivals.count < EVENTS && Date.now() - started < 120_000) await sleep(20)
  results.backlog = {
    events: arrivals.count, requests: arrivals.requests,
    eventsPerSecond: Math.round(arrivals.count / ((arrivals.last - arrivals.first) / 1000)),
    fromStartSeconds: Number(((arrivals.last - started) / 1000).toFixed(2))
  }

  // (2) The store rate with the webhook on: IN_FLIGHT stores at a time for half of --seconds.
  let stored = 0
  const until = Date.now() + SECONDS * 500
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => { while (Date.now() < until) { await storeOne(deliverer.url); stored++ } }))
  const fullRate = stored / (SECONDS / 2)
  results.storesPerSecond = Math.round(fullRate)
  await sleep(2000)

  // (3) Half that rate, open loop, for --seconds: each message.stored event's delay to the receiver, the lag gauge's max.
  arrivals.delays = []
  const rate = fullRate / 2
  let due = 0
  let maxLag = 0
  const pending: Array<Promise<void>> = []
  const end = Date.now() + SECONDS * 1000
  const scrape = setInterval(() => {
    void fetch(`${deliverer.url}/metrics`).then(async (response) => { maxLag = Math.max(maxLag, metric(await response.text(), 'offline_messages_webhook_lag_seconds')) })
  }, 250)
  while (Date.now() < end) {
    due += rate / 100
    for (; due >= 1; due--) pending.push(storeOne(deliverer.url))
    await sleep(10)
  }
  await Promise.all(pending)
  await sleep(2000)
  clearInterval(scrape)
  const delays = arrivals.delays.sort((a, b) => a - b)
  results.halfRate = {
    storesPerSecond: Math.round(rate), events: delays.length,
    deliveredAfterStoreMs: { p50: quantile(delays, 0.5), p99: quantile(delays, 0.99), max: delays[delays.length - 1] },
    lagGaugeMaxSeconds: maxLag
  }
  await stop(deliverer)
} finally {
  receiver.close()
  await db.drop()
}
console.log(JSON.stringify(results))
