// `--stores sqlite,postgres`: this checkout's service on SQLite and on PostgreSQL side by side, against issue 15's goal, with a
// CPU profile of each PostgreSQL scenario; with --devices <n>, every receiver on both sides with n devices.
import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { args, CONNECTIONS, devicesOption, SCENARIO_LIST, DURATION, isPostgres, machine, POSTGRES_URL, ROUNDS, ROW_COUNTS, SERVICE_ENV, writeResults } from './options.js'
import { compareRows, fixed, type Comparison, type Running } from './compare.js'
import { analyse, profileMarkdown, type Analysis } from './profile.js'
import { load, median, withDevices, type Run, type Scenario } from './scenarios.js'
import { startService, stop } from './services.js'
import { ANALYZED, checkout, describe, postgresDatabase, sqliteDatabase, type Side } from './sides.js'
import { onUndo, undoOnSignals } from './undo.js'

// Issue 15: each of these on PostgreSQL at least half the SQLite figure of the same run, and acks/s >= stores/s.
const GOAL = 0.5
const GOAL_SCENARIOS = ['store', 'batch', 'summary', 'page', 'ack']

export interface Profiled { scenario: string, rows: number, requestsPerSecond: number, analysis: Analysis }

const micros = () => Number(process.hrtime.bigint() / 1000n)

/**
 * One more service of the measured side's checkout, under `node --cpu-prof`, on the database the measured one has
 * filled, for one load of the scenario; stopped with SIGTERM, on which the service closes and Node writes the profile.
 * The profile goes to bench/results/profiles/<scenario><suffix>/.
 */
