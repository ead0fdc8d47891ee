// The service without HTTP: the domain and the store called in-process, as the routes call them, on the same kind of
// database and data as the HTTP scenarios. Prints, per store, summary and page, the CPU time of this process (every
// thread: SQLite, the fsync threads, the checkpointer) and of its event loop alone, as JSON. bench/run.ts puts it
// beside the HTTP figures: a request can cost no less than the bare route plus this.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config.js'
import { createMessageService } from '../src/domain/messages.js'
import { createStore } from '../src/store/index.js'
import { cpuPer, cpuTimes, type CpuTimes } from './cpu.js'

const SECONDS = Number(process.env.FLOOR_SECONDS ?? 3)
const CONCURRENCY = 50 // as autocannon's connections: concurrent stores share a transaction (group commit)
const RECEIVERS = 200
const PER_RECEIVER = 200
const SENDERS = 20

const dir = mkdtempSync(join(tmpdir(), 'om-floor-'))
const config = loadConfig({ DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${join(dir, 'floor.db')}` })
const store = await createStore({
  databaseUrl: config.databaseUrl,
  poolMax: config.dbPoolMax,
  statementTimeoutMs: config.dbStatementTimeoutMs,
  connectTimeoutMs: config.dbConnectTimeoutMs
})
const ignore = () => {}
const service = createMessageService(store, config, { stored: ignore, duplicates: ignore, acked: ignore, expired: ignore, dropped: ignore })
const run = `${process.pid}-${Date.now().toString(36)}`

/** CPU microseconds of this process per operation, running `step` (which answers how many it did) for SECONDS. */
async function cpuPerOperation (step: (i: number) => Promise<number>): Promise<CpuTimes> {
  const until = Date.now() + SECONDS * 1000
  const start = cpuTimes(process.pid)
  let operations = 0
  for (let i = 0; Date.now() < until; i++) operations += await step(i)
  return cpuPer(process.pid, start, operations)
}

let n = 0
const storeUs = await cpuPerOperation(async () => {
  await Promise.all(Array.from({ length: CONCURRENCY }, () => {
    n++
    return service.storeOne({
      receiver_uid: `floor-${run}-${n % 1000}`, sender_uid: `s-${n % 7}`, msg_id: `f-${n}`, msg_type: 1, content: `store bench ${n} `.padEnd(100, 'x')
    })
  }))
  return CONCURRENCY
})

for (let from = 0; from < RECEIVERS * PER_RECEIVER; from += 500) {
  await service.storeMany(Array.from({ length: 500 }, (_, k) => {
    const index = Math.floor((from + k) / RECEIVERS)
    return {
      receiver_uid: `load-${run}-${(from + k) % RECEIVERS}`,
      sender_uid: `s-${index % SENDERS}`,
      msg_id: `p-${index}`,
      msg_type: 1,
      content: `preloaded message ${index} `.padEnd(100, 'x')
    }
  }))
}
const receiver = (i: number) => `load-${run}-${(i * 7919) % RECEIVERS}`
const summaryUs = await cpuPerOperation(async (i) => { await service.summary(receiver(i), 50, undefined); return 1 })
const pageUs = await cpuPerOperation(async (i) => { await service.page(receiver(i), undefined, 100, undefined); return 1 })

await store.close()
rmSync(dir, { recursive: true, force: true })
process.stdout.write(JSON.stringify({ store: storeUs, summary: summaryUs, page: pageUs }) + '\n')
