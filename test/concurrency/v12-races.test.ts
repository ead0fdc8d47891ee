// Contract v1.2 under races through several real instances on one database (three on PostgreSQL), checked against the
// database itself: recall against the devices' acks, stores of one collapse key, an erasure against stores.
import t from 'tap'
import { createClient, INSTANCES, openDatabase, pool, startCluster, storeBody } from './load.js'

t.setTimeout(180_000)
const cluster = await startCluster(t)
const db = await openDatabase(t, cluster.databaseUrl)
const count = async (text: string, params: unknown[]): Promise<number> => Number(Object.values((await db.query(text, params))[0] ?? { n: 0 })[0] ?? 0)

t.test('a recall racing the devices\' acks answers what it deleted: no device both in delivered_to and still holding the message', async (t) => {
  const client = createClient(cluster.urls)
  const receiver = 'race-recall'
  const devices = ['phone', 'laptop', 'tablet']
  for (const device of devices) t.equal((await client.request('PUT', `/v1/receivers/${receiver}/devices/${device}`, 'gateway')).status, 201)
  const ids = Array.from({ length: 60 }, (_, i) => `rr-${i}`)
  for (const [i, msgId] of ids.entries()) t.equal((await client.request('POST', '/v1/messages', 'router', storeBody(receiver, msgId, i, 1))).status, 201)
  const acked = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]))
  const answers = new Map<string, { state: string, recalled_from: string[], delivered_to: string[] }>()
  // For each message, its three acks and its recall at once, each through another instance.
  await pool(ids.length * 4, 24, async (index) => {
    const msgId = ids[Math.floor(index / 4)] as string
    const which = index % 4
    if (which === 3) {
      const answer = await client.request('POST', `/v1/receivers/${receiver}/messages/${msgId}/recall`, 'router', { sender_uid: 'sender-0' })
      if (answer.status !== 200) throw new Error(`recall answered ${answer.status}: ${JSON.stringify(answer.body)}`)
      answers.set(msgId, answer.body)
      return
    }
    const device = devices[which] as string
    const answer = await client.request('POST', `/v1/receivers/${receiver}/acks`, 'gateway', { device_id: device, msg_ids: [msgId] })
    if (answer.status !== 200) throw new Error(`ack answered ${answer.status}`)
    if (answer.body.deleted === 1) acked.get(msgId)?.add(device)
  })
  t.strictSame(client.serverErrors, [], 'no server errors')
  const mismatches: string[] = []
  const states = new Map<string, number>()
  for (const msgId of ids) {
    const answer = answers.get(msgId)
    if (answer === undefined) throw new Error(`no recall answer for ${msgId}`)
    states.set(answer.state, (states.get(answer.state) ?? 0) + 1)
    const delivered = [...acked.get(msgId) ?? []].sort()
    if (JSON.stringify([...answer.delivered_to].sort()) !== JSON.stringify(delivered)) mismatches.push(`${msgId}: delivered_to ${JSON.stringify(answer.delivered_to)}, acks that deleted ${JSON.stringify(delivered)}`)
    const holding = devices.filter((device) => !delivered.includes(device)).sort()
    if (JSON.stringify([...answer.recalled_from].sort()) !== JSON.stringify(holding)) mismatches.push(`${msgId}: recalled_from ${JSON.stringify(answer.recalled_from)}, still holding ${JSON.stringify(holding)}`)
    const tombstones = await db.query<{ recall: string | null }>('SELECT recall FROM tombstones WHERE receiver_uid = ? AND msg_id = ?', [receiver, msgId])
    const kept = tombstones[0]?.recall ?? null
    const expected = answer.state === 'delivered' ? null : JSON.stringify({ state: answer.state, recalled_from: answer.recalled_from, delivered_to: answer.delivered_to })
    if (tombstones.length !== 1 || kept !== expected) mismatches.push(`${msgId}: tombstone ${JSON.stringify(tombstones)}, expected recall ${String(expected)}`)
  }
  t.strictSame(mismatches, [], 'each answer matches the acks that deleted and the tombstone in the database')
  t.comment(`states: ${JSON.stringify(Object.fromEntries(states))}`)
  t.equal(await count('SELECT count(*) AS n FROM messages WHERE receiver_uid = ?', [receiver]), 0, 'no message is left: each one was acked by all or recalled')
  t.equal(await count('SELECT coalesce(sum(pending_count), 0) AS n FROM conversations WHERE receiver_uid = ?', [receiver]), 0, 'no summary row counts one')
  t.equal(await count('SELECT pending_count AS n FROM receivers WHERE receiver_uid = ?', [receiver]), 0, 'the quota counts none')
})

