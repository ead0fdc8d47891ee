// `--citus-url <coordinator>`: this checkout's service on a fresh plain PostgreSQL database against itself on a fresh
// database of a Citus cluster, side by side, against issue 16's goal, with a CPU profile of each scenario's Citus side.
import { relative } from 'node:path'
import { args, CITUS_SHARDS, CONNECTIONS, DURATION, machine, POSTGRES_URL, ROUNDS, ROW_COUNTS, SCENARIO_LIST, writeResults } from './options.js'
import { compareRows, fixed, type Comparison, type Running } from './compare.js'
import type { Scenario } from './scenarios.js'
import { ANALYZED, checkout, citusDatabase, citusTables, describe, postgresDatabase, type Side } from './sides.js'
import { goalOf, machineTable, profilesMarkdown, profileSide, range, sideBySideTable, type Profiled } from './stores.js'
import { undoOnSignals } from './undo.js'

// Issue 16: single stores to random receivers, batches and acks on Citus at least 0.8 of plain PostgreSQL in one run.
const GOAL = 0.8
const GOAL_SCENARIOS = ['store', 'batch', 'ack']

const hostOf = (url: string): string => {
  const server = new URL(url)
  server.password = ''
  return server.host
}

function verdict (results: Comparison[]): string {
  return ROW_COUNTS.map((rows) => {
    const missing = GOAL_SCENARIOS.filter((name) => !results.some((r) => r.rows === rows && r.scenario === name))
    const ratios = GOAL_SCENARIOS.flatMap((name) => results.filter((r) => r.rows === rows && r.scenario === name))
      .map((r) => `${r.scenario} ${fixed(r.ratio, 2)} (${range(r.ratios)})`)
    const short = results.filter((r) => r.rows === rows && GOAL_SCENARIOS.includes(r.scenario) && !(r.ratio >= GOAL)).map((r) => r.scenario)
    // autocannon counts an error answer as a request: a rate made of failures meets nothing.
    const failed = results.filter((r) => r.rows === rows && GOAL_SCENARIOS.includes(r.scenario) && r.sides.some((side) => side.run.failures > 0))
      .map((r) => `${r.scenario} ${r.sides[0].run.failures} / ${r.sides[1].run.failures}`)
    return `- rows ${rows}: Citus over plain PostgreSQL, median of rounds (range): ${ratios.join(', ')}. Below ${GOAL}: ` +
      `${short.length === 0 ? 'none' : short.join(', ')}${missing.length === 0 ? '' : ` (not run: ${missing.join(', ')})`}. ` +
      `Failed requests, plain / Citus (counted in the rates above): ${failed.length === 0 ? 'none' : failed.join(', ')}. ` +
      `Goal met in this run: ${missing.length === 0 && short.length === 0 && failed.length === 0 ? 'yes' : 'no'}.`
  }).join('\n')
}

/** How the service left its tables on the Citus side, read while it runs. */
function tablesMarkdown (tables: Array<Record<string, unknown>>): string {
  if (tables.length === 0) return 'The service left every table local to the coordinator: none is in `citus_tables`.'
  return ['| table | Citus type | distribution column | shards |', '| --- | --- | --- | ---: |',
    ...tables.map((t) => `| ${String(t.table_name)} | ${String(t.citus_table_type)} | ${String(t.distribution_column)} | ${String(t.shard_count)} |`)
  ].join('\n')
}

export async function compareCitus (): Promise<void> {
  const citusUrl = String(args['citus-url'])
  undoOnSignals()
  const here = checkout(process.cwd())
  const sides: [Side, Side] = [
    { label: 'plain', checkout: here, store: 'postgres', database: postgresDatabase('plain', POSTGRES_URL) },
    { label: 'citus', checkout: here, store: 'postgres', database: citusDatabase('citus', citusUrl, CITUS_SHARDS) }
  ]
  const profiled: Profiled[] = []
  let tables: Array<Record<string, unknown>> | undefined
  const afterScenario = async (_scenario: Scenario, running: Running[], rows: number, _receivers: number, perSide: Scenario[]) => {
    const citus = running[1] as Running
    tables ??= await citusTables(citus.databaseUrl)
    if (args.profile === true) profiled.push(await profileSide(perSide[1] as Scenario, citus, rows, '-citus'))
  }
  const results: Comparison[] = []
  for (const rows of ROW_COUNTS) results.push(...await compareRows(rows, sides, afterScenario))

  const command = `npm run bench -- --citus-url ${citusUrl} --scenarios ${SCENARIO_LIST} --rows ${args.rows} ` +
    `--duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}${CITUS_SHARDS === undefined ? '' : ` --citus-shards ${CITUS_SHARDS}`}${args.profile === true ? '' : ' --no-profile'}`
  const markdown = `Checkout: ${describe(here)}. Plain PostgreSQL: a fresh database on ${hostOf(POSTGRES_URL)}. Citus: a fresh ` +
    `database on the coordinator ${hostOf(citusUrl)} and on each of its workers, with the extension, the workers added to the ` +
    `coordinator's copy. Both dropped at the end, both preloaded alike; ${ANALYZED}. Machine: ${machine} (the plain server, the three Citus ` +
    `nodes and the load generator share it). autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} rounds of plain and ` +
    `Citus, which goes first alternating, medians. Command: \`${command}\`. ${new Date().toISOString()}\n\n` +
    `${sideBySideTable(results, ['plain PostgreSQL', 'Citus'], goalOf(GOAL, GOAL_SCENARIOS), `reaches ${GOAL}`)}\n\n` +
    `Issue 16's goal: single stores to random receivers (the store scenario: each message to one of 1,000 receivers in turn), ` +
    `batches and acks on Citus at least ${GOAL} of plain PostgreSQL in one run.\n\n${verdict(results)}\n\n` +
    'The ratio is the median of the rounds\' ratios, each between two runs back to back. Statements (BEGIN and COMMIT ' +
    'included) and round trips are the service\'s counters over each run divided by its requests, the sweep\'s included: ' +
    'what the service sends to the coordinator, not what the coordinator sends on to the workers.\n\n' +
    `Where the machine's CPU went (medians of the rounds; /proc/stat over each run, divided by its requests):\n\n${machineTable(results, ['plain PostgreSQL', 'Citus'])}\n\n` +
    `The service's tables on the Citus side, as \`citus_tables\` showed them after the first scenario:\n\n${tablesMarkdown(tables ?? [])}\n` +
    (profiled.length === 0 ? '' : `\n${profilesMarkdown(profiled, 'the Citus side\'s service')}\n`)
  writeResults('citus', markdown, {
    machine, command, postgresServer: hostOf(POSTGRES_URL), citusCoordinator: hostOf(citusUrl), checkout: here, goal: GOAL, results, citusTables: tables ?? [],
    profiles: profiled.map(({ analysis, ...p }) => ({ ...p, ...analysis, file: relative('.', analysis.file) }))
  }, true)
}
