// Pool.pipeline (src/store/postgres/pool.ts): statements sent back to back on one connection with pg's pipelining, each
// one's rows in order, the first failure thrown once all have answered, the pool usable after it; in a transaction, on
// its connection; what goes in one round trip, in one write; bigint columns as numbers. A pool's connections start with
// the settings it is given. A connection that breaks while taken fails its transaction only; a server that stops
// answering, a read timeout. On a full pool a statement alone goes behind one in flight. A statement's rows do not
// outlive it.
import net from 'node:net'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { createPool, type Row } from '../../src/store/postgres/pool.js'
import { TEST_STORE, createTestDatabase } from '../helpers/database.js'

if (TEST_STORE !== 'postgres') {
  t.pass('SQLite has no pipelines: this file is about PostgreSQL')
} else {
  t.test('each statement\'s rows in order, in one round trip; a failure thrown after all answered; the pool goes on', async (t) => {
    const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline: true })
    t.teardown(() => pool.end())
    const double = { name: 'om_test_double', text: 'SELECT n * 2 AS doubled FROM unnest($1::int[]) WITH ORDINALITY AS k (n, i) ORDER BY i' }
    const divide = { name: 'om_test_divide', text: 'SELECT 10 / $1::int AS quotient' }
    const before = pool.counts()
    const answers = await pool.pipeline([
      { sql: double, values: [[1, 2, 3]] },
      { sql: divide, values: [5] },
      { sql: double, values: [[]] },
      { sql: double, values: [[7]] }
    ])
    t.same(answers, [[[2], [4], [6]], [[2]], [], [[14]]], 'rows as arrays, each statement\'s its own, in the order sent; a statement prepared once serves the later ones')
    t.same(pool.counts(), { statements: before.statements + 4, roundTrips: before.roundTrips + 1 })

    await t.rejects(pool.pipeline([{ sql: double, values: [[1]] }, { sql: divide, values: [0] }, { sql: double, values: [[2]] }]), { code: '22012' },
      'the failing statement\'s error (division by zero)')
    t.same(await pool.pipeline([{ sql: divide, values: [2] }, { sql: double, values: [[4]] }]), [[[5]], [[8]]], 'the same connection answers again, its statements still prepared')
    t.same(await pool.arrays(double, [[3]]), [[6]], 'and plain statements on it')
  })

  t.test('what goes in one round trip goes to the socket in one write: a pipeline, BEGIN with its statements, the closing ones with COMMIT', async (t) => {
    const databaseUrl = await createTestDatabase(t)
    const pool = createPool({ databaseUrl, poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline: true })
    t.teardown(() => pool.end())
    await pool.rows({ name: '', text: 'CREATE TABLE kept (n int)' }, [])
    // Each write the database's socket makes: a system call each (net.Socket's _write, or _writev for what was held).
    const port = Number(new URL(databaseUrl).port || 5432)
    let writes = 0
    const socket = net.Socket.prototype as unknown as Record<'_write' | '_writev', (this: net.Socket, ...args: unknown[]) => unknown>
    for (const method of ['_write', '_writev'] as const) {
      const original = socket[method]
      socket[method] = function (this: net.Socket, ...args: unknown[]) {
        if (this.remotePort === port) writes++
        return original.apply(this, args)
      }
      t.teardown(() => { socket[method] = original })
    }
    const double = { name: 'om_test_double', text: 'SELECT n * 2 AS doubled FROM unnest($1::int[]) AS k (n)' }
    const insert = { name: 'om_test_insert', text: 'INSERT INTO kept SELECT unnest($1::int[])' }
    const statements = [{ sql: double, values: [[1]] }, { sql: double, values: [[2, 3]] }, { sql: double, values: [[4]] }]
    writes = 0
    await pool.pipeline(statements)
    t.equal(writes, 1, 'a pipeline of three statements: one write')
    writes = 0
    await pool.transaction(async (q) => {
      await q.pipeline(statements)
      t.equal(writes, 1, 'BEGIN and a pipeline of three: one write')
      q.closing([{ sql: insert, values: [[1]] }, { sql: insert, values: [[2]] }])
    })
    t.equal(writes, 2, 'then two statements with COMMIT: one write more')
    t.same(await pool.arrays({ name: '', text: 'SELECT n FROM kept ORDER BY n' }, []), [[1], [2]], 'all of it committed')
  })

  t.test('bigint columns come as numbers, as far as numbers hold them exactly', async (t) => {
    const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline: true })
    t.teardown(() => pool.end())
    const [row] = await pool.rows({ name: '', text: 'SELECT 1733480390123::bigint AS at, 9007199254740991::bigint AS most, NULL::bigint AS none, 7::int AS small' }, [])
    t.strictSame(row, { at: 1733480390123, most: 9007199254740991, none: null, small: 7 })
    const beyond = (await pool.arrays({ name: '', text: 'SELECT 9007199254740993::bigint' }, []))[0]?.[0]
    t.notOk(Number.isSafeInteger(beyond), 'one beyond 2^53 is no safe integer: the row mapper\'s toNumber refuses it')
  })

  t.test('in a transaction, on its connection: rows as objects or arrays, one round trip, a failure rolls the transaction back', async (t) => {
    const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline: true })
    t.teardown(() => pool.end())
    await pool.rows({ name: '', text: 'CREATE TABLE kept (n int)' }, [])
    const insert = { name: 'om_test_insert', text: 'INSERT INTO kept SELECT unnest($1::int[]) RETURNING n' }
    const before = pool.counts()
    const inserted = await pool.transaction(async (q) => await q.pipelineRows([{ sql: insert, values: [[1, 2]] }, { sql: insert, values: [[3]] }]))
    t.same(inserted, [[{ n: 1 }, { n: 2 }], [{ n: 3 }]], 'each statement\'s rows as objects, in order')
    t.same(pool.counts(), { statements: before.statements + 4, roundTrips: before.roundTrips + 2 }, 'BEGIN with the pipeline, then COMMIT: two round trips')
    await t.rejects(pool.transaction(async (q) => await q.pipeline([{ sql: insert, values: [[4]] }, { sql: { name: '', text: 'SELECT 1 / 0' }, values: [] }])), { code: '22012' })
    t.same(await pool.arrays({ name: '', text: 'SELECT n FROM kept ORDER BY n' }, []), [[1], [2], [3]], 'the failed transaction\'s insert rolled back with it')
  })

  t.test('without an opening, BEGIN goes with the first statement; what closing gets goes with COMMIT; a failure there rolls back', async (t) => {
    for (const pipeline of [true, false]) {
      const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline })
      t.teardown(() => pool.end())
      await pool.rows({ name: '', text: 'CREATE TABLE kept (n int CHECK (n > 0))' }, [])
      const insert = { name: 'om_test_insert', text: 'INSERT INTO kept SELECT unnest($1::int[])' }
      const now = { name: 'om_test_now', text: 'SELECT now() AS at, pg_sleep(0.01)' }
      let before = pool.counts()
      const [first, second] = await pool.transaction(async (q) => {
        const [a] = await q.rows(now, [])
        const [b] = await q.rows(now, [])
        q.closing([{ sql: insert, values: [[1]] }, { sql: insert, values: [[2]] }])
        return [a?.at, b?.at]
      })
      t.same(first, second, `pipeline ${String(pipeline)}: both statements in the transaction BEGIN opened (one now())`)
      t.same(await pool.arrays({ name: '', text: 'SELECT n FROM kept ORDER BY n' }, []), [[1], [2]], 'the closing statements committed')
      const trips = pipeline ? 3 : 6
      t.same(pool.counts(), { statements: before.statements + 7, roundTrips: before.roundTrips + trips + 1 },
        pipeline ? 'BEGIN with the first, the second, the closing ones with COMMIT: three round trips' : 'one round trip each without pipelining')
      await t.rejects(pool.transaction(async (q) => {
        await q.rows(insert, [[3]])
        q.closing([{ sql: insert, values: [[-1]] }])
      }), { code: '23514' }, 'the closing statement\'s failure')
      t.same(await pool.arrays({ name: '', text: 'SELECT n FROM kept ORDER BY n' }, []), [[1], [2]], 'and the transaction rolled back, its first insert with it')
      before = pool.counts()
      t.equal(await pool.transaction(async () => 'nothing'), 'nothing')
      t.same(pool.counts(), before, 'a transaction that sends nothing sends neither BEGIN nor COMMIT')
    }
  })

  t.test('an opening goes with BEGIN in one round trip, each statement in a snapshot of its own; fn gets the last one\'s rows', async (t) => {
    const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline: true })
    t.teardown(() => pool.end())
    const clock = { name: 'om_test_clock', text: 'SELECT clock_timestamp() AS at, $1::int AS n' }
    const before = pool.counts()
    const opened = await pool.transaction(async (_q, rows) => rows, [{ sql: clock, values: [1] }, { sql: { name: 'om_test_sleep', text: 'SELECT pg_sleep(0.01), $1::int AS n' }, values: [2] }])
    t.same(opened.map((row) => row.n), [2], 'the last statement\'s rows')
    t.same(pool.counts(), { statements: before.statements + 4, roundTrips: before.roundTrips + 2 }, 'BEGIN and the opening in one round trip, then COMMIT')
    const inside = await pool.transaction(async (q) => await q.rows({ name: '', text: 'SELECT now() = statement_timestamp() AS same' }, []), [{ sql: clock, values: [1] }])
    t.same(inside, [{ same: false }], 'in the transaction BEGIN opened')
  })

  t.test('each connection starts with the settings given; anything but a name and a word is refused', async (t) => {
    const databaseUrl = await createTestDatabase(t)
    const pool = createPool({ databaseUrl, poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { settings: { plan_cache_mode: 'force_generic_plan', enable_seqscan: 'off' } })
    t.teardown(() => pool.end())
    t.same(await pool.rows({ name: '', text: "SELECT current_setting('plan_cache_mode') AS mode, current_setting('enable_seqscan') AS seqscan" }, []), [{ mode: 'force_generic_plan', seqscan: 'off' }])
    const plain = createPool({ databaseUrl, poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 })
    t.teardown(() => plain.end())
    t.same(await plain.rows({ name: '', text: "SELECT current_setting('enable_seqscan') AS seqscan" }, []), [{ seqscan: 'on' }], 'without settings, the server\'s')
    t.throws(() => createPool({ databaseUrl, poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { settings: { enable_seqscan: 'off -c fsync=off' } }), /not a setting/)
  })

  t.test('a connection whose server stops answering mid-transaction fails that transaction, not the process; the pool goes on', async (t) => {
    // With pipelining, pg's read timeout destroys the socket, and reports it as an error of the client, which is taken
    // from the pool then: without a listener there, the process ends (as the service did in the outage test).
    const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 300, connectTimeoutMs: 5000 }, { pipeline: true })
    t.teardown(() => pool.end())
    let frozen = 0
    t.teardown(() => { if (frozen !== 0) process.kill(frozen, 'SIGCONT') })
    const now = { name: '', text: 'SELECT 1 AS n' }
    // The pool's one connection, frozen; then a transaction's first statement, pipelined with its BEGIN: the first
    // to time out destroys the socket, and the other fails when it closes, while the transaction still holds it.
    const [row] = await pool.rows({ name: '', text: 'SELECT pg_backend_pid() AS pid' }, [])
    frozen = Number(row?.pid)
    process.kill(frozen, 'SIGSTOP')
    await t.rejects(pool.transaction(async (q) => await q.rows(now, [])), /timeout|terminated/i, 'the statement the frozen server never answers: a read timeout')
    process.kill(frozen, 'SIGCONT')
    // The same with a statement still waiting when the first times out (sent after it on the same connection, as a
    // pipeline may): the socket closes under it while the transaction holds the connection.
    const [again] = await pool.rows({ name: '', text: 'SELECT pg_backend_pid() AS pid' }, [])
    frozen = Number(again?.pid)
    process.kill(frozen, 'SIGSTOP')
    await t.rejects(pool.transaction(async (q) => {
      const first = q.rows(now, [])
      await new Promise((resolve) => setTimeout(resolve, 500))
      const answers = await Promise.allSettled([first, q.rows(now, [])])
      const failure = answers.find((answer) => answer.status === 'rejected')
      if (failure !== undefined) throw failure.reason
    }), /timeout|terminated/i, 'the second fails with the connection')
    process.kill(frozen, 'SIGCONT')
    frozen = 0
    t.same(await pool.rows(now, []), [{ n: 1 }], 'the next statement on a new connection')
  })

  t.test('a statement alone, outside a transaction, on a server that stops answering: a read timeout, then a new connection', async (t) => {
    const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 300, connectTimeoutMs: 5000 }, { pipeline: true })
    t.teardown(() => pool.end())
    let frozen = 0
    t.teardown(() => { if (frozen !== 0) process.kill(frozen, 'SIGCONT') })
    const [row] = await pool.rows({ name: '', text: 'SELECT pg_backend_pid() AS pid' }, [])
    frozen = Number(row?.pid)
    process.kill(frozen, 'SIGSTOP')
    const started = Date.now()
    // Two at once: the second goes behind the first on the same connection, and fails with it.
    const [first, second] = await Promise.allSettled([pool.arrays({ name: '', text: 'SELECT 1' }, []), pool.arrays({ name: '', text: 'SELECT 2' }, [])])
    t.match(first, { status: 'rejected', reason: /Query read timeout/ }, 'the pool\'s own read timeout (statement_timeout and a second)')
    t.match(second, { status: 'rejected', reason: /Query read timeout|terminated|not queryable/ }, 'the statement behind it fails with the connection')
    t.ok(Date.now() - started < 5000, `within the bound (${Date.now() - started} ms)`)
    process.kill(frozen, 'SIGCONT')
    frozen = 0
    t.same(await pool.arrays({ name: '', text: 'SELECT 2' }, []), [[2]], 'the next statement on a new connection')
  })

  t.test('on a full pool, a statement alone goes behind one in flight (two at most on a connection), each answered with its own rows', async (t) => {
    const databaseUrl = await createTestDatabase(t)
    // A connect timeout shorter than a statement: a statement that waits for the pool's one connection fails.
    const options = { databaseUrl, poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 200 }
    const pool = createPool(options, { pipeline: true })
    t.teardown(() => pool.end())
    const slow = { name: 'om_test_slow', text: 'SELECT $1::int AS n, pg_backend_pid() AS pid FROM pg_sleep(0.5)' }
    const [first, second, third] = await Promise.allSettled([pool.rows(slow, [1]), pool.rows(slow, [2]), pool.rows(slow, [3])])
    const pidOf = (answer: PromiseSettledResult<Row[]>): unknown => answer.status === 'fulfilled' ? answer.value[0]?.pid : undefined
    t.match(first, { status: 'fulfilled', value: [{ n: 1 }] })
    t.match(second, { status: 'fulfilled', value: [{ n: 2 }] }, 'the second went behind the first, on its connection, instead of waiting for it')
    t.equal(pidOf(second), pidOf(first), 'one backend answered both')
    t.match(third, { status: 'rejected', reason: /timeout exceeded when trying to connect/ }, 'a third waits for a connection, as before')

    const failing = pool.arrays({ name: '', text: 'SELECT 1 / n FROM (SELECT 0 AS n FROM pg_sleep(0.3)) AS z' }, [])
    const behind = pool.arrays({ name: '', text: 'SELECT 3' }, [])
    await t.rejects(failing, { code: '22012' }, 'the first fails (division by zero)')
    t.same(await behind, [[3]], 'the one behind it answers all the same')
    t.same(await pool.arrays(slow, [4]).then((rows) => rows[0]?.[0]), 4, 'and the connection serves the next')

    // Without pipelining, a statement alone waits for a connection of its own.
    const plain = createPool(options)
    t.teardown(() => plain.end())
    const [alone, waiting] = await Promise.allSettled([plain.rows(slow, [5]), plain.rows(slow, [6])])
    t.match(alone, { status: 'fulfilled', value: [{ n: 5 }] })
    t.match(waiting, { status: 'rejected', reason: /timeout exceeded when trying to connect/ })
  })

  t.test('statements alone that keep coming do not keep the connection from a transaction waiting for it', async (t) => {
    // Each goes behind one in flight; after a few the connection goes back to the pool, where the transaction waits
    // (its connect timeout shorter than the stream of statements).
    const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 1000 }, { pipeline: true })
    t.teardown(() => pool.end())
    const nap = { name: 'om_test_nap', text: 'SELECT 1 AS n FROM pg_sleep(0.05)' }
    const until = Date.now() + 2500
    let answered = 0
    const reader = async (): Promise<void> => {
      while (Date.now() < until) { await pool.rows(nap, []); answered++ }
    }
    const readers = Promise.all([reader(), reader(), reader()])
    await new Promise((resolve) => setTimeout(resolve, 200))
    const transaction = pool.transaction(async (q) => await q.rows({ name: '', text: 'SELECT 2 AS n' }, []))
    t.same(await transaction, [{ n: 2 }], 'the transaction had the connection within its connect timeout')
    await readers
    t.ok(answered > 20, `the statements alone went on (${answered})`)
  })

  t.test('a statement\'s rows do not outlive it: read after read, the old generation does not grow by their rows', async (t) => {
    // pg's own promise for a query (and its query_timeout) kept each query's rows alive past the next minor
    // collection, which copied them into the old generation: 34 KB a read of these 100 rows here, against 4 KB through
    // the pool's own callback (measured on 2026-12-07, three runs each). Minor collections are forced, so that this
    // does not depend on when V8 would run them.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as (options?: { type: 'minor', execution: 'sync' }) => void
    const pool = createPool({ databaseUrl: await createTestDatabase(t), poolMax: 1, statementTimeoutMs: 10_000, connectTimeoutMs: 5000 }, { pipeline: true })
    t.teardown(() => pool.end())
    const rows = { name: 'om_test_rows', text: 'SELECT g, repeat(\'x\', 200) || g AS content FROM generate_series(1, 100) AS g' }
    const oldGeneration = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_used_size ?? 0
    const reads = 100
    t.equal((await pool.arrays(rows, [])).length, 100)
    gc()
    const before = oldGeneration()
    for (let i = 0; i < reads; i++) {
      await pool.arrays(rows, [])
      await new Promise((resolve) => setImmediate(resolve))
      gc({ type: 'minor', execution: 'sync' })
    }
    const perRead = (oldGeneration() - before) / reads
    t.ok(perRead < 12_000, `the old generation grew by ${perRead.toFixed(0)} bytes a read (the rows: about 25 KB)`)
  })
}
