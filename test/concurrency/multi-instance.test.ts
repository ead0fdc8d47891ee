// The contract's concurrency guarantees under load through several real instances on one database: seq order, dedup, quota, acks, devices.
import t from 'tap'
import {
  createClient, fetchAllPending, INSTANCES, openDatabase, pause, pool, readSummary, startCluster, storeBody, type Answer, type Client, type PendingMessage
} from './load.js'

// Bounded load: every scenario is a fixed number of requests over loopback, with a fixed number in flight.
const WRITES = 800
const IN_FLIGHT = 40
const PAGE = 50

interface Writes {
  /** msg_id -> seq of every store answered 201. */
  stored: Map<string, number>
  /** Every answer that was not a 201, as "status code". */
  others: string[]
}

/** Stores `count` messages with distinct client-chosen ids for one receiver, spread over the instances. */
async function storeMany (client: Client, receiverUid: string, count: number, concurrency = IN_FLIGHT): Promise<Writes> {
  const stored = new Map<string, number>()
  const others: string[] = []
  await pool(count, concurrency, async (index) => {
    const msgId = `${receiverUid}-${String(index).padStart(5, '0')}`
    const answer = await client.request('POST', '/v1/messages', 'router', storeBody(receiverUid, msgId, index))
    if (answer.status === 201) stored.set(msgId, answer.body.seq as number)
    else others.push(`${answer.status} ${String(answer.body?.code ?? '')}`)
  })
  return { stored, others }
}

function pagePath (receiverUid: string, limit: number, cursor?: string): string {
  const query = new URLSearchParams({ limit: String(limit), ...(cursor === undefined ? {} : { cursor }) })
  return `/v1/receivers/${receiverUid}/messages?${query.toString()}`
}

/** Records an answer other than 200; the loops stop at the first one and the test reports it once the writers are done. */
function answeredOk (answer: Answer, what: string, failures: string[]): boolean {
  if (answer.status === 200) return true
  failures.push(`${what} answered ${answer.status}: ${JSON.stringify(answer.body)}`)
  return false
}

const sorted = (ids: Iterable<string>) => [...ids].sort()

interface Assert { equal (found: unknown, wanted: unknown, message: string): unknown }

/** The load really went through every instance: otherwise a scenario would prove nothing about several of them. */
function checkSpread (t: Assert, client: Client): void {
  t.equal([...client.perInstance.values()].filter((count) => count > 0).length, INSTANCES, `all ${INSTANCES} instance(s) answered requests`)
}

const main = await startCluster(t)

t.test('a reader following next_cursor sees every committed message exactly once, in strictly increasing seq, while all instances store', async (t) => {
  const client = createClient(main.urls)
  const receiverUid = 'follow-r'
  let writersDone = false
  const failures: string[] = []

  /** Follows next_cursor until the writers are done and a pass that started after them finds nothing more. */
  async function follow () {
    const seen: PendingMessage[] = []
    const backwards: string[] = []
    let cursor: string | undefined
    let lastSeq = 0
    for (;;) {
      const finished = writersDone
      const page = await client.request('GET', pagePath(receiverUid, PAGE, cursor), 'gateway')
      if (!answeredOk(page, 'a page', failures)) return { seen, backwards }
      const messages = page.body.messages as PendingMessage[]
      for (const message of messages) {
        if (message.seq <= lastSeq) backwards.push(`${message.msg_id} seq ${message.seq} after seq ${lastSeq}`)
        lastSeq = message.seq
        seen.push(message)
      }
      cursor = page.body.next_cursor as string
      if (messages.length === 0) {
        if (finished) return { seen, backwards }
        await pause(5)
      }
    }
  }

  const readers = [follow(), follow()]
  const writes = await storeMany(client, receiverUid, WRITES)
  writersDone = true
  const results = await Promise.all(readers)

  t.same(failures, [], 'every page answered 200')
  t.same(writes.others, [], 'every store answered 201')
  t.equal(writes.stored.size, WRITES, 'every store got its own 201')
  for (const [index, { seen, backwards }] of results.entries()) {
    t.same(backwards, [], `reader ${index + 1}: seqs strictly increase along the cursor`)
    const counts = new Map<string, number>()
    for (const message of seen) counts.set(message.msg_id, (counts.get(message.msg_id) ?? 0) + 1)
    const repeated = [...counts].filter(([, n]) => n > 1).map(([id]) => id)
    const missed = sorted([...writes.stored.keys()].filter((id) => !counts.has(id)))
    const unknown = sorted([...counts.keys()].filter((id) => !writes.stored.has(id)))
    t.same(repeated, [], `reader ${index + 1}: no message is seen twice`)
    t.same(missed, [], `reader ${index + 1}: no acknowledged message is missed`)
    t.same(unknown, [], `reader ${index + 1}: sees only messages that were acknowledged`)
    const wrongSeq = seen.filter((message) => writes.stored.get(message.msg_id) !== message.seq).map((message) => message.msg_id)
    t.same(wrongSeq, [], `reader ${index + 1}: each message carries the seq its store answered`)
  }
  checkSpread(t, client)
  t.same(client.serverErrors, [], 'no 5xx answers')
})

