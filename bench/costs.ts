// `--costs`: the CPU each request costs by stage (issue 30), for store, a page of 100, summaries of 5 and of 50 senders
// and ack, on SQLite and on PostgreSQL, beside the bare Fastify route with the same bodies: a CPU profile of each
// server under load, its samples put in stages (bench/stages.ts), their shares times the server's CPU per request.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import autocannon from 'autocannon'
import pg from 'pg'
import { cpuTimes, loopSystemMicros, type CpuTimes } from './cpu.js'
import { MESSAGES_PER_RECEIVER } from './data.js'
import { args, CONNECTIONS, DURATION, machine, POSTGRES_URL, ROUNDS, writeResults } from './options.js'
import { scenarios, type Scenario } from './scenarios.js'
import { preload, preloadRows, start, startService, stop, type Proc } from './services.js'
import { analyze, checkout, describe, postgresDatabase, sqliteDatabase } from './sides.js'
import { STAGES, stagesOf, type Breakdown, type Stage } from './stages.js'
import { onUndo, undoAll, undoOnSignals } from './undo.js'
import { costsMarkdown } from './costs-report.js'

const WARM_UP_SECONDS = 2
const ROWS = 20_000
/** Receivers preloaded for each summary scenario, 200 messages each, from this many senders. */
const SUMMARY_RECEIVERS = 100
const NARROW_SENDERS = 5
const WIDE_SENDERS = 50
/** The profiled service checks a key and counts every request against a rate limit, as a deployment would. */
const API_KEY = 'bench:costs-bench-secret:write+read+ack'
const AUTHORIZATION = 'Bearer costs-bench-secret'
const RATE_LIMIT_PER_MINUTE = '100000000'

export type Server = 'sqlite' | 'postgres' | 'bare'

export interface Cost {
  scenario: string
  server: Server
  requests: number
  /** CPU µs per request over the measured windows: every thread of the server, and its main thread (the event loop). */
  cpu: CpuTimes
  /** The kernel's part of `cpu.loop`: the event loop's system calls (socket writes, SQLite's file reads and writes). */
  loopSystem: number
  /** PostgreSQL's backends' CPU µs per request (0 on SQLite, whose work is in the service's own process, and on bare). */
  database: number
  /** The event loop's CPU µs per request in each window, for the spread. */
  loopPerWindow: number[]
  /** The same without the profiler, in a server of its own after the profiled one. */
  unprofiled: CpuTimes
  /** The event loop's CPU µs per request by stage: its share of the busy samples times `cpu.loop`. */
  stages: Record<Stage, number>
  breakdown: Breakdown
  profile: string
}

const micros = () => Number(process.hrtime.bigint() / 1000n)
const random = (count: number) => Math.floor(Math.random() * count)

/** The five scenarios of the issue; store, page and ack as bench/scenarios.ts makes them. */
function costScenarios (receivers: number): Scenario[] {
  const made = scenarios(receivers)
  const named = (name: string): Scenario => {
    const found = made.find((scenario) => scenario.name === name)
    if (found === undefined) throw new Error(`--costs needs the ${name} scenario: leave --scenarios out`)
    return found
  }
  const summary = (prefix: string, senders: number): Scenario => ({
    name: `summary-${senders}`,
    messagesPerRequest: 0,
    requests: () => [{ method: 'GET', path: '/', setupRequest: (request) => ({ ...request, path: `/v1/receivers/${prefix}-${random(SUMMARY_RECEIVERS)}/senders` }) }]
  })
  return [named('store'), named('page'), summary('narrow', NARROW_SENDERS), summary('wide', WIDE_SENDERS), named('ack')]
}

/** A scenario's requests, each with the API key. */
function withKey (scenario: Scenario, round: number): NonNullable<autocannon.Options['requests']> {
  return scenario.requests(round).map((request) => ({ ...request, headers: { ...request.headers, authorization: AUTHORIZATION } }))
}

async function run (proc: Proc, scenario: Scenario, round: number, seconds: number): Promise<{ requests: number, failures: number }> {
  const result = await autocannon({ url: proc.url, connections: CONNECTIONS, duration: seconds, requests: withKey(scenario, round) })
  return { requests: result.requests.total, failures: result.errors + result.timeouts + result.non2xx }
}

