// Checkpoints the WAL from a worker thread with its own connection, so that the copy into the database file and
// its fsync mostly run off the event loop.
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

const require = createRequire(import.meta.url)

// Plain CommonJS, evaluated in the worker: a PASSIVE checkpoint never blocks the serving connection's writes.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.filename)
db.pragma('busy_timeout = 1000')
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch (error) { parentPort.postMessage(String(error)) }
}
const timer = setInterval(checkpoint, workerData.intervalMs)
parentPort.on('message', () => {
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort.close()
})
`

export interface WalCheckpointer {
  close (): Promise<void>
}

export function startWalCheckpointer (filename: string, intervalMs: number, onError: (message: string) => void): WalCheckpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver: require.resolve('better-sqlite3'), filename, intervalMs }
  })
  worker.on('message', (message: unknown) => { onError(String(message)) })
  worker.on('error', (error) => { onError(error.message) })
  worker.unref()
  return {
    async close () {
      const exited = new Promise((resolve) => worker.once('exit', resolve))
      worker.postMessage('close')
      await exited
    }
  }
}