t.test('an up_to_seq ack never deletes a message the acker has not seen, while all instances store', async (t) => {
  const client = createClient(main.urls)
  const receiverUid = 'upto-r'
  let writersDone = false
  const failures: string[] = []

  /** Fetches the first page and at once acks up to its last seq, until the writers are done. */
  async function fetchAndAck () {
    const seen = new Map<string, number>()
    const repeated: string[] = []
    const backwards: string[] = []
    let deleted = 0
    let acks = 0
    let lastSeq = 0
    while (!writersDone) {
      const page = await client.request('GET', pagePath(receiverUid, PAGE), 'gateway')
      if (!answeredOk(page, 'a page', failures)) break
      const messages = page.body.messages as PendingMessage[]
      const last = messages[messages.length - 1]
      if (last === undefined) {
        await pause(5)
        continue
      }
      for (const message of messages) {
        if (seen.has(message.msg_id)) repeated.push(message.msg_id)
        // Everything at or below an acked seq is gone: a later page showing such a seq would break the convention.
        if (message.seq <= lastSeq) backwards.push(`${message.msg_id} seq ${message.seq} after seq ${lastSeq}`)
        lastSeq = message.seq
        seen.set(message.msg_id, message.seq)
      }
      const ack = await client.request('POST', `/v1/receivers/${receiverUid}/acks`, 'gateway', { up_to_seq: last.seq })
      if (!answeredOk(ack, 'an up_to_seq ack', failures)) break
      deleted += ack.body.deleted as number
      acks++
    }
    return { seen, repeated, backwards, deleted, acks }
  }

  const acker = fetchAndAck()
  const writes = await storeMany(client, receiverUid, WRITES)
  writersDone = true
  const { seen, repeated, backwards, deleted, acks } = await acker
  const pending = await fetchAllPending(client, receiverUid)
  const pendingIds = new Set(pending.map((message) => message.msg_id))
  const summary = await readSummary(client, receiverUid)

  t.same(failures, [], 'every page and ack answered 200')
  t.same(writes.others, [], 'every store answered 201')
  t.ok(acks > 0, 'the acker acked while the writers stored')
  t.same(repeated, [], 'no acked message is shown again')
  t.same(backwards, [], 'after an ack up to seq N no page shows a seq at or below N')
  t.equal(deleted, seen.size, 'the acks deleted exactly the messages the acker had seen')
  const vanished = sorted([...writes.stored.keys()].filter((id) => !seen.has(id) && !pendingIds.has(id)))
  t.same(vanished, [], 'every stored message was either seen before its ack or is still pending')
  t.same(sorted([...seen.keys()].filter((id) => pendingIds.has(id))), [], 'no seen-and-acked message is still pending')
  t.equal(seen.size + pending.length, writes.stored.size, 'acked plus pending accounts for every stored message')
  t.equal(summary.totalPending, pending.length, 'total_pending equals what is left pending')
  checkSpread(t, client)
  t.same(client.serverErrors, [], 'no 5xx answers')
})

