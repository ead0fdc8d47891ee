// What one request makes the process do besides SQL, endpoint by endpoint, counted and not timed: code compiled,
// JSON parsed, log lines written, metrics updated, keys hashed. The stages of bench/README.md's cost table that a
// change can grow silently; a count that moves fails here until the table below says so.
import { AsyncLocalStorage } from 'node:async_hooks'
import crypto from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import { Writable } from 'node:stream'
import { Counter, Gauge, Histogram, Summary } from 'prom-client'
import t from 'tap'
import type { InjectOptions } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { API_KEYS, AUTH, createTestClock, newMessage } from '../helpers/app.js'
import { TEST_STORE, createTestDatabase } from '../helpers/database.js'

interface Work {
  /** Functions made from source text (`new Function`): ajv's validators, fast-json-stringify's serializers, the row mapper's mappers. */
  compiled: number
  /** JSON.parse calls: the body's, through secure-json-parse, and any other. */
  jsonParses: number
  /** Lines the logger wrote, at the default level (info). */
  logLines: number
  /** prom-client updates: a counter's inc, a gauge's inc, dec and set, a histogram's or summary's observe. */
  metricUpdates: number
  /** node:crypto createHash calls: auth's SHA-256 of the presented key. */
  hashes: number
}

const write = (): Work => ({ compiled: 0, jsonParses: 1, logLines: 1, metricUpdates: 2, hashes: 1 })
const read = (): Work => ({ compiled: 0, jsonParses: 0, logLines: 1, metricUpdates: 1, hashes: 1 })

/**
 * Per endpoint, one request's work once the app is warm, the same on every store. A write parses its body once and
 * updates two metrics (the request's duration, and what it did: stored, acked, recalled); a read parses nothing and
 * updates one. Every request writes its one access line and hashes the presented key once.
 */
const EXPECTED: Record<string, Work> = {
  'store one message': write(),
  'batch of 10 for 3 receivers': write(),
  summary: read(),
  page: read(),
  'one message': read(),
  'ack by ids (2)': write(),
  'ack up to a seq': write(),
  recall: write()
}

// Only what runs in a request's own async context counts: not the work of a PostgreSQL notification that lands
// during it, nor the test's.
const requestWork = new AsyncLocalStorage<Work>()
const none = (): Work => ({ compiled: 0, jsonParses: 0, logLines: 0, metricUpdates: 0, hashes: 0 })
const count = (counter: keyof Work): void => {
  const work = requestWork.getStore()
  if (work !== undefined) work[counter]++
}

/** Wraps `object[name]` to count its calls; returns the undo. */
function countCalls (object: object, name: string, counter: keyof Work): () => void {
  const target = object as Record<string, unknown>
  const original = target[name] as (...args: unknown[]) => unknown
  target[name] = function (this: unknown, ...args: unknown[]) {
    count(counter)
    return original.apply(this, args)
  }
  return () => { target[name] = original }
}

function countWork (): () => void {
  const undo: Array<() => void> = []
  const OriginalFunction = globalThis.Function
  globalThis.Function = new Proxy(OriginalFunction, {
    construct (target, args, newTarget) { count('compiled'); return Reflect.construct(target, args, newTarget) as object },
    apply (target, self, args) { count('compiled'); return Reflect.apply(target, self, args) as unknown }
  })
  undo.push(() => { globalThis.Function = OriginalFunction })
  undo.push(countCalls(JSON, 'parse', 'jsonParses'))
  // prom-client's constructors copy these onto each metric (as inc and observe): counted for the metrics made after this.
  for (const [metric, methods] of [[Counter, ['incWithoutExemplar']], [Gauge, ['inc', 'dec', 'set']], [Histogram, ['observeWithoutExemplar']], [Summary, ['observe']]] as const) {
    for (const method of methods) undo.push(countCalls(metric.prototype, method, 'metricUpdates'))
  }
  // auth.ts imports createHash by name: the ES module's binding follows the CommonJS object once synced.
  undo.push(countCalls(crypto, 'createHash', 'hashes'))
  syncBuiltinESMExports()
  undo.push(syncBuiltinESMExports)
  return () => { for (const step of undo.reverse()) step() }
}

interface Tap { teardown (fn: () => unknown): void }

async function buildCountedApp (t: Tap) {
  const sink = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') count('logLines')
      done()
    }
  })
  // The service's defaults (LOG_LEVEL info) with one key and a rate limit, as the cost table measures it.
  const config = loadConfig({ API_KEYS, RATE_LIMIT_PER_MINUTE: '100000000', DATABASE_URL: await createTestDatabase(t, { migrated: true }) })
  // Counted too: what the app compiles before it answers anything, to show that the counter sees compilations.
  const startup = none()
  const app = await requestWork.run(startup, async () => {
    const built = await buildApp(config, { clock: createTestClock(), sweep: false, logger: { level: config.logLevel, stream: sink } })
    await built.ready()
    return built
  })
  t.teardown(() => app.close())
  const call = (options: InjectOptions) => app.inject({ ...options, headers: { ...AUTH.admin, ...(options.headers ?? {}) } })
  return { call, startup, laneOf: app.store.writeLanes.laneOf }
}

