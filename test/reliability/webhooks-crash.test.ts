// The webhook through the real process: a SIGKILL in the middle of a delivery loses nothing (the batch in flight
// goes again after the restart, the same, and nothing before it), and with several instances on one PostgreSQL
// database exactly one delivers, another taking over within 10 s of its death.
import t from 'tap'
import { AUTH } from '../helpers/app.js'
import { createTestDatabase, TEST_STORE } from '../helpers/database.js'
import { startService, type ServiceProcess } from '../helpers/process.js'
import { WEBHOOK_SECRET, startReceiver, type Receiver } from '../helpers/webhook-receiver.js'
import { sleep } from '../helpers/wait.js'

const webhookEnv = (receiver: Receiver, databaseUrl: string): Record<string, string> =>
  ({ DATABASE_URL: databaseUrl, EVENTS: 'on', WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, WEBHOOK_BATCH_SIZE: '5' })

async function storeBatch (service: ServiceProcess, msgIds: string[]): Promise<void> {
  const messages = msgIds.map((msgId) => ({ receiver_uid: 'bob', sender_uid: 'alice', msg_id: msgId, msg_type: 1, content: `hello ${msgId}` }))
  const response = await fetch(`${service.url}/v1/messages/batch`, {
    method: 'POST', headers: { ...AUTH.admin, 'content-type': 'application/json' }, body: JSON.stringify({ messages })
  })
  if (response.status !== 200) throw new Error(`batch answered ${response.status}: ${await response.text()}`)
}

/** offline_messages_webhook_deliveries_total{outcome="delivered"} of one instance. */
async function delivered (service: ServiceProcess): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text()
  return Number(/^offline_messages_webhook_deliveries_total\{outcome="delivered"\} (\S+)$/m.exec(text)?.[1] ?? 'NaN')
}

/** Each instance's delivered count, once one of them has counted a delivery (it counts after the receiver has the request). */
async function deliveredBy (services: ServiceProcess[]): Promise<number[]> {
  const deadline = Date.now() + 5000
  for (;;) {
    const counts = await Promise.all(services.map(delivered))
    if (counts.some((count) => count > 0) || Date.now() > deadline) return counts
    await sleep(20)
  }
}

const ids = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `c-${String(from + i).padStart(3, '0')}`)

t.test(`a SIGKILL while a batch is in flight loses nothing: after a restart that batch goes again, the same, then the rest (${TEST_STORE})`, async (t) => {
  const receiver = await startReceiver(t)
  receiver.answers = [204, 204, 204, 'hang']
  const databaseUrl = await createTestDatabase(t, { file: true })
  const service = await startService(t, webhookEnv(receiver, databaseUrl))
  const all = ids(0, 40)
  await storeBatch(service, all)
  await receiver.until(() => receiver.received.length === 4 && receiver.inFlight === 1)
  service.signal('SIGKILL')
  await service.exited
  const inFlight = receiver.received[3]
  await receiver.close()

  const again = await startReceiver(t)
  await startService(t, webhookEnv(again, databaseUrl))
  // The dead process's lease runs out first (6 s): the new process is another owner.
  await again.until(() => again.events().length >= all.length - 15, 20_000)
  await sleep(300)
  t.equal(again.received[0]?.headers['webhook-id'], inFlight?.headers['webhook-id'], 'the batch in flight is sent first, under its webhook-id')
  t.equal(again.received[0]?.body, inFlight?.body, 'with the same body')
  t.ok(again.received.every((request) => request.verified))
  const before = receiver.received.slice(0, 3).flatMap((request) => request.events.map((event) => event.msg_id))
  const after = again.events().map((event) => event.msg_id)
  t.strictSame([...before, ...after], all, 'every event once, in order: nothing acknowledged before the kill is sent again')
})

t.test('several instances on one PostgreSQL database: one delivers; SIGKILL it and another delivers within 10 s', {
  skip: TEST_STORE !== 'postgres' && 'one process per SQLite file: there is no other instance to take over'
}, async (t) => {
  const receiver = await startReceiver(t)
  const databaseUrl = await createTestDatabase(t)
  const env = webhookEnv(receiver, databaseUrl)
  const services = await Promise.all([0, 1, 2].map(async () => await startService(t, env)))
  const [first] = services as [ServiceProcess]
  await storeBatch(first, ids(0, 12))
  await receiver.until(() => receiver.events().length >= 12)
  const counts = await deliveredBy(services)
  t.equal(counts.filter((count) => count > 0).length, 1, `exactly one instance delivered: ${counts.join(', ')}`)
  t.equal(receiver.maxInFlight, 1, 'one request at a time')
  const owner = services[counts.findIndex((count) => count > 0)] as ServiceProcess

  owner.signal('SIGKILL')
  await owner.exited
  const killedAt = Date.now()
  const survivors = services.filter((service) => service !== owner)
  await storeBatch(survivors[0] as ServiceProcess, ids(12, 3))
  await receiver.until(() => receiver.events().some((event) => event.msg_id === 'c-014'), 15_000)
  const tookOver = Date.now() - killedAt
  t.ok(tookOver < 10_000, `delivered by another instance ${tookOver} ms after the kill`)
  const after = await deliveredBy(survivors)
  t.equal(after.filter((count) => count > 0).length, 1, `exactly one survivor delivers: ${after.join(', ')}`)
  t.strictSame([...new Set(receiver.events().map((event) => event.msg_id))], ids(0, 15), 'every event, in order')
  t.equal(receiver.maxInFlight, 1, 'still one request at a time')
})
