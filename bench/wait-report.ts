// The wait benchmark's results as Markdown (bench/results/wait.md) and JSON: one row per configuration, the goals
// met or not, what the run saw of open files and database connections, and the CPU profiles when asked for.
import { readFileSync } from 'node:fs'
import { args, CONNECTIONS, DURATION, machine, ROUNDS, writeResults } from './options.js'
import { profileMarkdown } from './profile.js'
import { GOALS, IDLE_HELD_MS, IN_FLIGHT, PLACEMENT, STREAM_MAX, type Result } from './wait.js'

export const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(', ')

const ms = (value: number) => Number.isFinite(value) ? value.toFixed(1) : '-'
const yes = (met: boolean) => met ? 'yes' : '**no**'

function table (results: Result[]): string {
  const lines = [
    '| store | instances | held | wake-ups | wake-ups/s | wake-up p50 / p99 / max ms | missed | stores/s without / with held | ratio | ' +
      'holder RSS MB: before, held idle, held max | holder loop delay p99 / max ms: held idle, stores without, stores held, wake-up stream | goals: p99, ratio, RSS |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | --- | ---: | --- | --- | --- |'
  ]
  for (const r of results) {
    const p = r.loopDelayP99Ms
    const m = r.loopDelayMaxMs
    lines.push(`| ${r.store} | ${PLACEMENT[r.placement]} | ${r.held} | ${r.wakeups} | ${Math.round(r.streamPerSecond)} | ${ms(r.p50)} / ${ms(r.p99)} / ${ms(r.max)} | ${r.missed} | ` +
      `${Math.round(r.withoutPerSecond)} / ${Math.round(r.withPerSecond)} | ${r.ratio.toFixed(2)} | ${Math.round(r.rssBeforeMb)}, ${Math.round(r.rssHeldIdleMb)}, ${Math.round(r.rssHeldMaxMb)} | ` +
      `${ms(p.idleHeld)} / ${ms(m.idleHeld)}, ${ms(p.storesWithout)} / ${ms(m.storesWithout)}, ${ms(p.storesHeld)} / ${ms(m.storesHeld)}, ${ms(p.stream)} / ${ms(m.stream)} | ` +
      `${yes(r.p99 < GOALS.p99Ms)}, ${yes(r.ratio >= GOALS.storeRatio)}, ${yes(r.rssHeldMaxMb < GOALS.rssMb)} |`)
  }
  return lines.join('\n')
}

function seen (results: Result[]): string {
  const lines = ['| store | instances | held | holder fds while held | this process\'s fds while held | answers not 200, errors | wake-ups counted by the service / stores | store failures | holder heap used held idle MB (median) | writer RSS held max MB | PostgreSQL connections (by application_name) | this process\'s loop delay in the wake-up stream, p99 / max ms |',
    '| --- | --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | --- | --- |']
  for (const r of results) {
    const statuses = r.rounds.map((round) => JSON.stringify(round.heldAnswersNot200)).join(' ')
    const connections = r.rounds.at(-1)?.postgresConnections
    lines.push(`| ${r.store} | ${PLACEMENT[r.placement]} | ${r.held} | ${Math.max(...r.rounds.map((x) => x.holderFiles))} | ` +
      `${Math.max(...r.rounds.map((x) => x.clientFiles))} | ${statuses}, ${r.rounds.reduce((s, x) => s + x.heldErrors, 0)} | ` +
      `${r.rounds.reduce((s, x) => s + x.wakeupsCounted, 0)} / ${r.wakeups + r.missed} | ${r.storeFailures} | ${Math.round(r.heapHeldIdleMb)} | ${Math.round(r.writerRssHeldMaxMb)} | ` +
      `${connections === undefined ? '-' : Object.entries(connections).map(([k, v]) => `${k} ${v}`).join(', ')} | ${ms(r.clientLoopDelayMs.p99)} / ${ms(r.clientLoopDelayMs.max)} |`)
  }
  return lines.join('\n')
}

