// `--events`: this checkout's service twice on one store, side by side: EVENTS=off against EVENTS=on, for the events
// issue's goal (store, batch and ack with events at least 0.8 of without); then the feed read on the EVENTS=on side: a
// consumer that follows next_cursor from the oldest event kept, in pages of 1,000, as a webhook deliverer or an
// analytics job catching up would.
import { args, CONNECTIONS, DURATION, isPostgres, machine, POSTGRES_URL, ROUNDS, ROW_COUNTS, SCENARIO_LIST, serviceEnvOption, storeKind, writeResults } from './options.js'
import { compareRows, fixed, sideOnRunStore, type Comparison, type Running } from './compare.js'
import { median, type Scenario } from './scenarios.js'
import { ANALYZED, checkout, describe, type Side } from './sides.js'
import { profileEachSide, range, type Profiled } from './stores.js'
import { profilesMarkdown } from './devices.js'
import { undoOnSignals } from './undo.js'

// The events issue: store, batch and ack with EVENTS=on at least 0.8 of EVENTS=off; the feed read at least 20,000
// events/s on SQLite.
const GOAL = 0.8
const GOAL_SCENARIOS = ['store', 'batch', 'ack']
const FEED_GOAL = 20_000
const FEED_PAGE = 1000
// Feed reads from the oldest event kept to the newest, one after the other; the median is reported.
const FEED_READS = 3

interface FeedRead { events: number, pages: number, seconds: number, eventsPerSecond: number }

/** Follows the feed from its start to its end (has_more false), in pages of FEED_PAGE: the events, pages and time it took. */
async function readFeed (url: string): Promise<FeedRead> {
  const started = process.hrtime.bigint()
  let cursor: string | undefined
  let events = 0
  let pages = 0
  for (;;) {
    const response = await fetch(`${url}/v1/events?limit=${FEED_PAGE}${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    if (!response.ok) throw new Error(`GET /v1/events answered ${response.status}: ${await response.text()}`)
    const page = await response.json() as { events: unknown[], next_cursor: string, has_more: boolean }
    events += page.events.length
    pages++
    cursor = page.next_cursor
    if (!page.has_more) break
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { events, pages, seconds, eventsPerSecond: events / seconds }
}

function table (results: Comparison[]): string {
  const lines = [
    '| scenario | rows | EVENTS=off req/s | EVENTS=on req/s | on / off (median of rounds) | min - max over the rounds | ' +
      `reaches ${GOAL} | statements per request, off / on | p50 / p99 ms, off; on | CPU us/req all threads, off / on | failed, off / on |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- | --- |'
  ]
  for (const r of results) {
    const [off, on] = r.sides
    const goal = !GOAL_SCENARIOS.includes(r.scenario) ? '-' : r.ratio >= GOAL ? (r.ratioMin >= GOAL ? 'yes' : 'yes (not every round)') : 'no'
    lines.push(`| ${r.scenario} | ${r.rows} | ${Math.round(off.run.requestsPerSecond)} | ${Math.round(on.run.requestsPerSecond)} | ` +
      `${fixed(r.ratio, 2)} | ${range(r.ratios)} | ${goal} | ${fixed(off.statementsPerRequest, 2)} / ${fixed(on.statementsPerRequest, 2)} | ` +
      `${off.run.p50} / ${off.run.p99}; ${on.run.p50} / ${on.run.p99} | ${Math.round(off.run.cpu.all)} / ${Math.round(on.run.cpu.all)} | ` +
      `${off.run.failures} / ${on.run.failures} |`)
  }
  return lines.join('\n')
}

export async function compareEvents (): Promise<void> {
  undoOnSignals()
  const here = checkout(process.cwd())
  const sides: [Side, Side] = [
    sideOnRunStore('eventsoff', here, { env: { EVENTS: 'off' } }),
    sideOnRunStore('eventson', here, { env: { EVENTS: 'on' } })
  ]
  const scenarioNames = SCENARIO_LIST.split(',')
  const feeds: Array<{ rows: number, reads: FeedRead[] }> = []
  // After the last scenario, while the services still run: the EVENTS=on side holds an event for every message the
  // preload and the scenarios stored and acked.
  const profiled: Array<Profiled & { label: string }> = []
  const afterScenario = async (scenario: Scenario, running: Running[], rows: number, _receivers: number, perSide: Scenario[]) => {
    if (args.profile === true) profiled.push(...await profileEachSide(perSide, running, rows, (i) => `EVENTS=${i === 0 ? 'off' : 'on'}`))
    if (scenario.name !== scenarioNames[scenarioNames.length - 1]) return
    const on = running[1] as Running
    const reads: FeedRead[] = []
    for (let i = 0; i < FEED_READS; i++) reads.push(await readFeed(on.proc.url))
    feeds.push({ rows, reads })
  }
  const results: Comparison[] = []
  for (const rows of ROW_COUNTS) results.push(...await compareRows(rows, sides, afterScenario))

  const command = `${isPostgres ? 'DATABASE_URL=postgres://... ' : ''}npm run bench -- --events --scenarios ${SCENARIO_LIST} ` +
    `--rows ${args.rows} --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}${args.profile === true ? '' : ' --no-profile'}${serviceEnvOption()}`
  const verdict = results.filter((r) => GOAL_SCENARIOS.includes(r.scenario)).map((r) =>
    `- ${r.scenario}, rows ${r.rows}: EVENTS=on over off ${fixed(r.ratio, 2)} (${range(r.ratios)}): goal ${GOAL} met in this run: ` +
    `${r.ratio >= GOAL ? (r.ratioMin >= GOAL ? 'yes' : 'yes, not in every round') : 'no'}.`).join('\n')
  const feedLines = feeds.map(({ rows, reads }) => {
    const rate = median(reads.map((read) => read.eventsPerSecond))
    return `- rows ${rows}: ${reads.map((read) => `${read.events} events in ${read.pages} pages, ${fixed(read.seconds, 2)} s`).join('; ')}: ` +
      `median ${Math.round(rate)} events/s${isPostgres ? '' : `, goal ${FEED_GOAL} on SQLite met: ${rate >= FEED_GOAL ? 'yes' : 'no'}`}.`
  }).join('\n')
  const where = isPostgres ? `PostgreSQL: a fresh database of each side on ${new URL(POSTGRES_URL).host}, dropped at the end` : 'SQLite: a fresh file of each side in a temporary directory (the service\'s defaults)'
  const markdown = `Checkout: ${describe(here)}. Store: ${storeKind}. ${where}. One side runs with EVENTS=off, the other with EVENTS=on; ` +
    `both preloaded alike; ${ANALYZED}. Machine: ${machine}. autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} rounds of both ` +
    `sides, which goes first alternating, medians. Command: \`${command}\`. ${new Date().toISOString()}\n\n${table(results)}\n\n` +
    `The events issue's goal: store, batch and ack with EVENTS=on at least ${GOAL} of EVENTS=off.\n\n${verdict}\n\n` +
    `The feed read on the EVENTS=on side after the last scenario, ${FEED_READS} times one after the other: one consumer following ` +
    `next_cursor from the oldest event kept to the newest, limit ${FEED_PAGE}, each page over HTTP and parsed.\n\n${feedLines}\n` +
    (profiled.length === 0 ? '' : `\n${profilesMarkdown(profiled)}\n`)
  writeResults('events', markdown, {
    machine, store: storeKind, command, checkout: here, goal: GOAL, results, feeds, profiles: profiled.map(({ analysis, ...p }) => ({ ...p, ...analysis }))
  })
}
