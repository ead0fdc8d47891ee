// Two services side by side, one run of each in every round: --baseline (two checkouts, one store) and --stores (one checkout, two stores; bench/stores.ts).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { args, CONNECTIONS, SCENARIO_LIST, DATABASE_URL, DURATION, isPostgres, machine, POSTGRES_URL, ROUNDS, ROW_COUNTS, SERVICE_ENV, serviceEnvOption, storeKind, writeResults } from './options.js'
import { load, median, medianRun, SCENARIO_RECEIVERS, scenarios, type Run, type Scenario } from './scenarios.js'
import { preloadRows, readMetrics, receiversFor, registerDevices, startService, stop, type Proc } from './services.js'
import { analyze, ANALYZED, buildCheckout, checkout, describe, postgresDatabase, sqliteDatabase, type Checkout, type Side } from './sides.js'
import { onUndo, undoAll, undoOnSignals } from './undo.js'

export interface SideResult {
  label: string
  /** The medians of the rounds' runs, and each. */
  run: Run
  runs: Run[]
  loopDelayP99Ms: number
  /** SQL statements and network round trips per request, the median of the rounds (NaN where not counted). */
  statementsPerRequest: number
  roundTripsPerRequest: number
}

export interface Comparison {
  scenario: string
  rows: number
  sides: [SideResult, SideResult]
  /** The second side's requests per second over the first's: the median of the rounds' ratios, their least and greatest, and each. */
  ratio: number
  ratioMin: number
  ratioMax: number
  ratios: number[]
}

/** A side's service, running. */
export interface Running { side: Side, proc: Proc, databaseUrl: string }

/**
 * Runs after a scenario's rounds, while both services still run: `scenario` is the first side's, `perSide` each side's
 * (they differ where a side has devices).
 */
export type AfterScenario = (scenario: Scenario, running: Running[], rows: number, receivers: number, perSide: Scenario[]) => Promise<void>

/** The rounds of one scenario, `perSide[i]` for running[i] (the same scenario, with the side's devices). */
async function rounds (perSide: Scenario[], rows: number, running: Running[]): Promise<Comparison> {
  const scenario = perSide[0] as Scenario
  const per = running.map(() => ({ runs: [] as Run[], loopDelayP99: [] as number[], statements: [] as number[], roundTrips: [] as number[] }))
  const ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    // Both prepared first, so that the two runs of the round follow each other.
    for (const [i, { proc, databaseUrl }] of running.entries()) {
      await perSide[i]?.before?.(proc.url, round)
      await analyze(databaseUrl)
    }
    // The side that goes first alternates, so that the machine's drift within a round favours neither.
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const { proc } = running[i] as Running
      const into = per[i] as (typeof per)[number]
      const before = await readMetrics(proc.url) // reading the metrics resets the event-loop delay histogram
      const run = await load(proc, perSide[i] as Scenario, round)
      const after = await readMetrics(proc.url)
      into.runs.push(run)
      into.loopDelayP99.push(after.p99)
      into.statements.push((after.statements - before.statements) / Math.max(1, run.requests))
      into.roundTrips.push((after.roundTrips - before.roundTrips) / Math.max(1, run.requests))
    }
    // This machine's speed drifts by up to half within minutes: only runs close in time compare, so the ratio is taken
    // within each round, and the median of the rounds' ratios reported with their spread.
    const [a = NaN, b = NaN] = per.map((side) => side.runs[round]?.requestsPerSecond)
    ratios.push(b / a)
    const [first, second] = running.map(({ side }) => side.label)
    process.stderr.write(`  ${scenario.name} round ${round + 1} (${round % 2 === 0 ? first : second} first): ${first} ${Math.round(a)} req/s, ` +
      `${second} ${Math.round(b)} req/s, ratio ${(b / a).toFixed(2)}\n`)
  }
  const sides = per.map((side, i): SideResult => ({
    label: running[i]?.side.label ?? '',
    run: medianRun(side.runs),
    runs: side.runs,
    loopDelayP99Ms: median(side.loopDelayP99),
    statementsPerRequest: median(side.statements),
    roundTripsPerRequest: median(side.roundTrips)
  })) as [SideResult, SideResult]
  return { scenario: scenario.name, rows, sides, ratio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios), ratios }
}

/**
 * Starts both sides on fresh databases, preloads `rows` messages through each, and runs every scenario's rounds; with
 * `pairs`, each pair's rounds instead, the first side running the pair's first scenario and the second its second.
 */
export async function compareRows (rows: number, sides: [Side, Side], after?: AfterScenario, pairs?: ReadonlyArray<readonly [string, string]>): Promise<Comparison[]> {
  const dir = mkdtempSync(join(tmpdir(), 'om-compare-'))
  onUndo(async () => { rmSync(dir, { recursive: true, force: true }) })
  try {
    const running: Running[] = []
    for (const side of sides) {
      const databaseUrl = await side.database(dir)
      const proc = await startService(side.checkout.dir, databaseUrl, [], side.node, { ...SERVICE_ENV, ...side.env })
      onUndo(async () => { await stop(proc) })
      running.push({ side, proc, databaseUrl })
    }
    let receivers = 0
    for (const { side, proc } of running) {
      // A side with devices registers them for every receiver the scenarios send to, before any message is stored.
      const devices = side.devices ?? 0
      if (devices > 0) {
        const started = Date.now()
        const targets = [{ prefix: 'load', count: receiversFor(rows) }, ...scenarios(0).flatMap(({ name }) => SCENARIO_RECEIVERS[name] ?? [])]
        for (const { prefix, count } of targets) await registerDevices(proc.url, prefix, count, devices)
        process.stderr.write(`${side.label}: registered ${devices} devices for each of ${targets.reduce((sum, { count }) => sum + count, 0)} receivers ` +
          `in ${((Date.now() - started) / 1000).toFixed(1)} s\n`)
      }
      receivers = await preloadRows(proc.url, rows, ` (${side.label})`)
    }
    const lists = running.map(({ side }) => scenarios(receivers, side.devices ?? 0))
    const named = (list: Scenario[] | undefined, name: string): Scenario => {
      const found = list?.find((scenario) => scenario.name === name)
      if (found === undefined) throw new Error(`no scenario named ${name}`)
      return found
    }
    const runs: Scenario[][] = pairs === undefined
      ? (lists[0] ?? []).map((_, k) => lists.map((list) => list[k] as Scenario))
      : pairs.map((pair) => lists.map((list, i) => named(list, pair[i] ?? '')))
    const results: Comparison[] = []
    for (const perSide of runs) {
      results.push(await rounds(perSide, rows, running))
      if (after !== undefined) await after(perSide[0] as Scenario, running, rows, receivers, perSide)
    }
    return results
  } finally {
    await undoAll()
  }
}