type Call = Awaited<ReturnType<typeof buildCountedApp>>['call']

async function work (call: Call, options: InjectOptions, status: number): Promise<Work> {
  const counted = none()
  // inject() answers a thenable that starts the request when awaited: awaited inside, it runs in the request's context.
  const answer = await requestWork.run(counted, async () => await call(options))
  if (answer.statusCode !== status) throw new Error(`${options.method ?? ''} ${String(options.url)} answered ${answer.statusCode}: ${answer.body}`)
  return counted
}

/** Requests of each endpoint before counting (anything made on first use: caches, code compiled lazily), then counted. */
const WARM_UP = 2
const COUNTED = 3

interface Endpoint {
  /** Uncounted: what the request needs (messages to read, ack or recall); returns the request and its status. */
  prepare (call: Call): Promise<[InjectOptions, number]>
}

const stored = async (call: Call, body: Record<string, unknown>): Promise<{ msg_id: string, seq: number }> =>
  (await call({ method: 'POST', url: '/v1/messages', payload: newMessage(body) })).json()

const ENDPOINTS: Record<string, Endpoint> = {
  'store one message': {
    prepare: async () => [{ method: 'POST', url: '/v1/messages', payload: newMessage({ receiver_uid: 'bob' }) }, 201]
  },
  'batch of 10 for 3 receivers': {
    prepare: async () => {
      const messages = Array.from({ length: 10 }, (_, i) => newMessage({ receiver_uid: `r-${i % 3}`, sender_uid: i % 2 === 0 ? 'alice' : 'carol' }))
      return [{ method: 'POST', url: '/v1/messages/batch', payload: { messages } }, 200]
    }
  },
  summary: {
    prepare: async () => [{ method: 'GET', url: '/v1/receivers/bob/senders' }, 200]
  },
  page: {
    prepare: async () => [{ method: 'GET', url: '/v1/receivers/bob/messages' }, 200]
  },
  'one message': {
    prepare: async (call) => {
      const { msg_id: msgId } = await stored(call, { receiver_uid: 'bob' })
      return [{ method: 'GET', url: `/v1/receivers/bob/messages/${msgId}` }, 200]
    }
  },
  'ack by ids (2)': {
    prepare: async (call) => {
      const ids = [(await stored(call, { receiver_uid: 'ann' })).msg_id, (await stored(call, { receiver_uid: 'ann' })).msg_id]
      return [{ method: 'POST', url: '/v1/receivers/ann/acks', payload: { msg_ids: ids } }, 200]
    }
  },
  'ack up to a seq': {
    prepare: async (call) => {
      await stored(call, { receiver_uid: 'cal' })
      const { seq } = await stored(call, { receiver_uid: 'cal' })
      return [{ method: 'POST', url: '/v1/receivers/cal/acks', payload: { up_to_seq: seq } }, 200]
    }
  },
  recall: {
    prepare: async (call) => {
      const { msg_id: msgId } = await stored(call, { receiver_uid: 'dee', sender_uid: 'alice' })
      return [{ method: 'POST', url: `/v1/receivers/dee/messages/${msgId}/recall`, payload: { sender_uid: 'alice' } }, 200]
    }
  }
}

t.test('once warm, each endpoint compiles nothing and parses, logs, counts and hashes what the table states', async (t) => {
  t.teardown(countWork())
  const { call, startup, laneOf } = await buildCountedApp(t)
  t.ok(startup.compiled > 0, `the app compiles its validators and serializers before it answers (${startup.compiled} functions)`)
  const measured: Record<string, Work[]> = {}
  for (let round = 0; round < WARM_UP + COUNTED; round++) {
    for (const [endpoint, { prepare }] of Object.entries(ENDPOINTS)) {
      const [options, status] = await prepare(call)
      const counted = await work(call, options, status)
      if (round >= WARM_UP) (measured[endpoint] ??= []).push(counted)
    }
  }
  t.comment(JSON.stringify(measured))
  for (const [endpoint, stated] of Object.entries(EXPECTED)) {
    const counts = measured[endpoint] ?? []
    // On Citus a batch for receivers of several shards commits one group per shard, each counting what it stored.
    const groups = endpoint === 'batch of 10 for 3 receivers' && laneOf !== undefined ? new Set(['r-0', 'r-1', 'r-2'].map(laneOf)).size : 1
    const expected = { ...stated, metricUpdates: stated.metricUpdates + groups - 1 }
    const moved = (Object.keys(expected) as Array<keyof Work>).flatMap((counter) => {
      const seen = [...new Set(counts.map((each) => each[counter]))].filter((value) => value !== expected[counter])
      return seen.map((value) => value > expected[counter]
        ? `${counter} grew to ${value} from ${expected[counter]}`
        : `${counter} fell to ${value} from ${expected[counter]}: if that is meant, update EXPECTED here (and the Regression guard in bench/README.md)`)
    })
    t.strictSame(counts, Array.from({ length: COUNTED }, () => expected),
      moved.length === 0 ? `${endpoint}: ${JSON.stringify(expected)} per request on ${TEST_STORE}` : `${endpoint} on ${TEST_STORE}: ${moved.join('; ')}`)
  }
})