t.test('the same (receiver_uid, msg_id) stored concurrently through all instances is one row: one 201, the rest duplicates with its seq', async (t) => {
  const client = createClient(main.urls)
  const receiverUid = 'dedup-r'
  const ids = Array.from({ length: 20 }, (_, index) => `${receiverUid}-${index}`)
  const copies = 30
  // Request i stores ids[i % 20]: the 30 copies of one id are spread over the whole run and over every instance.
  const answers = await pool(ids.length * copies, 50, async (index) => {
    const id = ids[index % ids.length] as string
    const answer = await client.request('POST', '/v1/messages', 'router', storeBody(receiverUid, id, index % ids.length))
    return { id, answer }
  })

  const problems: string[] = []
  const seqOf = new Map<string, number>()
  for (const id of ids) {
    const mine = answers.filter((entry) => entry.id === id).map((entry) => entry.answer)
    const created = mine.filter((answer) => answer.status === 201)
    const duplicates = mine.filter((answer) => answer.status === 200 && answer.body.duplicate === true)
    const seqs = new Set(mine.map((answer) => answer.body?.seq as number))
    if (created.length !== 1) problems.push(`${id}: ${created.length} answers 201`)
    if (duplicates.length !== copies - 1) problems.push(`${id}: ${duplicates.length} duplicates, statuses ${mine.map((answer) => answer.status).join(',')}`)
    if (seqs.size !== 1) problems.push(`${id}: seqs ${[...seqs].join(',')}`)
    seqOf.set(id, created[0]?.body.seq as number)
  }
  t.same(problems, [], 'each id: exactly one 201 and 29 duplicates, all with the same seq')

  const pending = await fetchAllPending(client, receiverUid)
  t.same(sorted(pending.map((message) => message.msg_id)), sorted(ids), 'the page holds each id once')
  t.same(pending.filter((message) => seqOf.get(message.msg_id) !== message.seq).map((message) => message.msg_id), [],
    'each pending message has the seq of its 201')
  t.equal((await readSummary(client, receiverUid)).totalPending, ids.length, 'total_pending counts each id once')
  checkSpread(t, client)
  t.same(client.serverErrors, [], 'no 5xx answers')
})

t.test('the quota is exact under concurrent stores through all instances: never one message over', async (t) => {
  const cluster = await startCluster(t, { MAX_PENDING_PER_RECEIVER: '50' })
  const client = createClient(cluster.urls)
  const receiverUid = 'quota-r'
  const writes = await storeMany(client, receiverUid, 300, 50)

  t.equal(writes.stored.size, 50, 'exactly 50 stores answer 201')
  t.same(writes.others, Array.from({ length: 250 }, () => '429 INBOX_FULL'), 'exactly 250 answer 429 INBOX_FULL')
  const summary = await readSummary(client, receiverUid)
  t.equal(summary.totalPending, 50, 'total_pending is 50')
  t.equal(summary.pendingCount, 50, 'the summary rows count 50 pending')
  const pending = await fetchAllPending(client, receiverUid)
  t.same(sorted(pending.map((message) => message.msg_id)), sorted(writes.stored.keys()), 'the page holds exactly the 50 accepted messages')
  checkSpread(t, client)
  t.same(client.serverErrors, [], 'no 5xx answers')
})

t.test('drop_oldest keeps exactly the quota under concurrent stores through all instances: the highest seqs remain', async (t) => {
  const cluster = await startCluster(t, { MAX_PENDING_PER_RECEIVER: '50', OVERFLOW_POLICY: 'drop_oldest' })
  const client = createClient(cluster.urls)
  const receiverUid = 'drop-r'
  const writes = await storeMany(client, receiverUid, 300, 50)

  t.same(writes.others, [], 'every store answers 201')
  t.equal(writes.stored.size, 300, 'all 300 stores were accepted')
  const seqs = [...writes.stored.values()].sort((a, b) => a - b)
  t.equal(new Set(seqs).size, 300, 'every accepted store got its own seq')
  const summary = await readSummary(client, receiverUid)
  t.equal(summary.totalPending, 50, 'total_pending ends at 50')
  t.equal(summary.pendingCount, 50, 'the summary rows count 50 pending')
  t.equal(summary.lostCount, 250, 'the summary counts the 250 dropped messages as lost')
  const pending = await fetchAllPending(client, receiverUid)
  const highest = [...writes.stored].sort(([, a], [, b]) => a - b).slice(-50).map(([id]) => id)
  t.same(sorted(pending.map((message) => message.msg_id)), sorted(highest), 'the 50 remaining are the 50 highest seqs')
  checkSpread(t, client)
  t.same(client.serverErrors, [], 'no 5xx answers')
})