/** The main thread's profile that `node --cpu-prof` wrote in `dir` when the server exited. */
function mainThreadProfile (dir: string): string {
  const file = readdirSync(dir).filter((name) => /\.0\.\d+\.cpuprofile$/.test(name)).sort().at(-1)
  if (file === undefined) throw new Error(`${dir}: no .cpuprofile after the server exited`)
  return join(dir, file)
}

/** CPU µs so far of each process (by pid) of the database server that serves the service: PostgreSQL's backends. */
type DatabaseCpu = () => Promise<Map<number, number>>

/** The PostgreSQL backends connected to `databaseUrl`'s database, read from /proc (the server runs on this machine). */
const postgresBackends = (databaseUrl: string): DatabaseCpu => async () => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
    const times = new Map<number, number>()
    for (const { pid } of rows) {
      try { times.set(pid, cpuTimes(pid).all) } catch { /* ended meanwhile */ }
    }
    return times
  } finally {
    await client.end()
  }
}

/** The CPU the database's processes spent from `before` to `after` (a backend that started meanwhile: all of its own). */
function spentBetween (before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0
  for (const [pid, time] of after) sum += time - (before.get(pid) ?? 0)
  return sum
}

interface Loaded { requests: number, cpu: CpuTimes, loopSystem: number, database: number, loopPerWindow: number[], windows: Array<{ from: number, to: number }> }

/**
 * A warm-up (round `firstRound + ROUNDS`, which the fill prepared), then ROUNDS measured windows (rounds `firstRound`
 * on); the server's CPU per request over the windows alone.
 */
async function loadWindows (proc: Proc, scenario: Scenario, server: Server, firstRound: number, databaseCpu?: DatabaseCpu): Promise<Loaded> {
  await run(proc, scenario, firstRound + ROUNDS, WARM_UP_SECONDS)
  const windows: Array<{ from: number, to: number }> = []
  const loopPerWindow: number[] = []
  const spent = { all: 0, loop: 0, loopSystem: 0, database: 0 }
  let requests = 0
  let failures = 0
  for (let round = firstRound; round < firstRound + ROUNDS; round++) {
    const before = cpuTimes(proc.pid)
    const systemBefore = loopSystemMicros(proc.pid)
    const databaseBefore = await databaseCpu?.()
    const from = micros()
    const result = await run(proc, scenario, round, DURATION)
    windows.push({ from, to: micros() })
    const after = cpuTimes(proc.pid)
    spent.all += after.all - before.all
    spent.loop += after.loop - before.loop
    spent.loopSystem += loopSystemMicros(proc.pid) - systemBefore
    const databaseAfter = await databaseCpu?.()
    if (databaseBefore !== undefined && databaseAfter !== undefined) spent.database += spentBetween(databaseBefore, databaseAfter)
    loopPerWindow.push((after.loop - before.loop) / Math.max(1, result.requests))
    requests += result.requests
    failures += result.failures
  }
  if (failures > 0) throw new Error(`${scenario.name} on ${server}: ${failures} requests failed`)
  const per = (value: number) => value / Math.max(1, requests)
  return { requests, cpu: { all: per(spent.all), loop: per(spent.loop) }, loopSystem: per(spent.loopSystem), database: per(spent.database), loopPerWindow, windows }
}

/**
 * One scenario against a server started by `launch`: once under `--cpu-prof` into `dir`, its profile read for the
 * measured windows alone; then once without the profiler, for what the profiler itself costs.
 */
async function measure (scenario: Scenario, server: Server, dir: string, launch: (flags: string[]) => Promise<Proc>, databaseCpu?: DatabaseCpu): Promise<Cost> {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const proc = await launch(['--cpu-prof', '--cpu-prof-dir', dir])
  onUndo(async () => { await stop(proc) })
  const { requests, cpu, loopSystem, database, loopPerWindow, windows } = await loadWindows(proc, scenario, server, 0, databaseCpu)
  await stop(proc)
  const plain = await launch([])
  onUndo(async () => { await stop(plain) })
  const unprofiled = await loadWindows(plain, scenario, server, ROUNDS + 1)
  await stop(plain)
  const profile = mainThreadProfile(dir)
  const breakdown = stagesOf(profile, process.cwd(), windows)
  const stages = Object.fromEntries(breakdown.stages.map(({ stage, samples }) => [stage, cpu.loop * samples / Math.max(1, breakdown.busy)])) as Record<Stage, number>
  process.stderr.write(`  ${scenario.name} on ${server}: ${requests} requests, ${Math.round(cpu.loop)} µs of event loop CPU each ` +
    `(${loopPerWindow.map((us) => Math.round(us)).join(', ')} by window; ${Math.round(unprofiled.cpu.loop)} without the profiler), ${breakdown.busy} busy samples\n`)
  return { scenario: scenario.name, server, requests, cpu, loopSystem, database, loopPerWindow, unprofiled: unprofiled.cpu, stages, breakdown, profile: relative('.', profile) }
}

