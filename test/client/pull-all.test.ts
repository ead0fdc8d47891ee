// The typed client against the real service: pullAll hands over every page and acks only what its handler finished; ack().
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { ack, createOfflineMessagesClient, pullAll, type PullPage } from '../../client/src/index.js'
import { KEYS } from '../helpers/app.js'
import { secret, storeMessages } from '../helpers/client.js'
import { createTestDatabase } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

t.test('the client types are generated from the committed OpenAPI document (npm run openapi)', async (t) => {
  const generated = execFileSync(process.execPath, ['node_modules/openapi-typescript/bin/cli.js', 'openapi/openapi.json'], { encoding: 'utf8' })
  t.equal(generated, readFileSync('client/src/schema.ts', 'utf8'), 'client/src/schema.ts is stale: run npm run openapi')
})

t.test('pullAll delivers every pending message page by page and acks each page after its handler resolved', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const stored = await storeMessages(service.url, 'carol', ['alice', 'dave', 'erin'], 7)
  const gateway = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.gateway) })

  const seen: string[] = []
  const result = await pullAll(gateway, 'carol', async (page: PullPage) => {
    // While the handler runs, its page is still pending: nothing is acked before the handler is done.
    const pending = await gateway.GET('/v1/receivers/{receiver_uid}/messages/{msg_id}', {
      params: { path: { receiver_uid: 'carol', msg_id: page.messages[0]?.msg_id ?? '' } }
    })
    t.equal(pending.response.status, 200, 'the page being handled is not acked yet')
    t.ok(page.messages.every((message) => message.sender_uid === page.sender_uid))
    seen.push(...page.messages.map((message) => message.msg_id))
  }, { pageSize: 3 })

  t.same([...seen].sort(), [...stored].sort(), 'every stored message was handed over exactly once')
  t.same(result, { pages: 9, delivered: 21, acked: 21 })
  const summary = await gateway.GET('/v1/receivers/{receiver_uid}/senders', { params: { path: { receiver_uid: 'carol' } } })
  t.equal(summary.data?.total_pending, 0, 'everything handed over was acked')
})

t.test('the handler gets each message as the API returns it, snake_case, not a copy in other words', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  await storeMessages(service.url, 'carol', ['alice', 'dave'], 3)
  const gateway = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.gateway) })
  const direct = await gateway.GET('/v1/receivers/{receiver_uid}/messages', { params: { path: { receiver_uid: 'carol' }, query: { limit: 100 } } })
  const fromApi = direct.data?.messages ?? []
  t.equal(fromApi.length, 6)

  const handed: unknown[] = []
  const pages: string[][] = []
  await pullAll(gateway, 'carol', async (page) => {
    pages.push(Object.keys(page))
    handed.push(...page.messages)
  }, { pageSize: 2 })

  t.same(pages[0], ['sender_uid', 'messages'], 'a page is {sender_uid, messages}')
  const bySeq = (a: unknown, b: unknown) => (a as { seq: number }).seq - (b as { seq: number }).seq
  t.strictSame([...handed].sort(bySeq), fromApi, 'the messages handed over are the ones GET /v1/receivers/{receiver_uid}/messages returns, field for field')
  t.same(Object.keys(handed[0] ?? {}), ['msg_id', 'receiver_uid', 'sender_uid', 'msg_type', 'content', 'send_time', 'collapse_key', 'seq', 'stored_at', 'expires_at'])
})

t.test('when the handler fails, the page it failed on and everything after it stay pending', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  await storeMessages(service.url, 'carol', ['alice'], 10)
  const gateway = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.gateway) })

  let calls = 0
  await t.rejects(pullAll(gateway, 'carol', async () => {
    calls++
    if (calls === 2) throw new Error('the client crashed while saving page 2')
  }, { pageSize: 4 }), /page 2/)

  const page = await gateway.GET('/v1/receivers/{receiver_uid}/messages', { params: { path: { receiver_uid: 'carol' }, query: { limit: 100 } } })
  t.same(page.data?.messages.map((message) => message.msg_id), ['alice-4', 'alice-5', 'alice-6', 'alice-7', 'alice-8', 'alice-9'],
    'only the first page, whose handler resolved, was acked')

  const again: string[] = []
  const result = await pullAll(gateway, 'carol', async (p) => { again.push(...p.messages.map((message) => message.msg_id)) }, { pageSize: 4 })
  t.same(again, ['alice-4', 'alice-5', 'alice-6', 'alice-7', 'alice-8', 'alice-9'], 'a later pullAll delivers what was left')
  t.equal(result.acked, 6)
})

t.test('a client without the right key gets a typed error, not a silent empty result', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const router = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.router) })
  await t.rejects(pullAll(router, 'carol', async () => {}), { name: 'OfflineMessagesError', status: 403 })
})

t.test('ack() deletes by ids or up to a seq of one sender, and resolves with how many it deleted', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  await storeMessages(service.url, 'carol', ['alice', 'dave'], 3)
  const gateway = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.gateway) })
  t.equal(await ack(gateway, 'carol', { msg_ids: ['alice-0', 'dave-0'] }), 2)
  t.equal(await ack(gateway, 'carol', { msg_ids: ['alice-0'] }), 0, 'acking again deletes nothing')
  t.equal(await ack(gateway, 'carol', { up_to_seq: Number.MAX_SAFE_INTEGER, sender_uid: 'alice' }), 2, "the rest of alice's")
  const left = await gateway.GET('/v1/receivers/{receiver_uid}/messages', { params: { path: { receiver_uid: 'carol' } } })
  t.same(left.data?.messages.map((message) => message.msg_id), ['dave-1', 'dave-2'])
  const router = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.router) })
  await t.rejects(ack(router, 'carol', { up_to_seq: 0 }), { name: 'OfflineMessagesError', status: 403 })
})

t.test('pullAll with a device pulls and acks that device\'s messages only: the other device still gets them all', async (t) => {
  const service = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const gateway = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.gateway) })
  for (const device of ['phone', 'laptop']) {
    const registered = await gateway.PUT('/v1/receivers/{receiver_uid}/devices/{device_id}', { params: { path: { receiver_uid: 'carol', device_id: device } } })
    t.equal(registered.response.status, 201)
  }
  const stored = await storeMessages(service.url, 'carol', ['alice', 'dave'], 4)
  await t.rejects(pullAll(gateway, 'carol', async () => {}), { name: 'OfflineMessagesError', status: 400 }, 'carol has devices: pullAll needs one')

  const onPhone: string[] = []
  const phone = await pullAll(gateway, 'carol', async (page) => { onPhone.push(...page.messages.map((message) => message.msg_id)) }, { deviceId: 'phone', pageSize: 3 })
  t.same([...onPhone].sort(), [...stored].sort())
  t.same(phone, { pages: 4, delivered: 8, acked: 8 })
  t.same(await pullAll(gateway, 'carol', async () => { t.fail('the phone has nothing left') }, { deviceId: 'phone' }), { pages: 0, delivered: 0, acked: 0 })

  const onLaptop: string[] = []
  const laptop = await pullAll(gateway, 'carol', async (page) => { onLaptop.push(...page.messages.map((message) => message.msg_id)) }, { deviceId: 'laptop' })
  t.same([...onLaptop].sort(), [...stored].sort(), 'the laptop gets every message the phone acked')
  t.equal(laptop.acked, 8)
  const devices = await gateway.GET('/v1/receivers/{receiver_uid}/devices', { params: { path: { receiver_uid: 'carol' } } })
  t.same(devices.data?.devices.map((device) => [device.device_id, device.pending_count]), [['phone', 0], ['laptop', 0]])
})