t.test('acks by msg_ids racing fetches and stores lose nothing: every stored message is acked or still pending', async (t) => {
  const client = createClient(main.urls)
  const receiverUid = 'race-r'
  let writersDone = false
  const failures: string[] = []

  /** A gateway: fetches the first page and acks what it fetched by msg_ids, until the writers are done. */
  async function gateway (limit: number) {
    const acked = new Set<string>()
    let deleted = 0
    while (!writersDone) {
      const page = await client.request('GET', pagePath(receiverUid, limit), 'gateway')
      if (!answeredOk(page, 'a page', failures)) break
      const ids = (page.body.messages as PendingMessage[]).map((message) => message.msg_id)
      if (ids.length === 0) {
        await pause(5)
        continue
      }
      const ack = await client.request('POST', `/v1/receivers/${receiverUid}/acks`, 'gateway', { msg_ids: ids })
      if (!answeredOk(ack, 'an ack by msg_ids', failures)) break
      deleted += ack.body.deleted as number
      for (const id of ids) acked.add(id)
    }
    return { acked, deleted }
  }

  // Two gateways read from the start, so they keep fetching and acking the same messages at the same time.
  const gateways = [gateway(PAGE), gateway(30)]
  const writes = await storeMany(client, receiverUid, WRITES)
  writersDone = true
  const results = await Promise.all(gateways)
  const acked = new Set(results.flatMap(({ acked }) => [...acked]))
  const deleted = results.reduce((sum, result) => sum + result.deleted, 0)
  const pending = await fetchAllPending(client, receiverUid)
  const pendingIds = new Set(pending.map((message) => message.msg_id))
  const summary = await readSummary(client, receiverUid)

  t.same(failures, [], 'every page and ack answered 200')
  t.same(writes.others, [], 'every store answered 201')
  t.ok(acked.size > 0, 'the gateways acked while the writers stored')
  t.equal(deleted, acked.size, 'each acked message was deleted exactly once, whichever gateway got there first')
  const vanished = sorted([...writes.stored.keys()].filter((id) => !acked.has(id) && !pendingIds.has(id)))
  t.same(vanished, [], 'nothing vanished: every stored message was acked by a gateway or is still pending')
  t.same(sorted([...acked].filter((id) => pendingIds.has(id))), [], 'no acked message is still pending')
  t.same(sorted([...acked].filter((id) => !writes.stored.has(id))), [], 'the gateways acked only stored messages')
  t.equal(acked.size + pending.length, writes.stored.size, 'acked plus pending accounts for every stored message')
  t.equal(summary.totalPending, pending.length, 'total_pending equals the pending count seen')
  t.equal(summary.pendingCount, pending.length, 'the summary rows add up to the pending count seen')
  checkSpread(t, client)
  t.same(client.serverErrors, [], 'no 5xx answers')
})

