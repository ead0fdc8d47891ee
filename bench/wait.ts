// Issue 31: many held long-poll requests (--waiters 1000,10000) on one instance, on SQLite and on PostgreSQL (held on
// one instance and stored through another, and both on the same one): the wake-up latency from each store's answer to
// the held answer, the stores per second with the requests held against without (alternated, medians of rounds), and
// the holding instance's RSS, event-loop delay and open files while they are held.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import pg from 'pg'
import { holdRequests, openFiles, openFilesLimit, receiverOf, storeStream, type Holding } from './held.js'
import { args, CONNECTIONS, POSTGRES_URL, ROUNDS } from './options.js'
import { analyse, type Analysis } from './profile.js'
import { load, median, type Run, type Scenario } from './scenarios.js'
import { metric, readMetrics, rssMb, startService, stop, type Metrics, type Proc } from './services.js'
import { analyze, postgresDatabase } from './sides.js'
import { undoAll, undoOnSignals } from './undo.js'
import { storedMessage } from './data.js'

/** Stores in flight in the wake-up stream, and at most this many stores (one per held receiver) per round. */
export const IN_FLIGHT = Number(args['wait-in-flight'])
export const STREAM_MAX = 2000
/** Held, with nothing stored, before the idle event-loop delay and RSS are read. */
export const IDLE_HELD_MS = 2000
export const GOALS = { p99Ms: 100, storeRatio: 0.8, rssMb: 350 }

type Placement = 'one' | 'cross' | 'same'
export const PLACEMENT: Record<Placement, string> = {
  one: 'one process (SQLite)',
  cross: 'held on A, stored through B',
  same: 'held and stored on A'
}

/**
 * The store scenario's requests (bench/scenarios.ts, its 1,000 `store-*` receivers), none of which is held; one in ten
 * expires after 2 s as there, unless --no-wait-expiry.
 */
let unique = 0
const STORES: Scenario = {
  name: 'store',
  messagesPerRequest: 1,
  requests: () => [{
    method: 'POST',
    path: '/v1/messages',
    headers: { 'content-type': 'application/json' },
    setupRequest: (request) => ({ ...request, body: JSON.stringify({ ...storedMessage('store', ++unique), ...(unique % 10 === 0 && args['wait-expiry'] === true ? { ttl_seconds: 2 } : {}) }) })
  }]
}

/**
 * On PostgreSQL, a listener of this process's own on the service's channel: when each receiver's announcement was heard
 * (performance.now()), which splits a wake-up across instances into the store's 201 to the announcement, and the
 * announcement to the held answer (the holder's own listener hears it about when this one does).
 */
interface Announcements { heard: Map<string, number>, close (): Promise<void> }

async function listenToAnnouncements (databaseUrl: string): Promise<Announcements> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-listener' })
  const heard = new Map<string, number>()
  await client.connect()
  client.on('notification', (message) => {
    const at = performance.now()
    const payload = JSON.parse(message.payload ?? '{}') as { receivers?: string[] }
    for (const receiverUid of payload.receivers ?? []) if (!heard.has(receiverUid)) heard.set(receiverUid, at)
  })
  await client.query('LISTEN offline_messages_stored')
  return { heard, close: async () => { await client.end() } }
}

interface Running { holder: Proc, writer: Proc, databaseUrl: string, announcements?: Announcements }

