// `--scale`: the cost as the data grows (issue 30). One service per row count, each on a database of its own filled
// alike (`--fill copy` or through the batch endpoint), all running at once; each round runs a scenario against every
// row count in turn, the order alternating, so that the machine's drift falls on both. Writes scale.md / scale.json.
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFilled } from './fill.js'
import { CONNECTIONS, DURATION, FILL_BY_COPY, isPostgres, machine, POSTGRES_URL, ROUNDS, ROW_COUNTS, rowsOptions, storeKind, writeResults } from './options.js'
import { load, median, scenarios, type Run } from './scenarios.js'
import { stop, type Proc } from './services.js'
import { postgresDatabase } from './sides.js'
import { onUndo, undoAll, undoOnSignals } from './undo.js'

/** Reads a file from start to end, 1 MiB at a time (readFileSync stops at 2 GiB). */
function readThrough (file: string): void {
  const fd = openSync(file, 'r')
  const buffer = Buffer.alloc(2 ** 20)
  try { while (readSync(fd, buffer) > 0); } finally { closeSync(fd) }
}

interface Side { rows: number, receivers: number, proc: Proc, fillSeconds: number }

/** A database of `rows` messages (receivers `load-*`, 200 each) and the service on it, started afresh on the filled data. */
async function side (dir: string, rows: number): Promise<Side> {
  const databaseUrl = isPostgres ? await postgresDatabase(`scale${rows}`, POSTGRES_URL)() : `sqlite:${join(dir, `rows${rows}.db`)}`
  const started = Date.now()
  const { proc, receivers } = await startFilled(databaseUrl, rows)
  onUndo(async () => { await stop(proc) })
  const fillSeconds = (Date.now() - started) / 1000
  // The file read once, as a server that has run for a while holds it in the page cache (when the memory allows).
  if (!isPostgres) readThrough(databaseUrl.slice('sqlite:'.length))
  process.stderr.write(`rows=${rows}: ${receivers} receivers filled (${FILL_BY_COPY ? 'copy' : 'batch endpoint'}) in ${fillSeconds.toFixed(1)} s\n`)
  return { rows, receivers, proc, fillSeconds }
}

export async function scale (): Promise<void> {
  undoOnSignals()
  const dir = mkdtempSync(join(tmpdir(), 'om-bench-scale-'))
  onUndo(async () => { rmSync(dir, { recursive: true, force: true }) })
  const results: Array<{ scenario: string, rows: number, runs: Run[], againstSmallest: number[] }> = []
  try {
    const sides: Side[] = []
    for (const rows of ROW_COUNTS) sides.push(await side(dir, rows))
    const names = scenarios(1).map((scenario) => scenario.name)
    for (const name of names) {
      const runs = new Map<number, Run[]>(sides.map((s) => [s.rows, []]))
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
          const scenario = scenarios(s.receivers).find((candidate) => candidate.name === name)
          if (scenario === undefined) throw new Error(`no scenario ${name}`)
          if (scenario.before !== undefined) await scenario.before(s.proc.url, round)
          runs.get(s.rows)?.push(await load(s.proc, scenario, round))
        }
        process.stderr.write(`  ${name} round ${round + 1}: ${sides.map((s) => `${s.rows} rows ${Math.round(runs.get(s.rows)?.[round]?.requestsPerSecond ?? 0)} req/s`).join(', ')}\n`)
      }
      const smallest = runs.get(ROW_COUNTS[0] as number) ?? []
      for (const s of sides) {
        const own = runs.get(s.rows) ?? []
        results.push({ scenario: name, rows: s.rows, runs: own, againstSmallest: own.map((run, i) => run.requestsPerSecond / (smallest[i]?.requestsPerSecond ?? NaN)) })
      }
    }
    const command = `npm run bench -- --scale ${rowsOptions()} --duration ${DURATION} --rounds ${ROUNDS} --connections ${CONNECTIONS}`
    const lines = [
      `Store: ${storeKind}. Machine: ${machine}. One service per row count, all running, each on its own database filled ` +
      `${FILL_BY_COPY ? 'by copying one receiver preloaded through the batch endpoint (bench/fill.ts)' : 'through the batch endpoint'}` +
      `${isPostgres ? ' (VACUUM ANALYZE after the copy)' : ', the SQLite file read once afterwards (page cache)'}; ` +
      `autocannon -c ${CONNECTIONS}, ${DURATION} s per run, ${ROUNDS} rounds, the row counts' order alternating. Command: \`${command}\`. ${new Date().toISOString()}`,
      '',
      `Fill: ${sides.map((s) => `${s.rows} rows in ${s.fillSeconds.toFixed(0)} s`).join(', ')}.`,
      '',
      '| scenario | rows | req/s (median) | msg/s | p50 / p99 ms | against the smallest, median of rounds (range) | failed |',
      '| --- | ---: | ---: | ---: | --- | --- | ---: |'
    ]
    for (const r of results) {
      const rate = median(r.runs.map((run) => run.requestsPerSecond))
      const msgs = median(r.runs.map((run) => run.messagesPerSecond))
      lines.push(`| ${r.scenario} | ${r.rows} | ${Math.round(rate)} | ${Math.round(msgs)} | ${median(r.runs.map((run) => run.p50))} / ${median(r.runs.map((run) => run.p99))} | ` +
        `${median(r.againstSmallest).toFixed(2)} (${Math.min(...r.againstSmallest).toFixed(2)}-${Math.max(...r.againstSmallest).toFixed(2)}) | ` +
        `${r.runs.reduce((sum, run) => sum + run.failures, 0)} |`)
    }
    writeResults('scale', lines.join('\n') + '\n', { machine, store: storeKind, command, fill: sides.map(({ rows, fillSeconds }) => ({ rows, fillSeconds })), results })
  } finally {
    await undoAll()
  }
}