t.test('devices acking the same messages at once through all instances, racing stores and an unregister: nothing unacked is lost, counts stay exact', async (t) => {
  const client = createClient(main.urls)
  const db = await openDatabase(t, main.databaseUrl)
  const receivers = ['dev-r0', 'dev-r1', 'dev-r2']
  const deviceIds = ['phone', 'laptop', 'tablet']
  // dev-r0's tablet is unregistered once half of the stores have been sent, while its own gateway still acks.
  const leaving = { receiverUid: 'dev-r0', deviceId: 'tablet' }
  const PER_RECEIVER = 120
  const failures: string[] = []
  const base = (receiverUid: string) => `/v1/receivers/${receiverUid}`

  // Each device registered through every instance at the same moment: one 201, the others 200; the three devices of a receiver at once too.
  const registrations = await Promise.all(receivers.flatMap((receiverUid) => deviceIds.map(async (deviceId) => {
    const answers = await Promise.all(Array.from({ length: 3 }, async (_, via) => await client.request('PUT', `${base(receiverUid)}/devices/${deviceId}`, 'gateway', undefined, via)))
    return `${receiverUid}/${deviceId}: ${answers.map((answer) => answer.status).sort().join(',')}`
  })))
  t.same(registrations, receivers.flatMap((receiverUid) => deviceIds.map((deviceId) => `${receiverUid}/${deviceId}: 200,200,201`)),
    'each device registered once: one 201 and two 200s')
  const slotRows = await db.query<{ receiver_uid: string, device_id: string, slot: number }>(
    `SELECT receiver_uid, device_id, slot FROM devices WHERE receiver_uid IN (${receivers.map(() => '?').join(', ')})`, receivers)
  const slotOf = new Map(slotRows.map((row) => [`${row.receiver_uid}/${row.device_id}`, Number(row.slot)]))
  t.equal(slotOf.size, receivers.length * deviceIds.length, 'the devices table holds every device once')
  for (const receiverUid of receivers) {
    t.equal(new Set(deviceIds.map((deviceId) => slotOf.get(`${receiverUid}/${deviceId}`))).size, deviceIds.length, `${receiverUid}: its devices have distinct slots`)
  }
  const bitOf = (receiverUid: string, deviceId: string) => 1 << (slotOf.get(`${receiverUid}/${deviceId}`) ?? 31)

  const total = receivers.length * PER_RECEIVER
  let sent = 0
  let writersDone = false
  let unregisterSent = false
  const isGone = (receiverUid: string, deviceId: string) =>
    unregisterSent && receiverUid === leaving.receiverUid && deviceId === leaving.deviceId
  /** A 404 DEVICE_NOT_FOUND is the expected answer for the leaving device once its DELETE is on its way; anything else but 200 is a failure. */
  const check = (answer: Answer, what: string, receiverUid: string, deviceId: string): 'ok' | 'gone' | 'failed' => {
    if (answer.status === 404 && answer.body?.code === 'DEVICE_NOT_FOUND' && isGone(receiverUid, deviceId)) return 'gone'
    return answeredOk(answer, `${receiverUid}/${deviceId}: ${what}`, failures) ? 'ok' : 'failed'
  }

  /**
   * One device's gateway: fetches the device's first page, then acks it twice at the same moment through two different
   * instances, by msg_ids and up to the page's last seq (every other round only that message's sender's). Both acks
   * select exactly the page's messages of their kind (a first page holds every pending seq up to its last), so the two
   * answers' deleted must add up to each message taken once.
   */
  async function gateway (device: DeviceRun, lane: number) {
    const { receiverUid, deviceId, acked, shownAgain } = device
    let rounds = 0
    // The laptops' gateways go away once three quarters of the stores are sent: what the others acked after that stays for the laptops alone.
    const stopAt = deviceId === 'laptop' ? total * 3 / 4 : Infinity
    const path = `${base(receiverUid)}/messages?${new URLSearchParams({ device_id: deviceId, limit: String(20 + 10 * lane) }).toString()}`
    while (!writersDone && sent < stopAt) {
      const ackedBefore = new Set(acked)
      const page = await client.request('GET', path, 'gateway', undefined, lane + rounds)
      const state = check(page, 'a page', receiverUid, deviceId)
      if (state !== 'ok') break
      const messages = page.body.messages as PendingMessage[]
      for (const message of messages) if (ackedBefore.has(message.msg_id)) shownAgain.push(message.msg_id)
      const last = messages[messages.length - 1]
      if (last === undefined) {
        await pause(5)
        continue
      }
      const bySender = rounds % 2 === 1
      const upTo = bySender ? { device_id: deviceId, up_to_seq: last.seq, sender_uid: last.sender_uid } : { device_id: deviceId, up_to_seq: last.seq }
      const answers = await Promise.all([
        client.request('POST', `${base(receiverUid)}/acks`, 'gateway', { device_id: deviceId, msg_ids: messages.map((message) => message.msg_id) }, lane + rounds),
        client.request('POST', `${base(receiverUid)}/acks`, 'gateway', upTo, lane + rounds + 1)
      ])
      rounds++
      device.rounds++
      const states = answers.map((answer, index) => check(answer, index === 0 ? 'an ack by msg_ids' : 'an up_to_seq ack', receiverUid, deviceId))
      answers.forEach((answer, index) => {
        if (states[index] !== 'ok') return
        device.deleted += answer.body.deleted as number
        const selected = index === 0 || !bySender ? messages : messages.filter((message) => message.sender_uid === last.sender_uid)
        for (const message of selected) acked.add(message.msg_id)
      })
      if (states.some((state) => state !== 'ok')) break
    }
  }

  // Two gateways per device, started on different instances: they fetch overlapping pages and ack them at the same time.
  interface DeviceRun { receiverUid: string, deviceId: string, acked: Set<string>, deleted: number, rounds: number, shownAgain: string[] }
  const results: DeviceRun[] = receivers.flatMap((receiverUid) => deviceIds.map((deviceId) => ({ receiverUid, deviceId, acked: new Set<string>(), deleted: 0, rounds: 0, shownAgain: [] })))
  const gateways = results.flatMap((device, index) => [gateway(device, index), gateway(device, index + 1)])
  let unregistered: Promise<Answer> | undefined
  const stored = new Map<string, Map<string, { seq: number, body: Record<string, unknown> }>>(receivers.map((receiverUid) => [receiverUid, new Map()]))
  const storeOthers: string[] = []
  // Fewer stores in flight than the other scenarios: the storing lasts long enough for many rounds of acks to race it.
  await pool(total, 16, async (index) => {
    if (index === total / 2) {
      unregisterSent = true
      unregistered = client.request('DELETE', `${base(leaving.receiverUid)}/devices/${leaving.deviceId}`, 'gateway')
    }
    sent++
    const receiverUid = receivers[index % receivers.length] as string
    const n = Math.floor(index / receivers.length)
    const body = storeBody(receiverUid, `${receiverUid}-${String(n).padStart(4, '0')}`, n)
    const answer = await client.request('POST', '/v1/messages', 'router', body)
    if (answer.status === 201) stored.get(receiverUid)?.set(body.msg_id as string, { seq: answer.body.seq as number, body })
    else storeOthers.push(`${answer.status} ${String(answer.body?.code ?? '')}`)
  })
  writersDone = true
  await Promise.all(gateways)
  const unregisterAnswer = await unregistered

  t.same(failures, [], 'every page and ack answered 200 (the leaving device: or 404 DEVICE_NOT_FOUND once unregistered)')
  t.same(storeOthers, [], 'every store answered 201')
  t.equal(unregisterAnswer?.status, 204, 'the unregister answered 204')
  for (const { receiverUid, deviceId, acked, deleted, rounds, shownAgain } of results) {
    const name = `${receiverUid}/${deviceId}`
    t.ok(rounds > 0 && acked.size > 0, `${name}: acked while the writers stored (${rounds} rounds, ${acked.size} messages)`)
    t.equal(deleted, acked.size, `${name}: its acks' deleted add up to exactly the messages it acked, each taken once`)
    t.same(shownAgain, [], `${name}: no page shows a message after the device's ack of it was answered`)
  }
  const ackedBy = new Map(results.map((result) => [`${result.receiverUid}/${result.deviceId}`, result.acked]))

  // The model: a stored message stays pending for each still registered device that did not ack it, and only for those.
  const remaining = (receiverUid: string) => deviceIds.filter((deviceId) => !(receiverUid === leaving.receiverUid && deviceId === leaving.deviceId))
  const expectedReaders = (receiverUid: string, msgId: string) => remaining(receiverUid)
    .filter((deviceId) => ackedBy.get(`${receiverUid}/${deviceId}`)?.has(msgId) !== true)
    .reduce((bits, deviceId) => bits | bitOf(receiverUid, deviceId), 0)

  // Every message that all its devices acknowledged is gone, a tombstone left: a retry of its store is a duplicate with its seq, and does not bring it back.
  const fullyAcked = receivers.flatMap((receiverUid) => [...(stored.get(receiverUid) ?? new Map())]
    .filter(([msgId]) => expectedReaders(receiverUid, msgId) === 0).map(([msgId, { seq, body }]) => ({ receiverUid, msgId, seq, body })))
  t.ok(fullyAcked.length > 0, `some messages were acked by all their devices (${fullyAcked.length})`)
  const leftForLaptops = receivers.flatMap((receiverUid) => [...(stored.get(receiverUid) ?? new Map()).keys()]
    .filter((msgId) => expectedReaders(receiverUid, msgId) === bitOf(receiverUid, 'laptop')))
  t.ok(leftForLaptops.length > 0, `some messages were acked by every device but the laptop (${leftForLaptops.length}): they must stay`)
  const retries = await pool(fullyAcked.length, IN_FLIGHT, async (index) => {
    const { receiverUid, msgId, seq, body } = fullyAcked[index] as typeof fullyAcked[number]
    const answer = await client.request('POST', '/v1/messages', 'router', body)
    return answer.status === 200 && answer.body.duplicate === true && answer.body.seq === seq
      ? null
      : `${receiverUid}/${msgId}: ${answer.status} ${JSON.stringify(answer.body)}`
  })
  t.same(retries.filter((problem) => problem !== null), [], 'a retry of each fully acked store answers 200 duplicate with its seq')

  for (const receiverUid of receivers) {
    const mine = stored.get(receiverUid) ?? new Map()
    t.equal(mine.size, PER_RECEIVER, `${receiverUid}: every store got its 201`)
    const rows = await db.query<{ msg_id: string, readers: number }>('SELECT msg_id, readers FROM messages WHERE receiver_uid = ?', [receiverUid])
    const readersOf = new Map(rows.map((row) => [row.msg_id, Number(row.readers)]))
    const tombstones = new Set((await db.query<{ msg_id: string }>('SELECT msg_id FROM tombstones WHERE receiver_uid = ?', [receiverUid])).map((row) => row.msg_id))
    const wrong: string[] = []
    for (const msgId of mine.keys()) {
      const expected = expectedReaders(receiverUid, msgId)
      const found = readersOf.get(msgId)
      if (expected === 0 && found !== undefined) wrong.push(`${msgId}: acked by every device, still stored with readers ${found}`)
      if (expected === 0 && !tombstones.has(msgId)) wrong.push(`${msgId}: gone without a tombstone`)
      if (expected !== 0 && found !== expected) wrong.push(`${msgId}: readers ${String(found)} (gone: ${String(tombstones.has(msgId))}), expected ${expected}`)
    }
    t.same(wrong, [], `${receiverUid}: each stored row has exactly the readers of the devices that did not ack it; the others are tombstones`)
    t.same(rows.filter((row) => !mine.has(row.msg_id)).map((row) => row.msg_id), [], `${receiverUid}: no row the test did not store`)

    const [receiverRow] = await db.query<{ pending_count: number, devices: number }>('SELECT pending_count, devices FROM receivers WHERE receiver_uid = ?', [receiverUid])
    t.equal(Number(receiverRow?.pending_count), rows.length, `${receiverUid}: receivers.pending_count equals the count of its rows (${rows.length})`)
    const registeredBits = remaining(receiverUid).reduce((bits, deviceId) => bits | bitOf(receiverUid, deviceId), 0)
    t.equal(Number(receiverRow?.devices), registeredBits, `${receiverUid}: receivers.devices holds the bits of the registered devices`)
    t.same(rows.filter((row) => (Number(row.readers) & ~registeredBits) !== 0).map((row) => row.msg_id), [], `${receiverUid}: no row keeps the bit of a device that is not registered`)

    const listed = await client.request('GET', `${base(receiverUid)}/devices`, 'gateway')
    t.equal(listed.status, 200, `${receiverUid}: GET devices answered 200`)
    const listedDevices = (listed.body.devices ?? []) as Array<{ device_id: string, pending_count: number }>
    t.same(listedDevices.map((device) => device.device_id).sort(), remaining(receiverUid).sort(), `${receiverUid}: GET devices lists the registered devices`)
    for (const deviceId of remaining(receiverUid)) {
      const name = `${receiverUid}/${deviceId}`
      const [counted] = await db.query<{ n: number }>('SELECT CAST(count(*) AS integer) AS n FROM messages WHERE receiver_uid = ? AND (readers & ?) <> 0',
        [receiverUid, bitOf(receiverUid, deviceId)])
      const rowCount = Number(counted?.n)
      const pending = await fetchAllPending(client, receiverUid, deviceId)
      const pendingIds = new Set(pending.map((message) => message.msg_id))
      const acked = ackedBy.get(name) ?? new Set()
      t.same(sorted([...mine.keys()].filter((msgId) => !acked.has(msgId) && !pendingIds.has(msgId))), [], `${name}: no message it did not ack is missing from its pages`)
      t.same(sorted([...pendingIds].filter((msgId) => acked.has(msgId))), [], `${name}: no message it acked is on its pages`)
      t.equal(pending.length, rowCount, `${name}: its pages hold the count of rows with its bit (${rowCount})`)
      const summary = await readSummary(client, receiverUid, deviceId)
      t.equal(summary.totalPending, rowCount, `${name}: the summary's total_pending equals the count of rows with its bit`)
      t.equal(summary.pendingCount, rowCount, `${name}: the summary rows add up to the count of rows with its bit`)
      t.equal(listedDevices.find((device) => device.device_id === deviceId)?.pending_count, rowCount, `${name}: GET devices' pending_count equals the count of rows with its bit`)
    }
  }
  const gone = await client.request('GET', `${base(leaving.receiverUid)}/senders?device_id=${leaving.deviceId}`, 'gateway')
  t.equal(gone.status, 404, 'the unregistered device\'s summary answers 404')
  checkSpread(t, client)
  t.same(client.serverErrors, [], 'no 5xx answers')
})