function stages (results: Result[]): string {
  const lines = ['| instances | held | store\'s 201 to the announcement heard, p50 / p99 / max ms | announcement heard to the held answer, p50 / p99 / max ms |',
    '| --- | ---: | --- | --- |']
  for (const r of results) {
    if (r.stages === undefined) continue
    const { toAnnounced: a, announcedToAnswer: b } = r.stages
    lines.push(`| ${PLACEMENT[r.placement]} | ${r.held} | ${ms(a.p50)} / ${ms(a.p99)} / ${ms(a.max)} | ${ms(b.p50)} / ${ms(b.p99)} / ${ms(b.max)} |`)
  }
  return lines.length === 2 ? '' : '\nOn PostgreSQL, where a wake-up\'s time goes: a listener of this process\'s own on the service\'s channel ' +
    'timestamps each receiver\'s announcement (the NOTIFY the storing instance sends after its commit, on a pool connection); ' +
    'the holding instance\'s listener hears it about then, wakes the held request, reads its page again and answers. ' +
    'Held and stored on one instance, the held request is woken in process at the commit, before the announcement: ' +
    'the second column is then negative or near zero and says nothing.\n\n' + lines.join('\n') + '\n'
}

export function writeWaitResults (results: Result[], loadBefore: string, started: string): void {
  const command = `npm run bench -- --waiters ${String(args.waiters)} --wait-stores ${String(args['wait-stores'])} ` +
    `--rounds ${ROUNDS} --duration ${DURATION} --connections ${CONNECTIONS}${args['wait-profile'] === true ? ' --wait-profile' : ''}` +
    `${args['wait-max-old-space'] === undefined ? '' : ` --wait-max-old-space ${String(args['wait-max-old-space'])}`}${args['wait-expiry'] === true ? '' : ' --no-wait-expiry'}${IN_FLIGHT === 10 ? '' : ` --wait-in-flight ${IN_FLIGHT}`}`
  const loadAfter = loadAverage()
  const profiles = results.flatMap((r) => (r.profiles ?? []).map((p) =>
    `### ${r.store}, ${PLACEMENT[r.placement]}, ${r.held} held: ${p.which}\n\n${p.analysis.samples} samples ` +
    `${p.analysis.windowed ? 'within that phase' : 'over the whole process'} (\`${p.file}\`; the profiler slows the service, ` +
    'so the profiled run\'s figures are not the table\'s unless the whole run was profiled).\n\n' + profileMarkdown(p.analysis)))
  const markdown = `Machine: ${machine}; load average (1, 5, 15 min) ${loadBefore} at the start, ${loadAfter} at the end. ` +
    `Command: \`${command}\`. Started ${started}, ended ${new Date().toISOString()}.\n\n` +
    `Each configuration starts its instances afresh (PostgreSQL: one database for the run, analyzed before each round, ${'`'}DB_POOL_MAX${'`'} 10 per instance), and runs the store load once uncounted. ` +
    `${ROUNDS} rounds each, alternated (even rounds: stores without held requests first; odd rounds: with them first). ` +
    `A round holds \`GET /v1/receivers/wait-<configuration>-<round>-<i>/messages?wait_seconds=30\` once for each of the distinct receivers, ` +
    `one socket each (this process opens ${'`'}OPENING_AT_ONCE${'`'} = 200 at a time), until the holder's \`offline_messages_waiters\` ` +
    `gauge counts them all; each held request asks again from its page's cursor as soon as it is answered. Then: ${IDLE_HELD_MS / 1000} s held and idle ` +
    `(event-loop delay, RSS, open files); autocannon -c ${CONNECTIONS} for ${DURATION} s storing to the store scenario's 1,000 \`store-*\` receivers, ` +
    `none held (the stores per second with requests held); a stream of stores, ${IN_FLIGHT} in flight, one to each held receiver ` +
    `(at most ${STREAM_MAX} per round), each timed from its 201's arrival at this process to the held answer's arrival. ` +
    'The stores per second without held requests are the same autocannon run with nothing held. Figures are medians of rounds, ' +
    'the latencies pooled over rounds. RSS (VmRSS of /proc/<pid>/status): before holding (first round), after the held idle seconds, and the most sampled (every 100 ms) while held, the store load included; the RSS goal is judged on the last. Loop delay: prom-client\'s ' +
    '`nodejs_eventloop_lag_p99_seconds` / `_max_seconds` of the holding instance beyond its 10 ms sampling tick, read at the end of each phase ' +
    '(a read resets it). Goals: wake-up p99 under ' +
    `${GOALS.p99Ms} ms, stores with held at least ${GOALS.storeRatio} of without, RSS under ${GOALS.rssMb} MB.\n\n${table(results)}\n\n` +
    stages(results) +
    `\nWhat the run saw (the operator's side):\n\n${seen(results)}\n` +
    (profiles.length === 0 ? '' : `\n${profiles.join('\n\n')}\n`)
  writeResults('wait', markdown, { machine, command, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter, started, goals: GOALS, results }, true)
}
