// `--devices <n>`: this checkout's service twice on one store, side by side: receivers without devices against receivers
// that each registered n devices before any message, against the devices issue's goal.
import { args, CONNECTIONS, devicesOption, DURATION, isPostgres, machine, POSTGRES_URL, ROUNDS, ROW_COUNTS, SCENARIO_LIST, storeKind, writeResults } from './options.js'
import { compareRows, fixed, sideOnRunStore, type Comparison, type Running } from './compare.js'
import { profileMarkdown } from './profile.js'
import { withDevices, type Scenario } from './scenarios.js'
import { ANALYZED, checkout, describe, type Side } from './sides.js'
import { profileEachSide, range, type Profiled } from './stores.js'
import { undoOnSignals } from './undo.js'

// The devices issue: store throughput with 3 devices per receiver at least 0.6 of that without devices.
const GOAL = 0.6
const GOAL_SCENARIOS = ['store']
// The scenarios profiled on both sides after their rounds (unless --no-profile).
const PROFILED = ['store']

function table (results: Comparison[], devices: number): string {
  const lines = [
    `| scenario | rows | no devices req/s | ${devices} devices req/s | ${devices} devices / none (median of rounds) | min - max over the rounds | ` +
      `reaches ${GOAL} | statements per request, none / ${devices} devices | p50 / p99 ms, none; ${devices} devices | ` +
      `CPU us/req all threads, none / ${devices} devices | failed, none / ${devices} devices |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |'
  ]
  for (const r of results) {
    const [none, some] = r.sides
    const goal = !GOAL_SCENARIOS.includes(r.scenario) ? '-' : r.ratio >= GOAL ? (r.ratioMin >= GOAL ? 'yes' : 'yes (not every round)') : 'no'
    lines.push(`| ${r.scenario} | ${r.rows} | ${Math.round(none.run.requestsPerSecond)} | ${Math.round(some.run.requestsPerSecond)} | ` +
      `${fixed(r.ratio, 2)} | ${range(r.ratios)} | ${goal} | ${fixed(none.statementsPerRequest, 2)} / ${fixed(some.statementsPerRequest, 2)} | ` +
      `${none.run.p50} / ${none.run.p99}; ${some.run.p50} / ${some.run.p99} | ${Math.round(none.run.cpu.all)} / ${Math.round(some.run.cpu.all)} | ` +
      `${none.run.failures} / ${some.run.failures} |`)
  }
  return lines.join('\n')
}

export function profilesMarkdown (profiled: Array<Profiled & { label: string }>): string {
  return profiled.map((p) => `### ${p.scenario}${ROW_COUNTS.length > 1 ? `, ${p.rows} rows` : ''}: CPU profile, ${p.label}\n\n` +
    `One more run of ${DURATION} s under \`node --cpu-prof\` on the side's database, ${Math.round(p.requestsPerSecond)} req/s ` +
    `(the profiler slows it: not comparable with the table), ${p.analysis.samples} samples ` +
    `${p.analysis.windowed ? 'taken while the load ran' : 'over the whole process (startup and shutdown included)'}, ` +
    `\`${p.analysis.file}\`. Self time: the function on top of the stack when sampled; \`(idle)\` is the event loop waiting.\n\n` +
    profileMarkdown(p.analysis)).join('\n\n')
}

export async function compareDevices (): Promise<void> {
  const devices = devicesOption() as number
  undoOnSignals()
  const here = checkout(process.cwd())
  const sides: [Side, Side] = [
    sideOnRunStore('nodevices', here),
    sideOnRunStore(`devices${devices}`, here, { devices })
  ]
  const profiled: Array<Profiled & { label: string }> = []
  const afterScenario = async (_scenario: Scenario, running: Running[], rows: number, _receivers: number, perSide: Scenario[]) => {
    if (args.profile !== true || !PROFILED.includes(_scenario.name)) return
    profiled.push(...await profileEachSide(perSide, running, rows, (i) => i === 0 ? 'no devices' : `${devices} devices per receiver`))
  }
  const results: Comparison[] = []
  for (const rows of ROW_COUNTS) results.push(...await compareRows(rows, sides, afterScenario))

  const command = `${isPostgres ? 'DATABASE_URL=postgres://... ' : ''}npm run bench -- --devices ${devices} --scenarios ${SCENARIO_LIST} ` +
    `--rows ${args.rows} --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}${args.profile === true ? '' : ' --no-profile'}`
  const verdict = ROW_COUNTS.map((rows) => {
    const r = results.find((result) => result.rows === rows && result.scenario === 'store')
    return `- rows ${rows}: store with ${devices} devices over none ${r === undefined ? 'not measured' : `${fixed(r.ratio, 2)} (median of rounds, ${range(r.ratios)})`}: ` +
      `goal met in this run: ${r === undefined ? 'no (not run)' : r.ratio >= GOAL ? (r.ratioMin >= GOAL ? 'yes' : 'yes, not in every round') : 'no'}.`
  }).join('\n')
  const where = isPostgres ? `PostgreSQL: a fresh database of each side on ${new URL(POSTGRES_URL).host}, dropped at the end` : 'SQLite: a fresh file of each side in a temporary directory (the service\'s defaults)'
  const markdown = `Checkout: ${describe(here)}. Store: ${storeKind}. ${where}. One side's receivers have no device; on the other, ` +
    `${withDevices(devices)} Both preloaded alike; ${ANALYZED}. Machine: ${machine}. ` +
    `autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} rounds of both sides, which goes first alternating, medians. ` +
    `Command: \`${command}\`. ${new Date().toISOString()}\n\n${table(results, devices)}\n\n` +
    `The devices issue's goal: store throughput with ${devices} devices at least ${GOAL} of that without devices.\n\n${verdict}\n\n` +
    'The ratio is the median of the rounds\' ratios, each between two runs back to back. Statements (BEGIN and COMMIT included) ' +
    'are the service\'s counter over each run divided by its requests, the sweep\'s included.\n' +
    (profiled.length === 0 ? '' : `\n${profilesMarkdown(profiled)}\n`)
  writeResults('devices', markdown, {
    machine, store: storeKind, command, checkout: here, devices, goal: GOAL, results,
    profiles: profiled.map(({ analysis, ...p }) => ({ ...p, ...analysis }))
  })
}
