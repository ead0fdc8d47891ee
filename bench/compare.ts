// `npm run bench -- --baseline <dir>`: the service built in another checkout (the baseline) against this one's (the
// current), each on a database of its own preloaded alike, run after run in each round: baseline, current, baseline,
// current. This machine's speed drifts by up to half within minutes, so only runs close in time compare: the ratio
// reported is the median of the rounds' ratios, and their spread says how far to trust it.
import { execFileSync } from 'node:child_process'
import { lstatSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import pg from 'pg'
import { args, CONNECTIONS, DATABASE_URL, DURATION, isPostgres, machine, ROUNDS, ROW_COUNTS, storeKind, writeResults } from './options.js'
import { load, median, medianRun, scenarios, type Run } from './scenarios.js'
import { preloadRows, readMetrics, startService, stop, type Proc } from './services.js'

type Role = 'baseline' | 'current'

interface Checkout { role: Role, dir: string, commit: string, uncommittedChanges: boolean }

function checkout (role: Role, dir: string): Checkout {
  const git = (...command: string[]) => execFileSync('git', ['-C', dir, ...command], { encoding: 'utf8' }).trim()
  return { role, dir, commit: git('rev-parse', 'HEAD'), uncommittedChanges: git('status', '--porcelain', '--untracked-files=no') !== '' }
}

const exists = (path: string): boolean => { try { lstatSync(path); return true } catch { return false } }

/** Builds the baseline's dist/ if it has none, with its own node_modules or, lacking them, a link to this checkout's. */
function buildBaseline (dir: string): void {
  if (existsSync(join(dir, 'dist/src/server.js'))) return
  if (!exists(join(dir, 'node_modules'))) {
    symlinkSync(resolve('node_modules'), join(dir, 'node_modules'), 'dir')
    process.stderr.write(`baseline: ${join(dir, 'node_modules')} now links to ${resolve('node_modules')}\n`)
  }
  process.stderr.write(`baseline: building ${join(dir, 'dist')} (npx tsc -p tsconfig.build.json)\n`)
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' })
}

// What a run has started or created, undone last first: at its end, on an error, or on SIGINT / SIGTERM.
const undo: Array<() => Promise<void>> = []
async function undoAll (): Promise<void> {
  for (let step = undo.pop(); step !== undefined; step = undo.pop()) {
    try { await step() } catch (error) { process.stderr.write(`cleaning up: ${String(error)}\n`) }
  }
}
function undoOnSignals (): void {
  let undoing = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Not once: a Ctrl-C reaches this process more than once (from the terminal, and relayed by npm and tsx).
    process.on(signal, () => {
      if (undoing) return
      undoing = true
      process.stderr.write(`${signal}: stopping the services and removing their databases\n`)
      void undoAll().finally(() => process.exit(130))
    })
  }
}

/** On DATABASE_URL's PostgreSQL server, through its maintenance database `postgres`. */
async function onServer (sql: string): Promise<void> {
  const url = new URL(DATABASE_URL ?? '')
  url.pathname = '/postgres'
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try { await client.query(sql) } finally { await client.end() }
}

/**
 * A database for one service: SQLite, a file in `dir` (sqlite::memory: stays in memory); PostgreSQL, a database of its
 * own on DATABASE_URL's server, named after DATABASE_URL's with the role and this process's id, dropped at the end.
 */
async function database (dir: string, role: Role): Promise<string> {
  if (!isPostgres) return DATABASE_URL === 'sqlite::memory:' ? DATABASE_URL : `sqlite:${join(dir, `${role}.db`)}`
  const url = new URL(DATABASE_URL ?? '')
  const suffix = `_${role}_${process.pid}`
  const name = (url.pathname.slice(1).toLowerCase().replace(/\W/g, '_') || 'om_bench').slice(0, 63 - suffix.length) + suffix
  await onServer(`CREATE DATABASE "${name}"`)
  undo.push(async () => { await onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) })
  url.pathname = `/${name}`
  return url.toString()
}

interface Side { checkout: Checkout, proc: Proc, runs: Run[], loopDelayP99: number[] }

interface Comparison {
  scenario: string
  rows: number
  baseline: Run
  current: Run
  /** Current over baseline requests per second: the median of the rounds' ratios, their least and greatest, and each. */
  ratio: number
  ratioMin: number
  ratioMax: number
  ratios: number[]
  loopDelayP99Ms: Record<Role, number>
}

