// `npm run bench`: autocannon scenarios against the real service and a bare Fastify floor, side by side, medians of rounds;
// with --baseline <dir>, against the service built in another checkout instead (bench/compare.ts); with --stores
// sqlite,postgres, this service on SQLite against itself on PostgreSQL (bench/stores.ts; with --devices <n> too, every
// receiver on both with n devices); with --devices <n> alone, receivers without devices against receivers with n devices
// each (bench/devices.ts); with --device-bytes, on-disk bytes per message with 0, 1 and 3 devices (bench/device-bytes.ts);
// with --citus-url <coordinator>, this service on plain PostgreSQL against itself on Citus (bench/citus.ts); with
// --waiters <n,...>, held long-poll requests on SQLite and PostgreSQL (bench/wait.ts); with --events, EVENTS=off against
// EVENTS=on and the event feed read (bench/events.ts); with --costs, the CPU per request by stage from CPU profiles, on
// both stores and on the bare route (bench/costs.ts); with --versus a:b, one scenario against another side by side
// (bench/versus.ts).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { compareCitus } from './citus.js'
import { compare } from './compare.js'
import { costs } from './costs.js'
import type { CpuTimes } from './cpu.js'
import { args, CONNECTIONS, DATABASE_URL, DURATION, FILL_BY_COPY, isPostgres, machine, POSTGRES_URL, ROUNDS, ROW_COUNTS, rowsOptions, SCENARIOS, storeKind, writeResults } from './options.js'
import { startFilled } from './fill.js'
import { postgresDatabase } from './sides.js'
import { undoAll, undoOnSignals } from './undo.js'
import { load, medianRun, median, scenarios, type Run } from './scenarios.js'
import { readMetrics, rssMb, start, stop } from './services.js'
import { compareDevices } from './devices.js'
import { compareEvents } from './events.js'
import { deviceBytes } from './device-bytes.js'
import { compareStores } from './stores.js'
import { compareVersus } from './versus.js'
import { scale } from './scale.js'
import { wakeups } from './wakeup.js'
import { waitBench } from './wait.js'
import { loadAverage, writeWaitResults } from './wait-report.js'

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
  const databaseUrl = FILL_BY_COPY && isPostgres
    ? await postgresDatabase(`rows${rows}`, POSTGRES_URL)()
    : DATABASE_URL ?? `sqlite:${join(dir, 'bench.db')}`
  const { proc: service, receivers } = await startFilled(databaseUrl, rows)
  const bare = await start(['--import', 'tsx', 'bench/bare-server.ts'], {})

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
        const before = await readMetrics(service.url) // reading the metrics resets the event-loop delay histogram
        serviceRuns.push(await load(service, scenario, round))
        const after = await readMetrics(service.url)
        delays.push(after)
        process.stderr.write(`  ${scenario.name} round ${round + 1}: bare ${Math.round(bareRuns[round]?.requestsPerSecond ?? 0)} req/s, ` +
          `service ${Math.round(serviceRuns[round]?.requestsPerSecond ?? 0)} req/s, ${after.expired - before.expired} messages expired by the sweep meanwhile\n`)
      }
      results.push({
        scenario: scenario.name,
        rows,
        service: medianRun(serviceRuns),
        bare: medianRun(bareRuns),
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

/** The service against the bare floor, round by round, then the CPU table with the floor without HTTP. */
async function againstBare (): Promise<void> {
  const all: ScenarioResult[] = []
  undoOnSignals()
  try {
    for (const rows of ROW_COUNTS) all.push(...await benchRows(rows))
  } finally {
    await undoAll() // --fill copy's PostgreSQL databases
  }
  const floor = await measureFloor()

  const command = `npm run bench -- ${rowsOptions()} --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}`
  let markdown = `Store: ${storeKind}. Machine: ${machine}. autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ` +
    `${ROUNDS} rounds of bare then service, medians. Command: \`${command}\`. ${new Date().toISOString()}\n\n${table(all)}\n` +
    `\nWhere the CPU goes (medians of rounds; the bounds are explained in the README's Benchmarks section):\n\n${costTable(all, floor)}\n`
  if (ROW_COUNTS.length > 1) markdown += `\nLatency against stored rows:\n\n${scaleTable(all)}\n`
  writeResults('latest', markdown, { machine, store: storeKind, command, results: all, withoutHttpCpuMicrosPerRequest: floor })
}

// --devices goes with --stores (both stores' receivers with devices) or alone (devices against none).
const modes = [
  args.baseline !== undefined && '--baseline', args.stores !== undefined && '--stores',
  args.devices !== undefined && args.stores === undefined && '--devices', args['device-bytes'] === true && '--device-bytes',
  args['citus-url'] !== undefined && '--citus-url', args.waiters !== undefined && '--waiters', args.events === true && '--events',
  args.costs === true && '--costs', args.versus !== undefined && '--versus', args.scale === true && '--scale'
].filter(Boolean)
if (modes.length > 1) throw new Error(`${modes.join(' and ')}: one at a time`)
if (args.baseline !== undefined) await compare(args.baseline)
else if (args.stores !== undefined) await compareStores()
else if (args.devices !== undefined) await compareDevices()
else if (args['device-bytes'] === true) await deviceBytes()
else if (args['citus-url'] !== undefined) await compareCitus()
else if (args.events === true) await compareEvents()
else if (args.costs === true) await costs()
else if (args.versus !== undefined) await compareVersus()
else if (args.scale === true) await scale()
else if (args.waiters !== undefined) {
  const loadBefore = loadAverage()
  const started = new Date().toISOString()
  writeWaitResults(await waitBench(), loadBefore, started)
}
else {
  if (SCENARIOS.some((name) => name !== 'wakeup')) await againstBare()
  if (SCENARIOS.includes('wakeup')) await wakeups()
}
