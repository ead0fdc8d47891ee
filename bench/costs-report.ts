// The cost tables of `--costs` (bench/costs.ts) as Markdown: an overview, one table per scenario by stage, and what the rest holds.
import type { Cost, Server } from './costs.js'
import { STAGES } from './stages.js'

export interface CostContext {
  command: string
  started: string
  machine: string
  checkout: string
  loadBefore: number[]
  loadAfter: number[]
  warmUpSeconds: number
  rows: number
}

const SERVERS: Array<{ server: Server, label: string }> = [
  { server: 'sqlite', label: 'SQLite' }, { server: 'postgres', label: 'PostgreSQL' }, { server: 'bare', label: 'bare Fastify' }
]
const us = (value: number) => value < 9.95 ? value.toFixed(1) : String(Math.round(value))
const pct = (part: number, whole: number) => `${(100 * part / Math.max(1e-9, whole)).toFixed(0)}%`
const loads = (values: number[]) => values.map((value) => value.toFixed(2)).join(' / ')

function overview (results: Cost[]): string {
  const lines = [
    '| scenario | server | requests measured | event loop CPU µs/req (by window) | of which in the kernel | the same without the profiler | other threads CPU µs/req | PostgreSQL backends CPU µs/req | busy / idle samples | largest stage |',
    '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |'
  ]
  for (const r of results) {
    const largest = STAGES.map((stage) => ({ stage, value: r.stages[stage] })).sort((a, b) => b.value - a.value)[0]
    const label = SERVERS.find((s) => s.server === r.server)?.label ?? r.server
    lines.push(`| ${r.scenario} | ${label} | ${r.requests} | ${us(r.cpu.loop)} (${r.loopPerWindow.map(us).join(', ')}) | ${us(r.loopSystem)} | ${us(r.unprofiled.loop)} | ` +
      `${us(r.cpu.all - r.cpu.loop)} | ${r.server === 'postgres' ? us(r.database) : '-'} | ${r.breakdown.busy} / ${r.breakdown.idle} | ${largest === undefined ? '-' : `${largest.stage}, ${us(largest.value)} µs`} |`)
  }
  return lines.join('\n')
}

/** Per scenario and store, the event loop's CPU over the bare route's and the stages that add most of the difference. */
function overBare (results: Cost[]): string {
  const lines = [
    '| scenario | store | event loop µs/req, service / bare | service minus bare | the stages that add the most over bare, µs/req |',
    '| --- | --- | --- | ---: | --- |'
  ]
  for (const r of results.filter((result) => result.server !== 'bare')) {
    const bare = results.find((other) => other.server === 'bare' && other.scenario === r.scenario)
    if (bare === undefined) continue
    const added = STAGES.map((stage) => ({ stage, value: r.stages[stage] - bare.stages[stage] })).sort((a, b) => b.value - a.value).slice(0, 4)
    const label = SERVERS.find((s) => s.server === r.server)?.label ?? r.server
    lines.push(`| ${r.scenario} | ${label} | ${us(r.cpu.loop)} / ${us(bare.cpu.loop)} | ${us(r.cpu.loop - bare.cpu.loop)} | ` +
      `${added.map(({ stage, value }) => `${stage} +${us(value)}`).join(', ')} |`)
  }
  return lines.join('\n')
}

/** One scenario: µs/req and share of each stage, a column pair per server that ran it. */
function scenarioTable (scenario: string, results: Cost[]): string {
  const runs = SERVERS.map(({ server, label }) => ({ label, run: results.find((r) => r.scenario === scenario && r.server === server) }))
    .filter((side): side is { label: string, run: Cost } => side.run !== undefined)
  const lines = [
    `| stage | ${runs.map(({ label }) => `${label} µs/req | %`).join(' | ')} |`,
    `| --- | ${runs.map(() => '---: | ---:').join(' | ')} |`
  ]
  for (const stage of STAGES) {
    lines.push(`| ${stage} | ${runs.map(({ run }) => `${us(run.stages[stage])} | ${pct(run.stages[stage], run.cpu.loop)}`).join(' | ')} |`)
  }
  lines.push(`| **event loop, total** | ${runs.map(({ run }) => `**${us(run.cpu.loop)}** | 100%`).join(' | ')} |`)
  lines.push(`| other threads (not profiled) | ${runs.map(({ run }) => `${us(run.cpu.all - run.cpu.loop)} | -`).join(' | ')} |`)
  if (runs.some(({ run }) => run.server === 'postgres')) {
    lines.push(`| PostgreSQL's backends (another process) | ${runs.map(({ run }) => `${run.server === 'postgres' ? us(run.database) : '-'} | -`).join(' | ')} |`)
  }
  return lines.join('\n')
}

/** What fell into the rest, per run: its details in µs/req, and the leaf functions no rule names. */
function restList (results: Cost[]): string {
  return results.map((r) => {
    const scale = r.cpu.loop / Math.max(1, r.breakdown.busy)
    const details = r.breakdown.details.filter((d) => d.stage === 'the rest').slice(0, 5)
      .map((d) => `${d.detail} ${us(d.samples * scale)}`).join('; ')
    const label = SERVERS.find((s) => s.server === r.server)?.label ?? r.server
    return `- ${r.scenario}, ${label}: the rest ${us(r.stages['the rest'])} µs of ${us(r.cpu.loop)} (${pct(r.stages['the rest'], r.cpu.loop)}): ${details}`
  }).join('\n')
}

export function costsMarkdown (results: Cost[], context: CostContext): string {
  const scenarios = [...new Set(results.map((r) => r.scenario))]
  return `Command: \`${context.command}\`. Started ${context.started}. Checkout: ${context.checkout}. Machine: ${context.machine}; ` +
    `load average (1, 5, 15 min) ${loads(context.loadBefore)} before, ${loads(context.loadAfter)} after. ` +
    `Each scenario in a server process of its own under \`node --cpu-prof\`: ${context.warmUpSeconds} s of warm-up, then ` +
    `the measured windows (autocannon, ${results[0]?.loopPerWindow.length ?? 0} of the --duration each), then the same in a ` +
    'process without the profiler, for what profiling costs; the service with ' +
    `an API key and a rate limit, LOG_LEVEL=info (the access line to /dev/null), ${context.rows} messages preloaded for the ` +
    'pages, 100 receivers of 200 messages from 5 senders and 100 from 50 senders for the summaries. A stage\'s µs/req is ' +
    'its share of the event loop\'s busy samples times the event loop\'s CPU per request (from /proc); other threads ' +
    '(libuv\'s pool, the SQLite checkpointer, V8\'s GC and compiler threads) are not profiled. On PostgreSQL the queries ' +
    'run in the server\'s backends, whose CPU (from /proc, the backends connected to the bench\'s database) is given apart.\n\n' +
    `${overview(results)}\n\n${overBare(results)}\n\n` +
    scenarios.map((scenario) => `### ${scenario}\n\n${scenarioTable(scenario, results)}`).join('\n\n') +
    `\n\n### What the rest holds\n\n${restList(results)}\n`
}