interface Round {
  withoutPerSecond: number
  withPerSecond: number
  latencies: number[]
  /** The wake-up stream's stores per second (each wakes one held request). */
  streamPerSecond: number
  /** PostgreSQL: the store's 201 to the announcement heard, and the announcement to the held answer, in ms. */
  toAnnounced: number[]
  announcedToAnswer: number[]
  missed: number
  storeFailures: number
  /** The holder's event-loop delay (beyond the sampling tick): held and idle, under the store load without and with held requests, during the wake-up stream. */
  loop: { idleHeld: Metrics, storesWithout: Metrics, storesHeld: Metrics, stream: Metrics }
  /** The holder's RSS before holding, after its held and idle seconds, and the most sampled while held (store load included). */
  rssBeforeMb: number
  rssHeldIdleMb: number
  rssHeldMaxMb: number
  writerRssHeldMaxMb: number
  /** The holder's V8 heap in use (prom-client's nodejs_heap_size_used_bytes) after its held idle seconds. */
  heapHeldIdleMb: number
  /** This process's own event-loop delay during the wake-up stream (it timestamps every answer), beyond its 10 ms resolution. */
  clientLoop: { p99: number, max: number }
  holderFiles: number
  clientFiles: number
  heldAnswersNot200: Record<string, number>
  heldErrors: number
  wakeupsCounted: number
  postgresConnections?: Record<string, number>
}

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

async function metricsText (url: string): Promise<string> { return await (await fetch(`${url}/metrics`)).text() }

async function waitForHeld (url: string, count: number, holding: Holding): Promise<void> {
  const deadline = Date.now() + 120_000
  for (;;) {
    const held = metric(await metricsText(url), 'offline_messages_waiters')
    if (held >= count) return
    if (Date.now() > deadline) throw new Error(`${url}: ${held} of ${count} requests held after 120 s (errors ${holding.errors}, answers not 200: ${JSON.stringify([...holding.statuses])})`)
    await sleep(100)
  }
}

/** The connections to the database, by application_name. */
async function postgresConnections (databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ name: string, count: string }>(
      "SELECT coalesce(nullif(application_name, ''), '(pool)') AS name, count(*) AS count FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1")
    return Object.fromEntries(rows.map((row) => [row.name, Number(row.count)]))
  } finally { await client.end() }
}

/** The V8 clock (µs), as the .cpuprofile samples read it. */
const micros = () => Number(process.hrtime.bigint() / 1000n)
const windows: Record<'stream' | 'stores', { from: number, to: number }> = { stream: { from: 0, to: 0 }, stores: { from: 0, to: 0 } }

