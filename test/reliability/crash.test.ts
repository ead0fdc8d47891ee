// Crash durability: SIGKILL the real service under concurrent stores, restart it on the same database, and find every acknowledged message intact.
import t from 'tap'
import { AUTH } from '../helpers/app.js'
import { createTestDatabase, TEST_STORE } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

const LOOPS = 30
const RECEIVERS = ['crash-r0', 'crash-r1', 'crash-r2', 'crash-r3', 'crash-r4', 'crash-r5']
const SENDERS = ['crash-s0', 'crash-s1', 'crash-s2']
const MAX_REQUESTS = 5000
const KILL_AFTER_MS = 1500 // and at least MIN_ACKED acknowledged, up to KILL_BY_MS on a busy machine
const MIN_ACKED = 100
const KILL_BY_MS = 5000
const REQUEST_TIMEOUT_MS = 10_000 // a hang detector, not a speed target

interface Sent { receiver: string, sender: string, content: string }

const contentOf = (msgId: string) => `payload of ${msgId}: héllo ✓ 𝄞`

t.test(`every store acknowledged before a SIGKILL under load survives a restart (${TEST_STORE})`, async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  const service = await startService(t, { DATABASE_URL: databaseUrl })

  const sent = new Map<string, Sent>()
  const acked = new Set<string>()
  const unexpected: string[] = []
  let issued = 0
  let connectionErrors = 0
  let killed = false
  let inFlight = 0
  let inFlightAtKill = 0
  let killedAt = 0

  const kill = () => {
    if (killed) return
    killed = true
    killedAt = Date.now()
    inFlightAtKill = inFlight
    service.signal('SIGKILL')
  }

  const loop = async (index: number) => {
    for (let i = 0; !killed && issued < MAX_REQUESTS; i++) {
      issued++
      const msgId = `crash-${index}-${i}`
      const message: Sent = { receiver: RECEIVERS[index % RECEIVERS.length] ?? 'crash-r0', sender: SENDERS[i % SENDERS.length] ?? 'crash-s0', content: contentOf(msgId) }
      sent.set(msgId, message)
      // The kill lands while every loop has a request in flight: the last request of the budget triggers it.
      if (issued >= MAX_REQUESTS - LOOPS) setImmediate(kill)
      inFlight++
      try {
        const response = await fetch(`${service.url}/v1/messages`, {
          method: 'POST',
          headers: { ...AUTH.router, 'content-type': 'application/json' },
          body: JSON.stringify({ receiver_uid: message.receiver, sender_uid: message.sender, msg_id: msgId, msg_type: 1, content: message.content }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
        })
        inFlight--
        // The status line is the acknowledgement: the service sends it only after the commit.
        if (response.status === 201 || response.status === 200) acked.add(msgId)
        else unexpected.push(`${msgId}: ${response.status}`)
        // Killing as an answer arrives, rather than from a timer, catches the service mid-work on the others.
        if ((Date.now() >= killAt && acked.size >= MIN_ACKED) || Date.now() >= killBy) kill()
        await response.arrayBuffer().catch(() => undefined)
      } catch (error) {
        inFlight--
        if ((error as Error).name === 'TimeoutError') unexpected.push(`${msgId}: no answer within ${REQUEST_TIMEOUT_MS} ms`)
        else connectionErrors++
        if (killed) return
      }
    }
  }

  const started = Date.now()
  const killAt = started + KILL_AFTER_MS
  const killBy = started + KILL_BY_MS
  // Only a fallback should no answer ever arrive.
  const timer = setTimeout(kill, KILL_BY_MS + REQUEST_TIMEOUT_MS)
  await Promise.all(Array.from({ length: LOOPS }, (_, index) => loop(index)))
  clearTimeout(timer)
  kill()
  const exit = await service.exited
  t.equal(exit, 'SIGKILL', 'the service died of the SIGKILL')
  // Anything else means something other than this test stopped it: its own log says what.
  if (exit !== 'SIGKILL') t.comment(service.output().split('\n').filter((line) => /closing|error|signal/i.test(line)).slice(-5).join('\n'))
  t.same(unexpected, [], 'before the kill every store answered 201 (no error, no hang)')
  t.ok(inFlightAtKill > 0, `the kill landed under load (${inFlightAtKill} requests in flight, ${connectionErrors} of them cut off)`)
  t.ok(acked.size > 0, `the load acknowledged stores before the kill (${acked.size} in ${killedAt - started} ms)`)

  const restarted = await startService(t, { DATABASE_URL: databaseUrl })
  const found = new Map<string, { receiver: string, sender: string, content: string }>()
  for (const receiver of RECEIVERS) {
    let cursor: string | null = null
    for (let pages = 0; pages < 100; pages++) {
      const query: string = cursor === null ? '?limit=1000' : `?limit=1000&cursor=${encodeURIComponent(cursor)}`
      const response = await fetch(`${restarted.url}/v1/receivers/${receiver}/messages${query}`, {
        headers: AUTH.gateway, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
      })
      t.equal(response.status, 200, `page ${pages + 1} of ${receiver} answers 200`)
      const page = await response.json() as {
        messages: Array<{ msg_id: string, receiver_uid: string, sender_uid: string, content: string }>
        next_cursor: string | null
        has_more: boolean
      }
      for (const message of page.messages) {
        found.set(message.msg_id, { receiver: message.receiver_uid, sender: message.sender_uid, content: message.content })
      }
      if (!page.has_more) break
      cursor = page.next_cursor
    }
  }

  const lost: string[] = []
  const damaged: string[] = []
  for (const msgId of acked) {
    const stored = found.get(msgId)
    if (stored === undefined) lost.push(msgId)
    else if (JSON.stringify(stored) !== JSON.stringify(sent.get(msgId))) damaged.push(msgId)
  }
  const strangers = [...found.keys()].filter((msgId) => !sent.has(msgId))
  t.same(lost, [], 'no acknowledged message is lost')
  t.same(damaged, [], 'every acknowledged message comes back with its receiver, sender and content')
  t.same(strangers, [], 'nothing comes back that was never sent')
  const committedUnacked = [...found.keys()].filter((msgId) => !acked.has(msgId)).length
  t.comment(`${TEST_STORE}: acked ${acked.size}, lost ${lost.length} (issued ${issued}; ${committedUnacked} unanswered stores committed anyway; ${inFlightAtKill} in flight at the kill, ${connectionErrors} cut off)`)
  t.equal(await restarted.stop(), 0, 'the restarted service closes cleanly')
})
