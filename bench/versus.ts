// `--versus a:b,...`: this checkout's service twice on the run's store, one side running scenario a while the other runs
// b, which goes first alternating in each round: two kinds of request compared side by side, as a goal that sets one
// against the other asks (issue 29: a recall at least as fast as an ack of one message, `--versus ack:recall`; stores
// with a collapse key at least 0.7 of plain stores, `--versus store:store-collapse`).
import { args, CONNECTIONS, DURATION, isPostgres, machine, POSTGRES_URL, ROUNDS, ROW_COUNTS, serviceEnvOption, storeKind, writeResults } from './options.js'
import { compareRows, fixed, sideOnRunStore, type Comparison } from './compare.js'
import { ANALYZED, checkout, describe, type Side } from './sides.js'
import { range, sideBySideTable } from './stores.js'
import { undoOnSignals } from './undo.js'

/** The goals that set one scenario against another: the second's rate over the first's at least this. */
const GOALS: Record<string, number> = { 'ack:recall': 1, 'store:store-collapse': 0.7 }

/** --versus as pairs of scenario names. */
function pairsOf (option: string): Array<[string, string]> {
  return option.split(',').map((pair) => {
    const [a, b, ...rest] = pair.split(':')
    if (a === undefined || b === undefined || a === '' || b === '' || rest.length > 0) throw new Error(`--versus ${pair}: a:b, two scenario names`)
    return [a, b]
  })
}

export async function compareVersus (): Promise<void> {
  undoOnSignals()
  const pairs = pairsOf(String(args.versus))
  const here = checkout(process.cwd())
  const sides: [Side, Side] = [sideOnRunStore('first', here), sideOnRunStore('second', here)]
  const results: Comparison[] = []
  for (const rows of ROW_COUNTS) results.push(...await compareRows(rows, sides, undefined, pairs))
  // compareRows names each comparison after its first side's scenario: the pair's name instead.
  const named = results.map((r, i) => ({ ...r, scenario: (pairs[i % pairs.length] ?? []).join(' vs ') }))
  const goalOf = (name: string): number | undefined => GOALS[name.replace(' vs ', ':')]

  const where = isPostgres ? `PostgreSQL: a fresh database of each side on ${new URL(POSTGRES_URL).host}, dropped at the end` : 'SQLite: a fresh file of each side in a temporary directory (the service\'s defaults)'
  const command = `${isPostgres ? 'DATABASE_URL=postgres://... ' : ''}npm run bench -- --versus ${String(args.versus)} --rows ${args.rows} ` +
    `--duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}${serviceEnvOption()}`
  const verdict = named.map((r) => {
    const goal = goalOf(r.scenario)
    return `- ${r.scenario}, rows ${r.rows}: ${fixed(r.ratio, 2)} (${range(r.ratios)})` +
      (goal === undefined ? '.' : `: goal ${goal} met in this run: ${r.ratio >= goal ? (r.ratioMin >= goal ? 'yes' : 'yes, not in every round') : 'no'}.`)
  }).join('\n')
  const markdown = `Checkout: ${describe(here)}. Store: ${storeKind}. ${where}. Two services of this checkout, both preloaded alike; ` +
    `${ANALYZED}. In each pair the first service runs the first scenario and the second the second, one run of each per round. ` +
    `Machine: ${machine}. autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} rounds, which goes first alternating, medians. ` +
    `Command: \`${command}\`. ${new Date().toISOString()}\n\n` +
    `${sideBySideTable(named, ['first', 'second'], goalOf, 'reaches its goal')}\n\nThe second scenario's rate over the first's, the median of the rounds' ratios:\n\n${verdict}\n`
  writeResults('versus', markdown, { machine, store: storeKind, command, checkout: here, pairs, goals: GOALS, results: named })
}