async function round (running: Running, held: number, r: number, tag: string): Promise<Round> {
  const { holder, writer } = running
  // Receivers of their own in each configuration and round: the database is shared by the run's configurations.
  const receivers = Array.from({ length: held }, (_, i) => `wait-${tag}-${r}-${i}`)
  await analyze(running.databaseUrl)
  let rssMax = 0
  let writerRssMax = 0
  const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssMb(holder.pid)); writerRssMax = Math.max(writerRssMax, rssMb(writer.pid)) }, 100)
  try {
    let without: { run: Run, loop: Metrics } | undefined
    const storesWithout = async () => {
      await readMetrics(holder.url)
      const run = await load(writer, STORES, r)
      without = { run, loop: await readMetrics(holder.url) }
    }
    // Alternated: the first round measures without, then with; the next with, then without.
    if (r % 2 === 0) await storesWithout()
    await sleep(500)
    const rssBeforeMb = rssMb(holder.pid)
    const wakeupsBefore = metric(await metricsText(holder.url), 'offline_messages_wakeups_total')
    const holding = holdRequests(holder.url, receivers)
    await holding.opened
    await waitForHeld(holder.url, held, holding)
    rssMax = 0
    writerRssMax = 0
    await readMetrics(holder.url)
    await sleep(IDLE_HELD_MS)
    const idleHeld = await readMetrics(holder.url)
    const rssHeldIdleMb = rssMb(holder.pid)
    const heapHeldIdleMb = metric(await metricsText(holder.url), 'nodejs_heap_size_used_bytes') / 2 ** 20
    const holderFiles = openFiles(holder.pid)
    const clientFiles = openFiles('self')
    const connections = running.databaseUrl.startsWith('postgres') ? await postgresConnections(running.databaseUrl) : undefined
    windows.stores.from = micros()
    const withHeld = await load(writer, STORES, r)
    windows.stores.to = micros()
    const storesHeld = await readMetrics(holder.url)
    const start = (r * STREAM_MAX) % held
    const targets = Array.from({ length: Math.min(held, STREAM_MAX) }, (_, i) => receivers[(start + i) % held] as string)
    const clientLoop = monitorEventLoopDelay({ resolution: 10 })
    clientLoop.enable()
    windows.stream.from = micros()
    const stream = await storeStream(writer.url, targets, holding, `w${r}`, IN_FLIGHT)
    windows.stream.to = micros()
    clientLoop.disable()
    const streamLoop = await readMetrics(holder.url)
    const toAnnounced: number[] = []
    const announcedToAnswer: number[] = []
    for (const [k, at] of stream.stored) {
      const heard = running.announcements?.heard.get(receiverOf(k))
      const answered = holding.answered.get(k)
      if (heard === undefined) continue
      toAnnounced.push(heard - at)
      if (answered !== undefined) announcedToAnswer.push(answered - heard)
    }
    const wakeupsCounted = metric(await metricsText(holder.url), 'offline_messages_wakeups_total') - wakeupsBefore
    const rssHeldMaxMb = rssMax
    const writerRssHeldMaxMb = writerRssMax
    holding.release()
    const gone = Date.now() + 10_000
    while (metric(await metricsText(holder.url), 'offline_messages_waiters') > 0 && Date.now() < gone) await sleep(100)
    if (r % 2 === 1) { await sleep(500); await storesWithout() }
    if (without === undefined) throw new Error('no run without held requests')
    return {
      withoutPerSecond: without.run.requestsPerSecond,
      withPerSecond: withHeld.requestsPerSecond,
      latencies: stream.latencies,
      streamPerSecond: targets.length / stream.seconds,
      toAnnounced,
      announcedToAnswer,
      missed: stream.missed,
      storeFailures: stream.failures + without.run.failures + withHeld.failures,
      loop: { idleHeld, storesWithout: without.loop, storesHeld, stream: streamLoop },
      rssBeforeMb,
      rssHeldIdleMb,
      heapHeldIdleMb,
      rssHeldMaxMb,
      clientLoop: { p99: clientLoop.percentile(99) / 1e6 - 10, max: clientLoop.max / 1e6 - 10 },
      writerRssHeldMaxMb,
      holderFiles,
      clientFiles,
      heldAnswersNot200: Object.fromEntries(holding.statuses),
      heldErrors: holding.errors,
      wakeupsCounted,
      ...(connections === undefined ? {} : { postgresConnections: connections })
    }
  } finally {
    clearInterval(sampler)
  }
}

export interface Configuration { store: 'sqlite' | 'postgres', placement: Placement, held: number }

export interface Result extends Configuration {
  wakeups: number
  p50: number
  p99: number
  max: number
  /** The wake-up stream's stores per second, median of rounds. */
  streamPerSecond: number
  /** PostgreSQL: the wake-up's two stages, p50 / p99 / max ms (pooled over rounds). */
  stages?: { toAnnounced: Spread, announcedToAnswer: Spread }
  missed: number
  storeFailures: number
  withoutPerSecond: number
  withPerSecond: number
  ratio: number
  /** The holder's RSS before its first round's holding; the most after held and idle, and the most sampled while held. */
  rssBeforeMb: number
  rssHeldIdleMb: number
  rssHeldMaxMb: number
  writerRssHeldMaxMb: number
  /** The holder's heap in use after its held idle seconds, median of rounds. */
  heapHeldIdleMb: number
  loopDelayP99Ms: { idleHeld: number, storesWithout: number, storesHeld: number, stream: number }
  loopDelayMaxMs: { idleHeld: number, storesWithout: number, storesHeld: number, stream: number }
  /** This process's own event-loop delay during the wake-up streams (it timestamps every answer): median p99, most max, ms. */
  clientLoopDelayMs: { p99: number, max: number }
  /** Each round's figures, its latencies left out (the percentiles above pool them). */
  rounds: Array<Omit<Round, 'latencies' | 'toAnnounced' | 'announcedToAnswer'>>
  profiles?: Array<{ which: string, file: string, analysis: Analysis }>
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN

export interface Spread { p50: number, p99: number, max: number }
const spread = (values: number[]): Spread => {
  const sorted = [...values].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN }
}

