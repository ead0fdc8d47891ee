// A Citus worker stopped under the real service (issue 32): the receivers whose shards it holds answer 503
// STORE_UNAVAILABLE within the bound, those of the other worker keep storing, reading and acking, and once the worker is
// back its receivers are served again without a restart, every acknowledged message where it was stored. Needs
// TEST_CITUS_URL naming the coordinator of scripts/citus-cluster.sh's cluster, whose nodes this test stops and starts.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import t from 'tap'
import { citusWorkers, createCitusDatabase, shardOfReceiver } from '../helpers/citus.js'
import { startService, type ServiceProcess } from '../helpers/process.js'
import { ANSWER_BOUND_MS, call, type Answer } from '../helpers/service-calls.js'

const CITUS_URL = process.env.TEST_CITUS_URL
const SCRIPT = new URL('../../scripts/citus-cluster.sh', import.meta.url).pathname
// scripts/citus-cluster.sh's workers, by port.
const NODE_NAMES: Record<number, string> = { 9701: 'w1', 9702: 'w2' }
const RECOVERY_BOUND_MS = 30_000
const RECEIVERS = 24

const run = promisify(execFile)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const store = (service: ServiceProcess, receiver: string, msgId: string) =>
  call(service, 'POST', '/v1/messages', { receiver_uid: receiver, sender_uid: 'alice', msg_id: msgId, msg_type: 1, content: msgId })

t.test('a stopped worker: its receivers answer 503, the other worker\'s keep working, and it is served again once back', { skip: CITUS_URL === undefined && 'set TEST_CITUS_URL to the coordinator of scripts/citus-cluster.sh' }, async (t) => {
  const adminUrl = CITUS_URL as string
  const workers = await citusWorkers(adminUrl)
  if (workers === null || workers.length < 2) throw new Error('TEST_CITUS_URL must name a coordinator with two workers')
  const stopped = workers[1] as { host: string, port: number }
  const nodeName = NODE_NAMES[stopped.port]
  if (nodeName === undefined) throw new Error(`worker ${stopped.host}:${stopped.port} is not one of scripts/citus-cluster.sh's`)
  const name = `om_worker_down_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  t.teardown(await createCitusDatabase(adminUrl, workers, name, 8))
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const service = await startService(t, { DATABASE_URL: url.toString(), DB_CONNECT_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '2000' })
  const coordinator = new pg.Client({ connectionString: url.toString() })
  await coordinator.connect()
  t.teardown(() => coordinator.end())

  const receivers = Array.from({ length: RECEIVERS }, (_, i) => `worker-down-${i}`)
  const portOf = new Map<string, number>()
  for (const receiver of receivers) portOf.set(receiver, (await shardOfReceiver(coordinator, receiver)).port)
  const down = receivers.filter((receiver) => portOf.get(receiver) === stopped.port)
  const up = receivers.filter((receiver) => portOf.get(receiver) !== stopped.port)
  t.ok(down.length > 0 && up.length > 0, `receivers on both workers: ${down.length} on ${nodeName}, ${up.length} on the other`)
  for (const receiver of receivers) t.equal((await store(service, receiver, `${receiver}-before`)).status, 201, `${receiver} stores before`)

  await run('sh', [SCRIPT, 'stop', nodeName])
  // Whatever happens below, the cluster is whole again for the next test.
  t.teardown(async () => { await run('sh', [SCRIPT, 'start', nodeName]) })

  let slowest = 0
  for (const receiver of down) {
    const answers: Array<[string, Answer]> = [
      ['a store', await store(service, receiver, `${receiver}-during`)],
      ['a page', await call(service, 'GET', `/v1/receivers/${receiver}/messages?limit=10`)],
      ['the summary', await call(service, 'GET', `/v1/receivers/${receiver}/senders`)],
      ['one message', await call(service, 'GET', `/v1/receivers/${receiver}/messages/${receiver}-before`)],
      ['an ack', await call(service, 'POST', `/v1/receivers/${receiver}/acks`, { msg_ids: [`${receiver}-before`] })]
    ]
    for (const [what, answer] of answers) {
      slowest = Math.max(slowest, answer.ms)
      t.equal(answer.status, 503, `${receiver} on the stopped worker: ${what} answers 503 (${answer.ms} ms)`,
        answer.status === 503 ? {} : { body: answer.body, serviceLog: service.output().split('\n').slice(-10) })
      if (answer.status === 503) t.equal(answer.body?.code, 'STORE_UNAVAILABLE', `${receiver}: ${what} says STORE_UNAVAILABLE`)
    }
  }
  t.ok(slowest < ANSWER_BOUND_MS, `each within ${ANSWER_BOUND_MS} ms (slowest ${slowest} ms)`)

  for (const receiver of up) {
    t.equal((await store(service, receiver, `${receiver}-during`)).status, 201, `${receiver} on the other worker stores`)
    const page = await call(service, 'GET', `/v1/receivers/${receiver}/messages?limit=10`)
    t.strictSame(page.body?.messages?.map((message: { msg_id: string }) => message.msg_id), [`${receiver}-before`, `${receiver}-during`], `${receiver}: its page`)
    const summary = await call(service, 'GET', `/v1/receivers/${receiver}/senders`)
    t.equal(summary.body?.total_pending, 2, `${receiver}: its summary`)
    const ack = await call(service, 'POST', `/v1/receivers/${receiver}/acks`, { msg_ids: [`${receiver}-before`] })
    t.equal(ack.body?.deleted, 1, `${receiver}: its ack`)
  }
  t.equal((await call(service, 'GET', '/healthz')).status, 200, '/healthz stays 200')

  await run('sh', [SCRIPT, 'start', nodeName])
  const started = Date.now()
  let served = false
  while (!served && Date.now() - started < RECOVERY_BOUND_MS) {
    served = (await store(service, down[0] as string, `${down[0] as string}-after`)).status === 201
    if (!served) await sleep(250)
  }
  t.ok(served, `served again ${Date.now() - started} ms after the worker started, without a restart`)
  for (const receiver of down.slice(1)) t.equal((await store(service, receiver, `${receiver}-after`)).status, 201, `${receiver} stores again`)

  // Checked against the database: every 201 is there, nothing answered 503 is, and the acked messages are gone.
  const { rows } = await coordinator.query<{ receiver_uid: string, msg_id: string }>(
    'SELECT receiver_uid, msg_id FROM messages WHERE receiver_uid = ANY($1) ORDER BY receiver_uid, seq', [receivers])
  const stored = (receiver: string) => rows.filter((row) => row.receiver_uid === receiver).map((row) => row.msg_id)
  for (const receiver of down) t.strictSame(stored(receiver), [`${receiver}-before`, `${receiver}-after`], `${receiver}: in the database`)
  for (const receiver of up) t.strictSame(stored(receiver), [`${receiver}-during`], `${receiver}: in the database`)
})
