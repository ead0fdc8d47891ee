// The domain's unit tests run over an in-memory fake of the store port (test/helpers/memory-store.ts); this holds the
// fake to the store under test: the same random stores, acks, device calls, sweeps and clock moves, through the
// same MessageService, give the same answers, summaries (of every reader), pages and device lists on both.
import { isDeepStrictEqual } from 'node:util'
import t from 'tap'
import { DomainError } from '../../src/domain/errors.js'
import type { AckSelector, MessageEvents, MessageRules, NewMessage } from '../../src/domain/model.js'
import { createMessageService, type MessageService } from '../../src/domain/service.js'
import { createStore } from '../../src/store/backends.js'
import { createTestDatabase } from '../helpers/database.js'
import { RULES } from '../helpers/domain.js'
import { createMemoryStore } from '../helpers/memory-store.js'

const noEvents: MessageEvents = { stored () {}, duplicates () {}, acked () {}, expired () {}, dropped () {}, superseded () {}, recalled () {}, erased () {}, wakeups () {} }
const RECEIVERS = ['bob', 'eve']
const DEVICES = ['phone', 'laptop', 'tablet', 'watch']
const MSG_IDS = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8']

/** A small deterministic generator (an LCG): the same seed replays the same steps. */
function random (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
}

/** Everything a client could see of both receivers, for each of their readers. */
async function observe (service: MessageService, devices: ReadonlyMap<string, Set<string>>): Promise<unknown[]> {
  const seen: unknown[] = []
  for (const receiverUid of RECEIVERS) {
    const registered = [...devices.get(receiverUid) ?? []]
    for (const deviceId of registered.length === 0 ? [undefined] : registered) {
      const summary = await service.summary({ receiverUid, deviceId, limit: 50 })
      seen.push([receiverUid, deviceId, summary.totalPending, summary.senders])
      seen.push((await service.page({ receiverUid, deviceId, limit: 100 })).messages)
    }
    seen.push((await service.devices(receiverUid)).map((device) => [device.deviceId, device.slot, device.pendingCount, device.lastAckAt]).sort())
  }
  return seen
}

for (const [seed, overflowPolicy] of [[1, 'drop_oldest'], [2, 'reject'], [3, 'drop_oldest'], [4, 'reject']] as const) {
  t.test(`the in-memory store answers as the store under test does (seed ${seed}, ${overflowPolicy})`, async (t) => {
    const real = await createStore({ databaseUrl: await createTestDatabase(t), poolMax: 4, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })
    t.teardown(() => real.close())
    const rules: MessageRules = { ...RULES, maxPendingPerReceiver: 4, overflowPolicy, dedupWindowSeconds: 5, maxDevicesPerReceiver: 3 }
    let now = Date.parse('2026-12-01T10:00:00.000Z')
    const fake = createMessageService(createMemoryStore(), rules, noEvents, () => now)
    const actual = createMessageService(real, rules, noEvents, () => now)
    const next = random(seed)
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T
    const devices = new Map(RECEIVERS.map((receiverUid) => [receiverUid, new Set<string>()]))
    let differing = 0
    for (let step = 0; step < 200; step++) {
      const receiverUid = pick(RECEIVERS)
      const registered = [...devices.get(receiverUid) ?? []]
      const reader = (): string | undefined => next() < 0.1 ? pick([undefined, 'ghost']) : registered.length > 0 ? pick(registered) : undefined
      const choice = next()
      let what: string
      let call: (service: MessageService) => Promise<unknown>
      if (choice < 0.4) {
        const messages: NewMessage[] = Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({
          receiverUid: pick(RECEIVERS), senderUid: pick(['alice', 'carol']), msgId: pick(MSG_IDS), msgType: 1, content: pick(['x', 'y', '😀'.repeat(101)]), ttlSeconds: pick([4, 3600])
        }))
        what = `store ${JSON.stringify(messages.map((m) => [m.receiverUid, m.senderUid, m.msgId]))}`
        call = async (service) => (await service.storeMany(messages)).map((outcome) => [outcome.status, outcome.message?.seq])
      } else if (choice < 0.7) {
        const selector: AckSelector = pick<AckSelector>([
          { kind: 'ids', msgIds: [pick(MSG_IDS), pick(MSG_IDS)] },
          { kind: 'up-to', upToSeq: Math.floor(next() * 30) },
          { kind: 'up-to', upToSeq: Math.floor(next() * 30), senderUid: pick(['alice', 'carol']) }
        ])
        const deviceId = reader()
        what = `ack ${receiverUid} ${deviceId ?? '-'} ${JSON.stringify(selector)}`
        call = (service) => service.ack(receiverUid, selector, deviceId)
      } else if (choice < 0.83) {
        const deviceId = pick(DEVICES)
        const register = choice < 0.78
        what = `${register ? 'register' : 'unregister'} ${receiverUid} ${deviceId}`
        call = async (service) => {
          if (!register) return await service.unregisterDevice(receiverUid, deviceId)
          const { created } = await service.registerDevice(receiverUid, deviceId)
          if (created) devices.get(receiverUid)?.add(deviceId)
          return created
        }
        if (!register) devices.get(receiverUid)?.delete(deviceId)
      } else if (choice < 0.9) {
        what = 'sweep'
        call = (service) => service.sweep()
      } else {
        now += Math.floor(next() * 3000)
        continue
      }
      const settle = async (service: MessageService): Promise<unknown> => await call(service).catch((error: unknown) => error instanceof DomainError ? error.code : String(error))
      const expected = [await settle(actual), await observe(actual, devices)]
      const got = [await settle(fake), await observe(fake, devices)]
      // Compared as values, whatever the order of their keys: a missing or extra key, or any value that differs, differs.
      if (!isDeepStrictEqual(got, expected)) {
        differing++
        if (differing === 1) t.strictSame(got, expected, `step ${step}: ${what} (the first that differs)`)
      }
    }
    t.equal(differing, 0, 'no step differs')
  })
}