async function startRunning (c: Configuration, databaseUrl: string, profileDir: string | undefined): Promise<Running> {
  const heap = args['wait-max-old-space'] === undefined ? [] : [`--max-old-space-size=${Number(args['wait-max-old-space'])}`]
  const flags = (name: string) => [...heap, ...(profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(profileDir, name)])]
  const holder = await startService('.', databaseUrl, flags('holder'))
  const writer = c.placement === 'cross' ? await startService('.', databaseUrl, flags('writer')) : holder
  const announcements = databaseUrl.startsWith('postgres') ? await listenToAnnouncements(databaseUrl) : undefined
  return { holder, writer, databaseUrl, ...(announcements === undefined ? {} : { announcements }) }
}

/** The main thread's profile in `dir`, the samples within `window`. */
function profileOf (dir: string, window: { from: number, to: number }): Analysis | undefined {
  const file = readdirSync(dir).filter((name) => /\.0\.\d+\.cpuprofile$/.test(name)).sort().at(-1)
  return file === undefined ? undefined : analyse(join(dir, file), resolve('.'), window)
}

export async function configuration (c: Configuration, databaseUrl: string): Promise<Result> {
  const needed = c.held + CONNECTIONS + IN_FLIGHT + 200
  const limit = openFilesLimit('self')
  if (limit < needed) throw new Error(`ulimit -n is ${limit}: ${c.held} held requests need at least ${needed} open files in this process and in the service (raise it with ulimit -n)`)
  const label = `${c.store}-${c.placement}-${c.held}`
  const profileDir = args['wait-profile'] === true ? resolve(String(args.out), 'profiles', `wait-${label}`) : undefined
  const running = await startRunning(c, databaseUrl, profileDir)
  const serviceLimit = openFilesLimit(running.holder.pid)
  if (serviceLimit < needed) throw new Error(`the service's ulimit -n is ${serviceLimit}, under the ${needed} its ${c.held} held requests need`)
  const rounds: Round[] = []
  try {
    // A fresh process's first seconds run code not yet optimized: one run of the store load first, not counted.
    await load(running.writer, STORES, -1)
    for (let r = 0; r < ROUNDS; r++) {
      const result = await round(running, c.held, r, label)
      rounds.push(result)
      const sorted = [...result.latencies].sort((a, b) => a - b)
      process.stderr.write(`  ${label} round ${r + 1}: stores ${Math.round(result.withoutPerSecond)}/s without, ${Math.round(result.withPerSecond)}/s held; ` +
        `wake-ups ${Math.round(result.streamPerSecond)}/s, p50 ${percentile(sorted, 50).toFixed(1)} p99 ${percentile(sorted, 99).toFixed(1)} max ${(sorted.at(-1) ?? NaN).toFixed(1)} ms, ` +
        `missed ${result.missed}; holder RSS ${Math.round(result.rssHeldIdleMb)} MB held idle (heap ${Math.round(result.heapHeldIdleMb)} MB), ${Math.round(result.rssHeldMaxMb)} MB max, ${result.holderFiles} fds; ` +
        `this process's loop delay in the stream p99 ${result.clientLoop.p99.toFixed(1)} max ${result.clientLoop.max.toFixed(1)} ms\n`)
    }
  } finally {
    await stop(running.holder)
    if (running.writer !== running.holder) await stop(running.writer)
    await running.announcements?.close()
  }
  const sorted = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b)
  const loop = (pick: (m: Metrics) => number) => {
    const of = (phase: keyof Round['loop']) => median(rounds.map((r) => pick(r.loop[phase])))
    return { idleHeld: of('idleHeld'), storesWithout: of('storesWithout'), storesHeld: of('storesHeld'), stream: of('stream') }
  }
  const profiles: Result['profiles'] = []
  if (profileDir !== undefined) {
    const holder = profileOf(join(profileDir, 'holder'), windows.stream)
    if (holder !== undefined) profiles.push({ which: 'the holding instance during the last round\'s wake-up stream', file: relative('.', holder.file), analysis: holder })
    const writerDir = join(profileDir, c.placement === 'cross' ? 'writer' : 'holder')
    const writer = profileOf(writerDir, windows.stores)
    if (writer !== undefined) profiles.push({ which: 'the storing instance during the last round\'s stores with requests held', file: relative('.', writer.file), analysis: writer })
  }
  return {
    ...c,
    wakeups: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
    streamPerSecond: median(rounds.map((r) => r.streamPerSecond)),
    ...(running.announcements === undefined
      ? {}
      : { stages: { toAnnounced: spread(rounds.flatMap((r) => r.toAnnounced)), announcedToAnswer: spread(rounds.flatMap((r) => r.announcedToAnswer)) } }),
    missed: rounds.reduce((sum, r) => sum + r.missed, 0),
    storeFailures: rounds.reduce((sum, r) => sum + r.storeFailures, 0),
    withoutPerSecond: median(rounds.map((r) => r.withoutPerSecond)),
    withPerSecond: median(rounds.map((r) => r.withPerSecond)),
    ratio: median(rounds.map((r) => r.withPerSecond / r.withoutPerSecond)),
    rssBeforeMb: rounds[0]?.rssBeforeMb ?? NaN,
    rssHeldIdleMb: Math.max(...rounds.map((r) => r.rssHeldIdleMb)),
    rssHeldMaxMb: Math.max(...rounds.map((r) => r.rssHeldMaxMb)),
    heapHeldIdleMb: median(rounds.map((r) => r.heapHeldIdleMb)),
    writerRssHeldMaxMb: Math.max(...rounds.map((r) => r.writerRssHeldMaxMb)),
    loopDelayP99Ms: loop((m) => m.p99),
    loopDelayMaxMs: loop((m) => m.max),
    clientLoopDelayMs: { p99: median(rounds.map((r) => r.clientLoop.p99)), max: Math.max(...rounds.map((r) => r.clientLoop.max)) },
    rounds: rounds.map(({ latencies, toAnnounced, announcedToAnswer, ...rest }) => rest),
    ...(profiles.length === 0 ? {} : { profiles })
  }
}