t.test('stores of the same collapse keys racing through every instance leave exactly one pending message per key, the newest', async (t) => {
  const client = createClient(cluster.urls)
  const receiver = 'race-collapse'
  const keys = ['typing', 'receipt', 'call', 'presence']
  const stored: Array<{ key: string, msgId: string, seq: number }> = []
  await pool(400, 40, async (index) => {
    const key = keys[index % keys.length] as string
    const msgId = `c-${index}`
    const answer = await client.request('POST', '/v1/messages', 'router', { ...storeBody(receiver, msgId, index, 1), collapse_key: key })
    if (answer.status !== 201) throw new Error(`store answered ${answer.status}: ${JSON.stringify(answer.body)}`)
    stored.push({ key, msgId, seq: answer.body.seq })
  })
  t.strictSame(client.serverErrors, [], 'no server errors')
  const left = await db.query<{ collapse_key: string, msg_id: string, seq: number }>(
    'SELECT collapse_key, msg_id, seq FROM messages WHERE receiver_uid = ? ORDER BY collapse_key', [receiver])
  t.strictSame(left.map((row) => row.collapse_key), [...keys].sort(), 'one pending message per key')
  for (const row of left) {
    const newest = stored.filter((item) => item.key === row.collapse_key).sort((a, b) => b.seq - a.seq)[0]
    t.equal(row.msg_id, newest?.msgId, `${row.collapse_key}: the one left is the one stored last (highest seq)`)
  }
  t.equal(await count('SELECT count(*) AS n FROM tombstones WHERE receiver_uid = ?', [receiver]), 400 - keys.length, 'every replaced one left a tombstone')
  t.equal(await count('SELECT pending_count AS n FROM receivers WHERE receiver_uid = ?', [receiver]), keys.length, 'the quota counts what is left')
  t.equal(await count('SELECT coalesce(sum(pending_count), 0) AS n FROM conversations WHERE receiver_uid = ?', [receiver]), keys.length, 'so does the summary')
  t.equal(await count('SELECT coalesce(sum(lost_count), 0) AS n FROM conversations WHERE receiver_uid = ?', [receiver]), 0, 'nothing counted as lost')
})

t.test('an erasure racing stores leaves nothing, or only what committed after it: never half a receiver', async (t) => {
  const client = createClient(cluster.urls)
  const receiver = 'race-erase'
  const answered: string[] = []
  let erased: { messages: number, tombstones: number, devices: number } | undefined
  await pool(301, 30, async (index) => {
    if (index === 150) {
      const answer = await client.request('DELETE', `/v1/receivers/${receiver}`, 'admin')
      if (answer.status !== 200) throw new Error(`erasure answered ${answer.status}: ${JSON.stringify(answer.body)}`)
      erased = answer.body
      return
    }
    const answer = await client.request('POST', '/v1/messages', 'router', storeBody(receiver, `e-${index}`, index))
    if (answer.status !== 201) throw new Error(`store answered ${answer.status}: ${JSON.stringify(answer.body)}`)
    answered.push(`e-${index}`)
  })
  t.strictSame(client.serverErrors, [], 'no server errors')
  if (erased === undefined) throw new Error('no erasure answer')
  const left = await db.query<{ msg_id: string, seq: number }>('SELECT msg_id, seq FROM messages WHERE receiver_uid = ? ORDER BY seq', [receiver])
  t.equal(erased.messages + left.length, answered.length, `every acknowledged store is either erased (${erased.messages}) or left (${left.length})`)
  t.strictSame(left.map((row) => Number(row.seq)), left.map((_, i) => i + 1), 'what is left starts from nothing: seq 1, 2, ... without a gap')
  t.ok(left.every((row) => answered.includes(row.msg_id)), 'only acknowledged stores are left')
  t.equal(await count('SELECT count(*) AS n FROM tombstones WHERE receiver_uid = ?', [receiver]), 0, 'no tombstone')
  const row = await db.query<{ last_seq: number, pending_count: number }>('SELECT last_seq, pending_count FROM receivers WHERE receiver_uid = ?', [receiver])
  if (left.length === 0) t.ok(row.length === 0 || Number(row[0]?.pending_count) === 0, 'the receiver holds nothing')
  else t.strictSame(row.map((r) => [Number(r.last_seq), Number(r.pending_count)]), [[left.length, left.length]], 'its row counts exactly what is left')
  t.equal(await count('SELECT coalesce(sum(pending_count), 0) AS n FROM conversations WHERE receiver_uid = ?', [receiver]), left.length, 'so does its summary')
  t.comment(`${INSTANCES} instance(s): ${erased.messages} erased, ${left.length} stored after the erasure`)
})
