// The event feed's order is commit order across instances: on PostgreSQL a transaction that took its place early and
// commits late is still served, once, to a consumer that follows next_cursor; a plain sequence would skip it.
import t from 'tap'
import pg from 'pg'
import { API_KEYS, bearer, buildTestApp, newMessage, type TestApp } from '../helpers/app.js'
import { TEST_STORE, createTestDatabase, horizonPassed } from '../helpers/database.js'

const FEED_KEY = 'feed:feed-secret-1:events'
const FEED = bearer(FEED_KEY)
const INSTANCES = 3
const STORES = 30

interface Page { events: Array<{ id: string, type: string, msg_id: string }>, next_cursor: string, has_more: boolean }

async function page (app: TestApp, query: string): Promise<Page> {
  const answer = await app.call({ method: 'GET', url: `/v1/events?${query}`, headers: FEED })
  if (answer.statusCode !== 200) throw new Error(`the feed answered ${answer.statusCode}: ${answer.body}`)
  return answer.json<Page>()
}

/** A consumer of the feed: each call reads what is there now, following next_cursor. */
/** Runs the calls of `work` one after the other, however many are made at once. */
function oneAtATime (work: () => Promise<void>): () => Promise<void> {
  let queue = Promise.resolve()
  return () => (queue = queue.then(work))
}

function feedConsumer (app: TestApp) {
  const seen: string[] = []
  let cursor: string | undefined
  return {
    seen,
    poll: oneAtATime(async () => {
      for (;;) {
        const found = await page(app, `limit=7${cursor === undefined ? '' : `&cursor=${cursor}`}`)
        seen.push(...found.events.map((event) => event.msg_id))
        cursor = found.next_cursor
        if (!found.has_more) return
      }
    })
  }
}

/** The same consumer on a plain sequence: what the feed would be if its cursor were a serial column, values taken at insert. */
function sequenceConsumer (client: pg.Client) {
  const seen: string[] = []
  let last = '0'
  return {
    seen,
    poll: oneAtATime(async () => {
      const { rows } = await client.query<{ plain_seq: string, msg_id: string }>('SELECT plain_seq::text AS plain_seq, msg_id FROM events WHERE plain_seq > $1::bigint ORDER BY events.plain_seq', [last])
      for (const row of rows) {
        seen.push(row.msg_id)
        last = row.plain_seq
      }
    })
  }
}

t.test('a consumer following next_cursor sees every event exactly once while a transaction that began first commits last', { skip: TEST_STORE !== 'postgres' && 'SQLite commits one writer at a time: a transaction held open holds every other writer back' }, async (t) => {
  const databaseUrl = await createTestDatabase(t, { migrated: true })
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  t.teardown(() => admin.end())
  const apps: TestApp[] = []
  for (let i = 0; i < INSTANCES; i++) apps.push(await buildTestApp(t, { DATABASE_URL: databaseUrl, EVENTS: 'on', API_KEYS: `${API_KEYS},${FEED_KEY}` }))
  // Only for this test: a plain sequence beside the feed's own position, to show what it would do.
  await admin.query('ALTER TABLE events ADD COLUMN plain_seq bigserial')
  const [first] = apps as [TestApp]
  const feed = feedConsumer(first)
  const sequence = sequenceConsumer(admin)

  // The held transaction: it inserts an event the way the store does (its xid by the column's default, position 1)
  // and takes its place, in xid and in the sequence, before any of the stores below.
  const held = new pg.Client({ connectionString: databaseUrl })
  await held.connect()
  t.teardown(() => held.end())
  await held.query('BEGIN')
  await held.query("INSERT INTO events (pos, type, occurred_at, recorded_at, receiver_uid, sender_uid, msg_id, seq, pending_count, msg_type, content_preview, devices) " +
    "VALUES (1, 'message.stored', 0, 0, 'late', 'alice', 'late-1', 1, 1, 1, 'hello', '[]')")

  // A request held on one instance while the stores go through the others.
  const waiting = page(first, `wait_seconds=10&cursor=${(await page(first, '')).next_cursor}`)
  let stored = 0
  await Promise.all(Array.from({ length: STORES }, async (_, i) => {
    const app = apps[i % INSTANCES] as TestApp
    const answer = await app.call({ method: 'POST', url: '/v1/messages', payload: newMessage({ receiver_uid: `r-${i % 4}`, msg_id: `s-${i}` }) })
    if (answer.statusCode === 201) stored++
    await feed.poll()
    await sequence.poll()
  }))
  t.equal(stored, STORES, 'every store committed')
  await feed.poll()
  await sequence.poll()
  t.strictSame(feed.seen, [], 'the feed serves nothing above the open transaction: it may still commit below')
  t.equal(sequence.seen.length, STORES, 'the sequence serves the stores that committed after it')

  const committedAt = Date.now()
  await held.query('COMMIT')
  const woken = await waiting
  t.ok(woken.events.length > 0, 'the held request answers once the older transaction has committed')
  t.ok(Date.now() - committedAt < 2000, 'soon after that commit, not when its time is up')

  // Other test files' transactions on this cluster may hold the horizon a moment longer: wait it out, then read.
  await horizonPassed(databaseUrl)
  await feed.poll()
  await sequence.poll()
  const expected = ['late-1', ...Array.from({ length: STORES }, (_, i) => `s-${i}`)].sort()
  t.strictSame([...feed.seen].sort(), expected, 'the feed: every event exactly once, the late one included')
  t.equal(feed.seen[0], 'late-1', 'the late one first: its transaction began first')
  t.notOk(sequence.seen.includes('late-1'), 'a plain sequence cursor skipped the event whose transaction committed late')
})

t.test('a held request is woken by an event committed through another instance', { skip: TEST_STORE !== 'postgres' && 'one process owns an SQLite database' }, async (t) => {
  const databaseUrl = await createTestDatabase(t, { migrated: true })
  const env = { DATABASE_URL: databaseUrl, EVENTS: 'on', API_KEYS: `${API_KEYS},${FEED_KEY}` }
  const one = await buildTestApp(t, env)
  const other = await buildTestApp(t, env)
  // The listener of the first instance connects in the background: give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 300))
  const started = Date.now()
  const waiting = page(one, `wait_seconds=10&cursor=${(await page(one, '')).next_cursor}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal((await other.call({ method: 'POST', url: '/v1/messages', payload: newMessage({ receiver_uid: 'bob', msg_id: 'x-1' }) })).statusCode, 201)
  const found = await waiting
  t.strictSame(found.events.map((event) => event.msg_id), ['x-1'])
  t.ok(Date.now() - started < 3000, 'woken by the other instance\'s commit, not by the end of the wait')

  // An ack stores nothing: its announcement waits for another to go with, or goes alone DEFERRED_ANNOUNCEMENT_MS later.
  const ackStarted = Date.now()
  const waitingAgain = page(one, `wait_seconds=10&cursor=${found.next_cursor}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal((await other.call({ method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['x-1'] } })).statusCode, 200)
  const delivered = await waitingAgain
  t.strictSame(delivered.events.map((event) => [event.type, event.msg_id]), [['message.delivered', 'x-1']])
  t.ok(Date.now() - ackStarted < 3000, 'woken by the other instance\'s ack, not by the end of the wait')
})