/** Fills the database through the service on its defaults (no key): the pages' and summaries' receivers, the ack pools of both runs. */
async function fill (databaseUrl: string, list: Scenario[]): Promise<void> {
  const service = await startService('.', databaseUrl)
  try {
    await preloadRows(service.url, ROWS)
    await preload(service.url, 'narrow', SUMMARY_RECEIVERS, MESSAGES_PER_RECEIVER, NARROW_SENDERS)
    await preload(service.url, 'wide', SUMMARY_RECEIVERS, MESSAGES_PER_RECEIVER, WIDE_SENDERS)
    for (const scenario of list) {
      for (let round = 0; round <= 2 * ROUNDS + 1; round++) if (scenario.before !== undefined) await scenario.before(service.url, round)
    }
  } finally {
    await stop(service)
  }
  await analyze(databaseUrl)
}

/** The service on `store`, with a key and a rate limit, each scenario in a profiled process of its own. */
async function serviceCosts (store: 'sqlite' | 'postgres', dir: string, out: string): Promise<Cost[]> {
  const databaseUrl = store === 'sqlite' ? await sqliteDatabase('costs')(dir) : await postgresDatabase('costs', POSTGRES_URL)()
  const list = costScenarios(ROWS / MESSAGES_PER_RECEIVER)
  await fill(databaseUrl, list)
  const costs: Cost[] = []
  for (const scenario of list) {
    costs.push(await measure(scenario, store, join(out, `${scenario.name}-${store}`), async (flags) =>
      await startService('.', databaseUrl, flags, undefined, { API_KEYS: API_KEY, RATE_LIMIT_PER_MINUTE }), store === 'postgres' ? postgresBackends(databaseUrl) : undefined))
  }
  return costs
}

/** The bare route (bench/bare-server.ts) with the same bodies: its summary answers as many senders as the scenario's. */
async function bareCosts (out: string): Promise<Cost[]> {
  const costs: Cost[] = []
  for (const scenario of costScenarios(ROWS / MESSAGES_PER_RECEIVER)) {
    const senders = /^summary-(\d+)$/.exec(scenario.name)?.[1]
    costs.push(await measure(scenario, 'bare', join(out, `${scenario.name}-bare`), async (flags) =>
      await start([...flags, '--import', 'tsx', 'bench/bare-server.ts'], senders === undefined ? {} : { BARE_SUMMARY_SENDERS: senders })))
  }
  return costs
}

export async function costs (): Promise<void> {
  undoOnSignals()
  const stores = String(args['cost-stores']).split(',').map((name) => name.trim())
  for (const store of stores) if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--cost-stores ${String(args['cost-stores'])}: sqlite, postgres or both`)
  const here = checkout(process.cwd())
  const started = new Date().toISOString()
  const loadBefore = loadavg()
  const dir = mkdtempSync(join(tmpdir(), 'om-costs-'))
  onUndo(async () => { rmSync(dir, { recursive: true, force: true }) })
  const out = resolve(String(args.out), 'profiles', 'costs')
  const results: Cost[] = []
  try {
    for (const store of stores) {
      process.stderr.write(`${store}:\n`)
      results.push(...await serviceCosts(store as 'sqlite' | 'postgres', dir, out))
    }
    process.stderr.write('bare:\n')
    results.push(...await bareCosts(out))
  } finally {
    await undoAll()
  }
  const loadAfter = loadavg()
  const command = `npm run bench -- --costs --cost-stores ${stores.join(',')} --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}`
  const context = { command, started, machine, checkout: describe(here), loadBefore, loadAfter, warmUpSeconds: WARM_UP_SECONDS, rows: ROWS }
  writeResults('costs', costsMarkdown(results, context), { ...context, stages: STAGES, results }, true)
}
