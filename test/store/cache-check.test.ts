// PostgreSQL's shared_buffers against the service's tables: a warning at start when the tables have outgrown it, none
// while they fit, one line when they fit again, nothing repeated (src/store/postgres/cache-check.ts).
import pg from 'pg'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { createCacheCheck } from '../../src/store/postgres/cache-check.js'
import { API_KEYS, AUTH, newMessage } from '../helpers/app.js'
import { createPostgresDatabase, TEST_STORE } from '../helpers/database.js'

const OUTGROWN = /^PostgreSQL's shared_buffers \(\S+\) is smaller than the messages, conversations and receivers tables with their indexes \([\d,]+ MB\): .*docs\/postgresql-and-citus\.md#memory-for-a-large-backlog\)$/

t.test('the check logs when the tables outgrow shared_buffers and when they fit again, once each', async (t) => {
  const lines: Array<[string, string]> = []
  const rows: Array<Record<string, unknown> | Error> = [
    { shared_buffers: '128MB', shared_buffers_bytes: '134217728', tables_bytes: '1048576' },
    { shared_buffers: '128MB', shared_buffers_bytes: '134217728', tables_bytes: '3543348019' },
    { shared_buffers: '128MB', shared_buffers_bytes: '134217728', tables_bytes: '3600000000' },
    new Error('connection refused'),
    { shared_buffers: '6GB', shared_buffers_bytes: '6442450944', tables_bytes: '3600000000' },
    { shared_buffers: '6GB', shared_buffers_bytes: '6442450944', tables_bytes: '3700000000' }
  ]
  const check = createCacheCheck(async () => {
    const row = rows.shift()
    if (row instanceof Error || row === undefined) throw row ?? new Error('no more rows')
    return row
  }, (level, message) => { lines.push([level, message]) })
  t.teardown(check.close)
  await check.check()
  t.strictSame(lines, [], 'nothing while they fit')
  await check.check()
  t.equal(lines.length, 1)
  t.equal(lines[0]?.[0], 'warn')
  t.match(lines[0]?.[1], OUTGROWN)
  t.match(lines[0]?.[1], /\(128MB\) .* \(3,379 MB\)/, 'it names the setting and the tables\' size')
  await check.check()
  await check.check()
  t.equal(lines.length, 1, 'not again while nothing changes, nor for a reading that failed')
  await check.check()
  await check.check()
  t.strictSame(lines.slice(1), [['info', 'the messages, conversations and receivers tables fit in PostgreSQL\'s shared_buffers again']])
})

if (TEST_STORE === 'postgres') {
  /** The app started on this database, with its warnings, after it has stored one message for this receiver. */
  async function warningsAtStart (t: Test, databaseUrl: string, receiverUid: string): Promise<{ warnings: string[], onCitus: boolean }> {
    const warnings: string[] = []
    const stream = { write (line: string) { const { level, msg } = JSON.parse(line) as { level: number, msg: string }; if (level === 40) warnings.push(msg) } }
    const app = await buildApp(loadConfig({ API_KEYS, DATABASE_URL: databaseUrl }), { sweep: false, logger: { level: 'info', stream } })
    await app.ready()
    const onCitus = app.store.writeLanes.laneOf !== undefined
    const res = await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH.router, payload: newMessage({ receiver_uid: receiverUid, content: 'x'.repeat(1500) }) })
    t.equal(res.statusCode, 201)
    await app.close()
    return { warnings, onCitus }
  }

  t.test('on PostgreSQL, a warning at start once the tables are larger than shared_buffers, none before', async (t) => {
    const databaseUrl = await createPostgresDatabase(t)
    const before = await warningsAtStart(t, databaseUrl, 'cache-bob')
    t.strictSame(before.warnings.filter((line) => OUTGROWN.test(line)), [], 'an empty database: no warning')
    // Rows of about 1.6 KB (under the TOAST threshold, so stored as they are) until the tables are a fifth larger than
    // shared_buffers.
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    t.teardown(() => client.end())
    const { rows: [size] } = await client.query<{ bytes: string }>("SELECT setting::bigint * current_setting('block_size')::bigint AS bytes FROM pg_settings WHERE name = 'shared_buffers'")
    const copies = Math.ceil(Number(size?.bytes) * 1.2 / 1600)
    t.ok(copies <= 1_000_000, `shared_buffers is ${Math.round(Number(size?.bytes) / 2 ** 20)} MB: ${copies} rows to outgrow it`)
    // In statements of 10,000 rows, each its own transaction: a long one would hold back the event feed's horizon,
    // which is the server's, for the other test files running meanwhile.
    for (let from = 1; from <= copies; from += 10_000) {
      await client.query(`INSERT INTO messages SELECT (jsonb_populate_record(m, jsonb_build_object('seq', g + 1, 'msg_id', m.msg_id || '-' || g,
        'content', md5(g::text) || m.content))).* FROM messages m, generate_series(${from}, ${Math.min(copies, from + 9_999)}) AS g WHERE m.receiver_uid = 'cache-bob' AND m.seq = 1`)
    }
    const after = await warningsAtStart(t, databaseUrl, 'cache-carol')
    if (after.onCitus) {
      t.strictSame(after.warnings.filter((line) => OUTGROWN.test(line)), [], 'on Citus the tables are the workers\' shards: not checked from the coordinator')
    } else {
      t.equal(after.warnings.filter((line) => OUTGROWN.test(line)).length, 1, `one warning at start (warned: ${JSON.stringify(after.warnings)})`)
    }
  })
}