export const fixed = (value: number, digits = 1): string => Number.isNaN(value) ? '-' : value.toFixed(digits)

function table (results: Comparison[]): string {
  const lines = [
    '| scenario | rows | baseline req/s | current req/s | current / baseline (median of rounds) | min - max over the rounds | ' +
      'baseline p50 / p99 ms | current p50 / p99 ms | CPU us/req all threads, baseline / current | ' +
      'loop delay p99 beyond the 10 ms tick, baseline / current ms | statements / round trips per request, baseline; current | ' +
      'failed, baseline / current |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- |'
  ]
  for (const r of results) {
    const [{ run: b, ...baseline }, { run: c, ...current }] = r.sides
    const counts = (side: typeof baseline) => `${fixed(side.statementsPerRequest, 2)} / ${fixed(side.roundTripsPerRequest, 2)}`
    lines.push(`| ${r.scenario} | ${r.rows} | ${Math.round(b.requestsPerSecond)} | ${Math.round(c.requestsPerSecond)} | ` +
      `${r.ratio.toFixed(2)} | ${r.ratioMin.toFixed(2)} - ${r.ratioMax.toFixed(2)} | ${b.p50} / ${b.p99} | ${c.p50} / ${c.p99} | ` +
      `${Math.round(b.cpu.all)} / ${Math.round(c.cpu.all)} | ${fixed(baseline.loopDelayP99Ms)} / ${fixed(current.loopDelayP99Ms)} | ` +
      `${counts(baseline)}; ${counts(current)} | ${b.failures} / ${c.failures} |`)
  }
  return lines.join('\n')
}

/** The version of the node binary at `node` (this process's when undefined). */
const nodeVersion = (node?: string): string => node === undefined ? process.version : execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()

/**
 * `--baseline <dir>`: the service built in another checkout (the baseline) against this one's (the current);
 * `--baseline-node <path>` runs the baseline on another Node (its checkout's node_modules built for that Node).
 */
/**
 * A side on the run's store (DATABASE_URL's: PostgreSQL, with a database of its own on --postgres-url's server, or else
 * a SQLite file of its own), named `label`, running `at`'s service; `more` sets the rest (devices, node, env).
 */
export function sideOnRunStore (label: string, at: Checkout, more: Partial<Side> = {}): Side {
  return {
    label,
    checkout: at,
    store: isPostgres ? 'postgres' : 'sqlite',
    database: isPostgres ? postgresDatabase(label, POSTGRES_URL) : sqliteDatabase(label, DATABASE_URL === 'sqlite::memory:'),
    ...more
  }
}

export async function compare (baselineDir: string): Promise<void> {
  const dir = resolve(baselineDir)
  undoOnSignals()
  buildCheckout(dir)
  const side = (label: string, at: string, node?: string): Side => sideOnRunStore(label, checkout(at), node === undefined ? {} : { node })
  const baselineNode = args['baseline-node']
  const sides: [Side, Side] = [side('baseline', dir, baselineNode), side('current', process.cwd())]
  const all: Comparison[] = []
  for (const rows of ROW_COUNTS) all.push(...await compareRows(rows, sides))

  const command = `npm run bench -- --baseline ${baselineDir} --scenarios ${SCENARIO_LIST} --rows ${args.rows} ` +
    `--duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}` + (baselineNode === undefined ? '' : ` --baseline-node ${baselineNode}`) +
    serviceEnvOption()
  const markdown = `Baseline: ${describe(sides[0].checkout)} on node ${nodeVersion(baselineNode)}. ` +
    `Current: ${describe(sides[1].checkout)} on node ${process.version}.\n\n` +
    `Store: ${storeKind}, a database of its own for each service, preloaded alike; ${ANALYZED}. Machine: ${machine}. ` +
    `autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} rounds of baseline and current, which goes first ` +
    `alternating, medians. Command: \`${command}\`. ${new Date().toISOString()}\n\n${table(all)}\n\n` +
    'The ratio is the median of the rounds\' ratios, each between two runs back to back; where its range over the rounds ' +
    'spans 1.00 the difference is within this run\'s noise. `expiry` stores at a fixed rate: its ratio is 1.00 by design, ' +
    'its loop delay is the figure. Statements and round trips are the service\'s counters (`-` where it has none), the ' +
    'sweep\'s included. With --baseline the bare-floor columns and the CPU table without HTTP are left out ' +
    '(run without --baseline for them).\n'
  writeResults(baselineNode === undefined ? 'compare' : 'node-runtime', markdown, { machine, store: storeKind, command, baseline: sides[0].checkout, current: sides[1].checkout, results: all })
}