/** The configurations --waiters and --wait-stores ask for, in the order they run. */
export function configurations (): Configuration[] {
  const sizes = String(args.waiters).split(',').map(Number)
  const bad = sizes.find((n) => !Number.isInteger(n) || n < 1)
  if (bad !== undefined) throw new Error(`--waiters ${String(args.waiters)}: held requests per configuration, positive integers`)
  const stores = String(args['wait-stores']).split(',').map((s) => s.trim())
  const list: Configuration[] = []
  for (const store of stores) {
    if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--wait-stores ${String(args['wait-stores'])}: sqlite, postgres or both`)
    for (const held of sizes) {
      for (const placement of store === 'sqlite' ? ['one'] as const : ['cross', 'same'] as const) list.push({ store, placement, held })
    }
  }
  return list
}

export async function waitBench (): Promise<Result[]> {
  undoOnSignals()
  const dir = mkdtempSync(join(tmpdir(), 'om-wait-'))
  const results: Result[] = []
  try {
    const databases: Partial<Record<'sqlite' | 'postgres', string>> = {}
    for (const c of configurations()) {
      databases[c.store] ??= c.store === 'sqlite' ? `sqlite:${join(dir, 'wait.db')}` : await postgresDatabase('wait', POSTGRES_URL)()
      process.stderr.write(`${c.store}, ${PLACEMENT[c.placement]}, ${c.held} held:\n`)
      results.push(await configuration(c, databases[c.store] as string))
    }
  } finally {
    await undoAll()
    rmSync(dir, { recursive: true, force: true })
  }
  return results
}