async function compareRows (rows: number, checkouts: [Checkout, Checkout]): Promise<Comparison[]> {
  const dir = mkdtempSync(join(tmpdir(), 'om-compare-'))
  undo.push(async () => { rmSync(dir, { recursive: true, force: true }) })
  try {
    const sides: Side[] = []
    for (const checkout of checkouts) {
      const proc = await startService(checkout.dir, await database(dir, checkout.role))
      undo.push(async () => { await stop(proc) })
      sides.push({ checkout, proc, runs: [], loopDelayP99: [] })
    }
    let receivers = 0
    for (const side of sides) receivers = await preloadRows(side.proc.url, rows, ` (${side.checkout.role})`)

    const results: Comparison[] = []
    for (const scenario of scenarios(receivers)) {
      for (const side of sides) { side.runs = []; side.loopDelayP99 = [] }
      const ratios: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        // Both prepared first, so that the two runs of the round follow each other.
        for (const side of sides) if (scenario.before !== undefined) await scenario.before(side.proc.url, round)
        const rates: number[] = []
        for (const side of sides) {
          await readMetrics(side.proc.url) // reading the metrics resets the event-loop delay histogram
          const run = await load(side.proc, scenario, round)
          side.runs.push(run)
          side.loopDelayP99.push((await readMetrics(side.proc.url)).p99)
          rates.push(run.requestsPerSecond)
        }
        const [baselineRate = 0, currentRate = 0] = rates
        ratios.push(currentRate / baselineRate)
        process.stderr.write(`  ${scenario.name} round ${round + 1}: baseline ${Math.round(baselineRate)} req/s, ` +
          `current ${Math.round(currentRate)} req/s, ratio ${(currentRate / baselineRate).toFixed(2)}\n`)
      }
      const [baseline, current] = sides as [Side, Side]
      results.push({
        scenario: scenario.name,
        rows,
        baseline: medianRun(baseline.runs),
        current: medianRun(current.runs),
        ratio: median(ratios),
        ratioMin: Math.min(...ratios),
        ratioMax: Math.max(...ratios),
        ratios,
        loopDelayP99Ms: { baseline: median(baseline.loopDelayP99), current: median(current.loopDelayP99) }
      })
    }
    return results
  } finally {
    await undoAll()
  }
}

function table (results: Comparison[]): string {
  const ms = (value: number) => Number.isNaN(value) ? '-' : value.toFixed(1)
  const lines = [
    '| scenario | rows | baseline req/s | current req/s | current / baseline (median of rounds) | min - max over the rounds | ' +
      'baseline p50 / p99 ms | current p50 / p99 ms | CPU us/req all threads, baseline / current | ' +
      'loop delay p99 beyond the 10 ms tick, baseline / current ms | failed, baseline / current |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |'
  ]
  for (const r of results) {
    lines.push(`| ${r.scenario} | ${r.rows} | ${Math.round(r.baseline.requestsPerSecond)} | ${Math.round(r.current.requestsPerSecond)} | ` +
      `${r.ratio.toFixed(2)} | ${r.ratioMin.toFixed(2)} - ${r.ratioMax.toFixed(2)} | ${r.baseline.p50} / ${r.baseline.p99} | ` +
      `${r.current.p50} / ${r.current.p99} | ${Math.round(r.baseline.cpu.all)} / ${Math.round(r.current.cpu.all)} | ` +
      `${ms(r.loopDelayP99Ms.baseline)} / ${ms(r.loopDelayP99Ms.current)} | ${r.baseline.failures} / ${r.current.failures} |`)
  }
  return lines.join('\n')
}

export async function compare (baselineDir: string): Promise<void> {
  const dir = resolve(baselineDir)
  undoOnSignals()
  buildBaseline(dir)
  const checkouts: [Checkout, Checkout] = [checkout('baseline', dir), checkout('current', process.cwd())]
  const all: Comparison[] = []
  for (const rows of ROW_COUNTS) all.push(...await compareRows(rows, checkouts))

  const describe = (c: Checkout) => `${c.dir} at ${c.commit}${c.uncommittedChanges ? ' with uncommitted changes' : ''}`
  const command = `npm run bench -- --baseline ${baselineDir} --scenarios ${args.scenarios} --rows ${args.rows} ` +
    `--duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}`
  const markdown = `Baseline: ${describe(checkouts[0])}. Current: ${describe(checkouts[1])}.\n\n` +
    `Store: ${storeKind}, a database of its own for each service, preloaded alike. Machine: ${machine}. ` +
    `autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} rounds of baseline then current, medians. ` +
    `Command: \`${command}\`. ${new Date().toISOString()}\n\n${table(all)}\n\n` +
    'The ratio is the median of the rounds\' ratios, each between two runs back to back; where its range over the rounds ' +
    'spans 1.00 the difference is within this run\'s noise. `expiry` stores at a fixed rate: its ratio is 1.00 by design, ' +
    'its loop delay is the figure. With --baseline the bare-floor columns and the CPU table without HTTP are left out ' +
    '(run without --baseline for them).\n'
  writeResults('compare', markdown, { machine, store: storeKind, command, baseline: checkouts[0], current: checkouts[1], results: all })
}
