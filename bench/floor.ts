// The service without HTTP: the domain and the store called in-process, as the routes call them, on the same kind of
// database as the HTTP scenarios and data of the same shape (the store scenario's messages; 200 receivers preloaded
// as bench/run.ts preloads them, whatever its --rows). Prints, per store, summary and page, the CPU time of this process (every
// thread: SQLite, the fsync threads, the checkpointer) and of its event loop alone, as JSON. bench/run.ts puts it
// beside the HTTP figures: a request can cost no less than the bare route plus this.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config.js'
import { createMessageService } from '../src/domain/service.js'
import { toNewMessage } from '../src/http/commands.js'
import { createStore } from '../src/store/backends.js'
import { cpuPer, cpuTimes, type CpuTimes } from './cpu.js'
import { MESSAGES_PER_RECEIVER, preloadedMessage, storedMessage } from './data.js'

const SECONDS = 3
const WARM_UP_SECONDS = 0.5
const CONCURRENCY = 50 // as autocannon's connections: concurrent stores share a transaction (group commit)
const RECEIVERS = 200

const dir = mkdtempSync(join(tmpdir(), 'om-floor-'))
const config = loadConfig({ DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${join(dir, 'floor.db')}` })
const store = await createStore(config.database)
const ignore = () => {}
const service = createMessageService(store, config.rules, { stored: ignore, duplicates: ignore, acked: ignore, expired: ignore, dropped: ignore, superseded: ignore, recalled: ignore, erased: ignore, wakeups: ignore })
const run = `${process.pid}-${Date.now().toString(36)}`

/** Runs `step` (which answers how many operations it did) for `seconds`; answers how many it did. */
async function repeat (seconds: number, step: (i: number) => Promise<number>): Promise<number> {
  const until = Date.now() + seconds * 1000
  let operations = 0
  for (let i = 0; Date.now() < until; i++) operations += await step(i)
  return operations
}

/** CPU microseconds of this process per operation of `step`, after a warm-up (compilation is not counted). */
async function cpuPerOperation (step: (i: number) => Promise<number>): Promise<CpuTimes> {
  await repeat(WARM_UP_SECONDS, step)
  const start = cpuTimes(process.pid)
  return cpuPer(process.pid, start, await repeat(SECONDS, step))
}

let n = 0
const storeUs = await cpuPerOperation(async () => {
  await Promise.all(Array.from({ length: CONCURRENCY }, () => {
    n++
    return service.storeOne(toNewMessage(storedMessage(`floor-${run}`, n)))
  }))
  return CONCURRENCY
})

for (let from = 0; from < RECEIVERS * MESSAGES_PER_RECEIVER; from += 500) {
  await service.storeMany(Array.from({ length: 500 }, (_, k) => toNewMessage(preloadedMessage(`load-${run}`, RECEIVERS, from + k))))
}
const receiver = (i: number) => `load-${run}-${(i * 7919) % RECEIVERS}`
const summaryUs = await cpuPerOperation(async (i) => { await service.summary({ receiverUid: receiver(i), limit: 50 }); return 1 })
const pageUs = await cpuPerOperation(async (i) => { await service.page({ receiverUid: receiver(i), limit: 100 }); return 1 })

await store.close()
rmSync(dir, { recursive: true, force: true })
process.stdout.write(JSON.stringify({ store: storeUs, summary: summaryUs, page: pageUs }) + '\n')
