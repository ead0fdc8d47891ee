// The client's events() against the real service (EVENTS=on): pages across the feed, a long-poll woken by a new event,
// resuming from a saved cursor, missed after retention, the pause a 503's Retry-After asks for, and the signal that stops it.
import t from 'tap'
import {
  createOfflineMessagesClient, events, OfflineMessagesError, type EventPage, type EventsOptions, type OfflineMessagesClient
} from '../../client/src/index.js'
import { KEYS } from '../helpers/app.js'
import { recordingClient, secret, storeMessages } from '../helpers/client.js'
import { sleep, until } from '../helpers/wait.js'
import { createTestDatabase, horizonPassed } from '../helpers/database.js'
import { startService } from '../helpers/process.js'

// Five tests, each starting the service (the last one twice): more than tap's default 30 s per file when the machine is busy.
t.setTimeout(300_000)

interface Tap { teardown (fn: () => unknown): void }

/** A client with the events scope that records each feed request it sends (URL and time); `answer` may stand in for the service. */
const recordingConsumer = (baseUrl: string, answer?: (request: Request) => Response | undefined) => recordingClient(baseUrl, KEYS.admin, answer)

/**
 * Iterates events() in the background into `pages`, with its own AbortController; `done` resolves when the iteration
 * ends (or rejects with what it threw). The test's teardown stops it, so that no loop outlives its test.
 */
function startFeed (t: Tap, client: OfflineMessagesClient, options: EventsOptions = {}) {
  const controller = new AbortController()
  const pages: Array<EventPage & { at: number }> = []
  const done = (async () => {
    for await (const page of events(client, { retryDelayMs: 50, maxRetryDelayMs: 200, ...options, signal: controller.signal })) {
      pages.push({ ...page, at: Date.now() })
    }
  })()
  t.teardown(async () => {
    controller.abort()
    await done.catch(() => {})
  })
  return { controller, pages, done }
}

/** The requests the service holds right now (long-polls), from its /metrics. */
async function waiters (baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text()
  return Number(/^offline_messages_waiters (\d+)$/m.exec(text)?.[1] ?? NaN)
}

const msgIds = (pages: EventPage[]) => pages.flatMap((page) => page.events.map((event) => event.msg_id))

async function startWithEvents (t: Parameters<typeof startService>[0], env: Record<string, string> = {}) {
  const databaseUrl = await createTestDatabase(t, { file: true })
  const service = await startService(t, { DATABASE_URL: databaseUrl, EVENTS: 'on', ...env })
  return {
    url: service.url,
    /**
     * storeMessages, then, on PostgreSQL, until the feed serves their events: it serves only below the cluster's
     * horizon, which another test file's transaction can hold back (horizonPassed).
     */
    store: async (receiverUid: string, senders: string[], perSender: number, first?: number) => {
      const ids = await storeMessages(service.url, receiverUid, senders, perSender, first)
      await horizonPassed(databaseUrl)
      return ids
    }
  }
}

t.test('events follows next_cursor across pages, oldest first, then waits in a long-poll and yields a new event as soon as it commits', async (t) => {
  const service = await startWithEvents(t)
  const stored = await service.store('carol', ['alice', 'dave'], 3)
  const { client, requests } = recordingConsumer(service.url)

  const { pages } = startFeed(t, client, { limit: 4 })
  await until(async () => msgIds(pages).length === 6 && await waiters(service.url) === 1, 'the six events are yielded and a long-poll is held')
  t.same(pages.map((page) => page.events.length), [4, 2], 'pages of 4 and 2')
  t.same(msgIds(pages), stored, 'every message.stored event once, in commit order')
  t.ok(pages.every((page) => page.events.every((event) => event.type === 'message.stored')), 'as the service typed them')
  t.same(pages.map((page) => page.missed), [false, false], 'nothing missed')
  t.equal(requests[0]?.url.searchParams.get('cursor'), null, 'the first request starts at the oldest event kept')
  t.equal(requests[1]?.url.searchParams.get('cursor'), pages[0]?.next_cursor, 'the second follows the first page\'s next_cursor')
  const held = requests.at(-1)?.url.searchParams
  t.equal(held?.get('wait_seconds'), '30', 'caught up, it asks the service to hold the request (default 30 s)')
  t.equal(held?.get('cursor'), pages[1]?.next_cursor, 'from the last page\'s next_cursor')
  const requestsWhenIdle = requests.length
  await sleep(500)
  t.equal(requests.length, requestsWhenIdle, 'while nothing happens it waits on one held request and does not poll')

  await service.store('carol', ['erin'], 1)
  // From when the feed can serve it (at once unless another test file's transaction holds the horizon back).
  const storedAt = Date.now()
  await until(() => pages.length === 3, 'the new event is yielded', 5000)
  t.same(msgIds(pages.slice(2)), ['erin-0'])
  const latency = (pages[2]?.at ?? Infinity) - storedAt
  t.ok(latency < 1000, `yielded ${latency} ms after the store was in the feed, not at the end of the 30 s wait`)
  t.equal(pages.filter((page) => page.events.length === 0).length, 0, 'no empty page is yielded')
})

