// The benchmark's fast fill (bench/fill.ts, `--fill copy`) against the HTTP preload it stands in for: the same
// receivers, summary rows and messages, row for row, on the store under test.
import knex from 'knex'
import t, { type Test } from 'tap'
import { preloadedMessage, MESSAGES_PER_RECEIVER } from '../../bench/data.js'
import { copyReceiver } from '../../bench/fill.js'
import { buildTestApp } from '../helpers/app.js'
import { citusWorkers } from '../helpers/citus.js'
import { createTestDatabase, PG_ADMIN_URL, TEST_STORE } from '../helpers/database.js'

const RECEIVERS = 5

/** The batch path as bench/services.ts's preload sends it: round-robin over the receivers, 500 messages a request. */
async function preloadThroughHttp (t: Test, databaseUrl: string, receivers: number): Promise<void> {
  await t.test(`preload ${receivers} receiver(s) through the batch endpoint`, async (tt) => {
    const { call } = await buildTestApp(tt, { DATABASE_URL: databaseUrl })
    const total = receivers * MESSAGES_PER_RECEIVER
    for (let first = 0; first < total; first += 500) {
      const messages = []
      for (let n = first; n < Math.min(total, first + 500); n++) messages.push(preloadedMessage('load', receivers, n))
      const response = await call({ method: 'POST', url: '/v1/messages/batch', payload: { messages } })
      tt.equal(response.statusCode, 200, response.body)
    }
  })
}

/** Every row of every table that has a receiver_uid column, in a stable order, as JSON-comparable values. */
async function receiverRows (databaseUrl: string): Promise<Record<string, unknown[]>> {
  const postgres = databaseUrl.startsWith('postgres')
  const db = knex(postgres
    ? { client: 'pg', connection: databaseUrl }
    : { client: 'better-sqlite3', connection: { filename: databaseUrl.replace(/^sqlite:/, '') }, useNullAsDefault: true })
  try {
    const tables = postgres
      ? (await db.raw("SELECT DISTINCT table_name AS t FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'receiver_uid'")).rows as Array<{ t: string }>
      : await db.raw("SELECT m.name AS t FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'receiver_uid'") as Array<{ t: string }>
    const all: Record<string, unknown[]> = {}
    for (const { t: table } of tables) {
      const rows = await db(table).select('*') as Array<Record<string, unknown>>
      all[table] = rows.map((row) => JSON.stringify(row, (_, value: unknown) => typeof value === 'bigint' ? String(value) : value)).sort()
    }
    return all
  } finally {
    await db.destroy()
  }
}

t.test('--fill copy writes what the batch path writes', async (t) => {
  if (TEST_STORE === 'postgres' && await citusWorkers(PG_ADMIN_URL) !== null) {
    t.pass('the fast fill is for plain PostgreSQL and SQLite: this server is a Citus coordinator')
    return
  }
  const viaHttp = await createTestDatabase(t, { file: true, migrated: true })
  const viaCopy = await createTestDatabase(t, { file: true, migrated: true })
  await preloadThroughHttp(t, viaHttp, RECEIVERS)
  await preloadThroughHttp(t, viaCopy, 1)
  await copyReceiver(viaCopy, 'load', RECEIVERS)

  const expected = await receiverRows(viaHttp)
  const copied = await receiverRows(viaCopy)
  t.equal(expected.messages?.length, RECEIVERS * MESSAGES_PER_RECEIVER, 'the batch path stored every message')
  t.equal(expected.receivers?.length, RECEIVERS)
  t.same(Object.keys(copied).sort(), Object.keys(expected).sort(), 'the same tables')
  for (const table of Object.keys(expected)) t.same(copied[table], expected[table], `${table}: the same rows`)
})