export async function profileSide (scenario: Scenario, measured: Running, rows: number, suffix = ''): Promise<Profiled> {
  const dir = resolve(String(args.out), 'profiles', `${ROW_COUNTS.length > 1 ? `${scenario.name}-${rows}` : scenario.name}${suffix}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  // A round index the measured rounds did not use, prepared through the measured service so that the profile holds the load alone.
  if (scenario.before !== undefined) await scenario.before(measured.proc.url, ROUNDS)
  const proc = await startService(measured.side.checkout.dir, measured.databaseUrl, ['--cpu-prof', '--cpu-prof-dir', dir], measured.side.node, { ...SERVICE_ENV, ...measured.side.env })
  onUndo(async () => { await stop(proc) })
  const from = micros()
  const run = await load(proc, scenario, ROUNDS)
  const to = micros()
  await stop(proc)
  // Node names each thread's profile CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: the main thread's (0) holds the
  // event loop; on SQLite the checkpointer's worker writes one of its own, which sorts after it.
  const file = readdirSync(dir).filter((name) => /\.0\.\d+\.cpuprofile$/.test(name)).sort().at(-1)
  if (file === undefined) throw new Error(`${dir}: no .cpuprofile after the profiled service exited (code ${String(proc.child.exitCode)})`)
  // Startup and shutdown left out: the samples taken while the load ran (V8's clock is the monotonic one, as hrtime's).
  const analysis = analyse(join(dir, file), measured.side.checkout.dir, { from, to })
  process.stderr.write(`  ${scenario.name}: profiled, ${analysis.samples} samples in ${relative('.', analysis.file)}\n`)
  return { scenario: scenario.name, rows, requestsPerSecond: run.requestsPerSecond, analysis }
}

/**
 * Both sides' profiles of the scenario (`perSide`: each side's, as compareRows runs them), each labelled by
 * `labelOf(its index)`, in the sides' order.
 */
export async function profileEachSide (
  perSide: Scenario[], running: Running[], rows: number, labelOf: (side: number) => string
): Promise<Array<Profiled & { label: string }>> {
  const profiled: Array<Profiled & { label: string }> = []
  for (const [i, measured] of running.entries()) {
    profiled.push({ ...await profileSide(perSide[i] as Scenario, measured, rows, `-${measured.side.label}${isPostgres ? '-postgres' : ''}`), label: labelOf(i) })
  }
  return profiled
}

/** The PostgreSQL side's profile of the scenario (`perSide`: each side's, as compareRows runs them). */
async function profile (perSide: Scenario[], running: Running[], rows: number, suffix: string): Promise<Profiled> {
  const i = running.findIndex(({ side }) => side.store === 'postgres')
  if (i < 0) throw new Error('--stores runs no PostgreSQL side')
  return await profileSide(perSide[i] as Scenario, running[i] as Running, rows, suffix)
}

/** A goal that holds for some scenarios: `goal` for those named, none for the others. */
export const goalOf = (goal: number, scenarios: readonly string[]) => (scenario: string): number | undefined => scenarios.includes(scenario) ? goal : undefined

export const range = (values: number[]) => values.length === 0 ? '-' : `${fixed(Math.min(...values), 2)} - ${fixed(Math.max(...values), 2)}`

/** Per round, the ack scenario's rate over the store scenario's rate of the same round index, on one side. */
function ackOverStore (results: Comparison[], rows: number, side: 0 | 1): number[] {
  const runs = (name: string) => results.find((r) => r.rows === rows && r.scenario === name)?.sides[side].runs ?? []
  const stores = runs('store')
  return runs('ack').map((ack, i) => ack.requestsPerSecond / (stores[i]?.requestsPerSecond ?? NaN)).filter((ratio) => !Number.isNaN(ratio))
}

/**
 * The machine's CPU per request on each side (every process: the service, the database's, the load generator, the
 * kernel's threads) and the share of it left idle: with the cores busy on both sides, the rates stand in the inverse
 * ratio of the machine's CPU per request, whatever either side waits for.
 */
export function machineTable (results: Comparison[], [a, b]: [string, string]): string {
  const pct = (share: number): string => `${fixed(100 * share, 0)}%`
  const rest = (run: Run): number => run.machineCpu - run.cpu.all - run.generatorCpu
  const pair = (of: (run: Run) => number, [first, second]: Comparison['sides']): string => `${fixed(of(first.run), 0)} / ${fixed(of(second.run), 0)}`
  return [`| scenario | rows | machine CPU us/req, ${a} / ${b} | of it the service | the load generator | the rest (the database's processes, the kernel) | ` +
    `machine idle | ${a} / ${b} machine CPU (the ratio the cores allow) | ${b} / ${a}, measured |`, '| --- | ---: | --- | --- | --- | --- | --- | ---: | ---: |',
  ...results.map(({ scenario, rows, sides, ratio }) => `| ${scenario} | ${rows} | ${pair((run) => run.machineCpu, sides)} | ${pair((run) => run.cpu.all, sides)} | ` +
      `${pair((run) => run.generatorCpu, sides)} | ${pair(rest, sides)} | ${pct(sides[0].run.machineIdle)} / ${pct(sides[1].run.machineIdle)} | ` +
      `${fixed(sides[0].run.machineCpu / sides[1].run.machineCpu, 2)} | ${fixed(ratio, 2)} |`)
  ].join('\n')
}

/** Per scenario, both sides' figures and the second's over the first's against `goal` where `goalScenarios` set it. */
export function sideBySideTable (results: Comparison[], [a, b]: [string, string], goalOf: (scenario: string) => number | undefined, goalHeading: string): string {
  const lines = [
    `| scenario | rows | ${a} req/s | ${b} req/s | ${b} / ${a} (median of rounds) | min - max over the rounds | ` +
      `${goalHeading} | statements per request, ${a} / ${b} | round trips per request, ${a} / ${b} | ` +
      `p50 / p99 ms, ${a}; ${b} | failed, ${a} / ${b} |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |'
  ]
  for (const r of results) {
    const [first, second] = r.sides
    const goal = goalOf(r.scenario)
    const reached = goal === undefined ? '-' : r.ratio >= goal ? (r.ratioMin >= goal ? 'yes' : 'yes (not every round)') : 'no'
    lines.push(`| ${r.scenario} | ${r.rows} | ${Math.round(first.run.requestsPerSecond)} | ${Math.round(second.run.requestsPerSecond)} | ` +
      `${fixed(r.ratio, 2)} | ${range(r.ratios)} | ${reached} | ${fixed(first.statementsPerRequest, 2)} / ${fixed(second.statementsPerRequest, 2)} | ` +
      `${fixed(first.roundTripsPerRequest, 2)} / ${fixed(second.roundTripsPerRequest, 2)} | ${first.run.p50} / ${first.run.p99}; ` +
      `${second.run.p50} / ${second.run.p99} | ${first.run.failures} / ${second.run.failures} |`)
  }
  return lines.join('\n')
}

/** The issue's acceptance, read off this run: the ack/store lines and which scenarios miss the goal. */
function verdict (results: Comparison[]): { markdown: string, ackOverStore: Record<number, { sqlite: number[], postgres: number[] }> } {
  const lines: string[] = []
  const ratios: Record<number, { sqlite: number[], postgres: number[] }> = {}
  for (const rows of ROW_COUNTS) {
    const [sqlite, postgres] = [ackOverStore(results, rows, 0), ackOverStore(results, rows, 1)]
    ratios[rows] = { sqlite, postgres }
    const missing = GOAL_SCENARIOS.filter((name) => !results.some((r) => r.rows === rows && r.scenario === name))
    const short = results.filter((r) => r.rows === rows && GOAL_SCENARIOS.includes(r.scenario) && !(r.ratio >= GOAL)).map((r) => r.scenario)
    const acks = median(postgres)
    lines.push(`- rows ${rows}: PostgreSQL acks/s over stores/s ${fixed(acks, 2)} (median of rounds, ${range(postgres)}; ` +
      `SQLite ${fixed(median(sqlite), 2)}): ${postgres.length === 0 ? 'not measured (needs store and ack)' : acks >= 1 ? 'reaches 1' : 'below 1'}. ` +
      `Below ${GOAL} of SQLite: ${short.length === 0 ? 'none' : short.join(', ')}` +
      `${missing.length === 0 ? '' : ` (not run: ${missing.join(', ')})`}. Goal met in this run: ` +
      `${missing.length === 0 && short.length === 0 && acks >= 1 ? 'yes' : 'no'}.`)
  }
  return { markdown: lines.join('\n'), ackOverStore: ratios }
}

/** Each profile's tables, under a heading naming `whose` it is. */
export function profilesMarkdown (profiled: Profiled[], whose: string): string {
  return profiled.map((p) => `### ${p.scenario}${ROW_COUNTS.length > 1 ? `, ${p.rows} rows` : ''}: CPU profile of ${whose}\n\n` +
    `One more run of ${DURATION} s under \`node --cpu-prof\`, ${Math.round(p.requestsPerSecond)} req/s (the profiler slows it: ` +
    `not comparable with the table), ${p.analysis.samples} samples ${p.analysis.windowed ? 'taken while the load ran' : 'over the whole process (startup and shutdown included)'}, ` +
    `\`${relative('.', p.analysis.file)}\`. Self time: the function on top of the stack when sampled; \`(idle)\` is the ` +
    'event loop waiting (on PostgreSQL, among others).\n\n' + profileMarkdown(p.analysis)).join('\n\n')
}

export async function compareStores (): Promise<void> {
  const stores = String(args.stores).split(',').map((name) => name.trim())
  if (stores.length !== 2 || !stores.includes('sqlite') || !stores.includes('postgres')) {
    throw new Error(`--stores ${String(args.stores)}: the stores compared are sqlite,postgres`)
  }
  const devices = devicesOption()
  undoOnSignals()
  const here = checkout(process.cwd())
  const withThem = devices === undefined ? {} : { devices }
  const sides: [Side, Side] = [
    { label: 'sqlite', checkout: here, store: 'sqlite', database: sqliteDatabase('sqlite'), ...withThem },
    { label: 'postgres', checkout: here, store: 'postgres', database: postgresDatabase('postgres', POSTGRES_URL), ...withThem }
  ]
  const suffix = devices === undefined ? '' : `-devices${devices}`
  const profiled: Profiled[] = []
  const afterScenario = async (_scenario: Scenario, running: Running[], rows: number, _receivers: number, perSide: Scenario[]) => {
    if (args.profile === true) profiled.push(await profile(perSide, running, rows, suffix))
  }
  const results: Comparison[] = []
  for (const rows of ROW_COUNTS) results.push(...await compareRows(rows, sides, afterScenario))

  const server = new URL(POSTGRES_URL)
  server.password = ''
  const command = `npm run bench -- --stores sqlite,postgres${devices === undefined ? '' : ` --devices ${devices}`} --scenarios ${SCENARIO_LIST} --rows ${args.rows} ` +
    `--duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}${args.profile === true ? '' : ' --no-profile'}`
  const { markdown: goal, ackOverStore: ackRatios } = verdict(results)
  const markdown = `Checkout: ${describe(here)}. SQLite: a fresh file in a temporary directory (the service's defaults). ` +
    `PostgreSQL: a fresh database on ${server.host}, dropped at the end. ${devices === undefined ? '' : `On both, ${withDevices(devices)} `}` +
    `Both preloaded alike; ${ANALYZED}. Machine: ${machine}. ` +
    `autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} rounds of SQLite and PostgreSQL, which goes first ` +
    `alternating, medians. Command: \`${command}\`. ${new Date().toISOString()}\n\n${sideBySideTable(results, ['SQLite', 'PostgreSQL'], goalOf(GOAL, GOAL_SCENARIOS), `reaches ${GOAL}`)}\n\n` +
    `Issue 15's goal: store, batch, summary, page and ack on PostgreSQL at least ${GOAL} of SQLite, and PostgreSQL acks/s ` +
    `at least its stores/s.\n\n${goal}\n\nThe ratio is the median of the rounds' ratios, each between two runs back to back. ` +
    'Acks over stores divides the ack run of each round by the store run of the same round index: those ran minutes apart, ' +
    'so the machine\'s drift weighs on it more. Statements (BEGIN and COMMIT included) and round trips are the service\'s ' +
    'counters over each run divided by its requests, the sweep\'s included (`-` where the service counts none). ' +
    '`expiry` stores at a fixed rate, its loop delay the figure: below 1.00 its ratio says PostgreSQL fell short of that rate.\n\n' +
    `Where the machine's CPU went (medians of the rounds; /proc/stat over each run, divided by its requests; SQLite's side has no database processes):\n\n${machineTable(results, ['SQLite', 'PostgreSQL'])}\n` + (profiled.length === 0 ? '' : `\n${profilesMarkdown(profiled, 'the PostgreSQL service')}\n`)
  writeResults(`stores${devices === undefined ? '' : '-devices'}`, markdown, {
    machine, command, postgresServer: server.toString(), checkout: here, devices: devices ?? 0, goal: GOAL, results, ackOverStore: ackRatios,
    profiles: profiled.map(({ analysis, ...p }) => ({ ...p, ...analysis, file: relative('.', analysis.file) }))
  }, true)
}