t.test('a consumer that saved next_cursor resumes there: nothing repeated, nothing lost, including what happened while it was away', async (t) => {
  const service = await startWithEvents(t)
  await service.store('carol', ['alice'], 3)
  const { client } = recordingConsumer(service.url)

  let saved: string | undefined
  const first: string[] = []
  for await (const page of events(client, { limit: 2 })) {
    first.push(...page.events.map((event) => event.msg_id ?? ''))
    saved = page.next_cursor
    break
  }
  t.same(first, ['alice-0', 'alice-1'], 'one page of two, then the consumer stops (break ends the iteration)')

  // While it is away: alice-0 is acked (message.delivered), dave writes.
  const gateway = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.gateway) })
  await gateway.POST('/v1/receivers/{receiver_uid}/acks', { params: { path: { receiver_uid: 'carol' } }, body: { msg_ids: ['alice-0'] } })
  await service.store('carol', ['dave'], 1)

  const { pages } = startFeed(t, client, { cursor: saved })
  await until(async () => msgIds(pages).length === 3 && await waiters(service.url) === 1, 'the rest is yielded and a long-poll is held')
  const seen = pages.flatMap((page) => page.events.map((event) => `${event.type} ${event.msg_id ?? ''}`))
  t.same(seen, ['message.stored alice-2', 'message.delivered alice-0', 'message.stored dave-0'],
    'from the saved cursor on: the third store, then what happened while it was away, in commit order')
})

t.test('the signal stops events at once, without an error: while a long-poll is held, and before the first request', async (t) => {
  const service = await startWithEvents(t)
  const { client, requests } = recordingConsumer(service.url)

  const idle = startFeed(t, client)
  await until(async () => await waiters(service.url) === 1, 'a long-poll is held')
  const started = Date.now()
  idle.controller.abort()
  await idle.done
  t.ok(Date.now() - started < 200, `the loop ended at once (${Date.now() - started} ms), not when the 30 s wait ends`)
  t.same(idle.pages, [], 'nothing was yielded')
  await until(async () => await waiters(service.url) === 0, 'the service no longer holds the request', 2000)

  const before = requests.length
  const yielded: EventPage[] = []
  for await (const page of events(client, { signal: AbortSignal.abort() })) yielded.push(page)
  t.same(yielded, [], 'an aborted signal yields nothing')
  t.equal(requests.length, before, 'and sends no request')
})

t.test('a cursor from before events that retention deleted yields a page with missed: true, from the oldest event kept', async (t) => {
  const service = await startWithEvents(t, { EVENT_RETENTION_SECONDS: '1', SWEEP_INTERVAL_SECONDS: '1' })
  const { client } = recordingConsumer(service.url)
  await service.store('carol', ['alice'], 1)
  let saved: string | undefined
  for await (const page of events(client)) {
    saved = page.next_cursor
    t.equal(page.missed, false, 'a first page misses nothing')
    break
  }
  await service.store('carol', ['alice'], 1, 1)
  // The sweep runs every second and deletes events older than one second: alice-1's event goes before it is read.
  await until(async () => {
    const { data } = await client.GET('/v1/events')
    return data !== undefined && data.events.length === 0
  }, 'the sweep has deleted both events')
  await service.store('carol', ['dave'], 1)

  const { pages } = startFeed(t, client, { cursor: saved })
  await until(() => pages.length >= 1, 'a page is yielded')
  t.equal(pages[0]?.missed, true, 'missed: alice-1\'s event was deleted before this consumer read it')
  t.notOk(msgIds(pages).includes('alice-1'), 'and it is not there')
  t.ok(msgIds(pages).every((id) => id === 'dave-0'), 'the page starts at the oldest event kept')
})

t.test('a 503 with Retry-After is asked again no sooner than it says, from the same cursor; 404 EVENTS_OFF and 403 are thrown', async (t) => {
  const service = await startWithEvents(t)
  await service.store('carol', ['alice'], 2)
  const answers = [
    Response.json({ statusCode: 503, code: 'TOO_MANY_WAITERS', error: 'Service Unavailable', message: 'too many held requests' }, { status: 503, headers: { 'retry-after': '1' } }),
    Response.json({ statusCode: 502, code: 'BAD_GATEWAY', error: 'Bad Gateway', message: 'upstream' }, { status: 502 })
  ]
  const { client, requests } = recordingConsumer(service.url, () => answers.shift())
  const retries: Array<{ status: number, retryAfterMs: number | undefined, delayMs: number }> = []
  const { pages } = startFeed(t, client, {
    onRetry: (error, delayMs) => { retries.push({ status: (error as OfflineMessagesError).status, retryAfterMs: (error as OfflineMessagesError).retryAfterMs, delayMs }) }
  })
  await until(() => pages.length === 1, 'the events are yielded once the service answers')
  t.same(msgIds(pages), ['alice-0', 'alice-1'])
  t.same(retries, [{ status: 503, retryAfterMs: 1000, delayMs: 1000 }, { status: 502, retryAfterMs: undefined, delayMs: 100 }],
    'the pause after the 503 is its Retry-After (1 s), not the 50 ms backoff; the 502 after it gets the doubled backoff')
  const [unavailable, badGateway, answered] = requests
  const gap = (badGateway?.at ?? 0) - (unavailable?.at ?? 0)
  t.ok(gap >= 990, `the request after the 503 came ${gap} ms later`)
  t.same([unavailable, badGateway, answered].map((request) => request?.url.searchParams.get('cursor')), [null, null, null], 'each retry asks for the same page')

  const off = await startService(t, { DATABASE_URL: await createTestDatabase(t, { file: true }) })
  const offClient = createOfflineMessagesClient({ baseUrl: off.url, apiKey: secret(KEYS.admin) })
  await t.rejects(async () => { for await (const page of events(offClient)) t.fail(`nothing to yield: ${page.next_cursor}`) },
    { name: 'OfflineMessagesError', status: 404, body: { code: 'EVENTS_OFF' } }, 'without EVENTS=on: thrown at once, not retried')
  const gateway = createOfflineMessagesClient({ baseUrl: service.url, apiKey: secret(KEYS.gateway) })
  await t.rejects(async () => { for await (const page of events(gateway)) t.fail(`nothing to yield: ${page.next_cursor}`) },
    { name: 'OfflineMessagesError', status: 403 }, 'a key without the events scope: thrown')
})
