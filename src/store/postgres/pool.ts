// PostgreSQL's connections: one pg pool, the named statements of statements.ts run on it (each counted, each
// one round trip), transactions on one connection, and connections that a failure left unusable dropped.
import pg from 'pg'
import type { DatabaseOptions } from '../database.js'
import { isUnavailable } from '../errors.js'
import type { Sql } from './statements.js'
import type { StatementCounts } from '../types.js'

export type Row = Record<string, unknown>

/** Runs one named statement: rows as objects, or as arrays of column values (cheaper to read for many rows). */
export interface Queries {
  rows (sql: Sql, values: readonly unknown[]): Promise<Row[]>
  arrays (sql: Sql, values: readonly unknown[]): Promise<unknown[][]>
}

/**
 * Several statements that do not depend on each other in one round trip, each one's rows as arrays, in order: sent
 * back to back on one connection with pg's pipelining (a pool made with `pipeline: true`); each still answers or
 * fails on its own, and the first failure is thrown once all have answered.
 */
export interface Pipelines {
  pipeline (statements: readonly Statement[]): Promise<unknown[][][]>
  /** The same, each one's rows as objects. */
  pipelineRows (statements: readonly Statement[]): Promise<Row[][]>
}

/** A statement and its values. */
export interface Statement { readonly sql: Sql, readonly values: readonly unknown[] }

/** What a transaction's queries add: statements whose rows nobody reads, sent with its COMMIT. */
export interface Closing {
  /**
   * Sends these statements with the COMMIT, one after the other before it, in its round trip where the pool pipelines;
   * the first failure fails the transaction (its COMMIT then rolls back). Another call adds to them.
   */
  closing (statements: readonly Statement[]): void
}

/** The queries of a transaction's connection (Pool.transaction's fn). */
export type TxQueries = Queries & Pipelines & Closing

export interface Pool extends Queries, Pipelines {
  /**
   * Runs fn in a transaction on one connection. An `opening` (named statements) goes with BEGIN, in its round trip
   * where the pool pipelines, each of its statements with a snapshot of its own; fn gets its last statement's rows.
   * Without one, BEGIN goes with fn's first statement (or pipeline), in its round trip where the pool pipelines. A
   * pipeline in fn goes on the transaction's connection; what fn hands to `closing` goes with the COMMIT.
   */
  transaction<T> (fn: (queries: TxQueries, opened: Row[]) => Promise<T>, opening?: readonly Statement[]): Promise<T>
  counts (): StatementCounts
  /** Runs a statement of the store's own upkeep (no request's): on any connection of the pool, not in the counts. */
  upkeep (sql: Sql): Promise<Row[]>
  /** Hears of each new connection, and of each connection lost to a failure of the database or the network. */
  watch (listener: ConnectionListener): void
  end (): Promise<void>
}

export interface ConnectionListener {
  connected (): void
  lost (): void
}

// PostgreSQL's type id of bigint (int8).
const INT8 = 20
/**
 * Bigint columns read as numbers: pg's own parser answers each as a string after a regular expression, and the row
 * mapper then made each string a number (a page of 100 reads 400 of them). Every bigint the store reads is a seq, a
 * time in milliseconds or a count; the row mapper's toNumber still refuses one beyond 2^53.
 */
const TYPES = {
  getTypeParser: (oid: number, format?: string) => oid === INT8 && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format as 'text')
}

interface Socket { cork (): void, uncork (): void, destroy (error?: Error): void }

/** The socket under a client's connection (pg's Connection.stream, which pg's types leave out), when it has one. */
function socketOf (client: pg.PoolClient): Socket | undefined {
  const stream = (client as unknown as { connection?: { stream?: Partial<Socket> } }).connection?.stream
  return typeof stream?.cork === 'function' && typeof stream.uncork === 'function' && typeof stream.destroy === 'function' ? stream as Socket : undefined
}

/**
 * How much longer than statement_timeout the pool waits for an answer. A server that stops answering (frozen, or cut
 * off by a partition) never enforces its own statement_timeout: past this, the connection's socket is destroyed,
 * which fails what waits on it ('Query read timeout': the store is unavailable) and drops the connection.
 */
const READ_TIMEOUT_MARGIN_MS = 1000

/**
 * Statements alone on one connection (onConnection): at most this many at once, pipelined, and this many in all
 * before it goes back to the pool, where transactions and the other statements wait their turn in order.
 */
const STATEMENTS_ALONE_AT_ONCE = 2
const STATEMENTS_ALONE_PER_TURN = 4

/**
 * With `pipeline`, the pool's connections pipeline what is sent on them at once (Pipelines; pg's pipelining); with
 * `settings`, each connection starts with these settings of PostgreSQL's (names and values of letters, digits and _).
 */
export function createPool (options: DatabaseOptions, { pipeline = false, settings = {} }: { pipeline?: boolean, settings?: Readonly<Record<string, string>> } = {}): Pool {
  for (const [name, value] of Object.entries(settings)) if (!/^\w+$/.test(name) || !/^\w+$/.test(value)) throw new Error(`not a setting: ${name}=${value}`)
  const pool = new pg.Pool({
    pipeline,
    types: TYPES,
    connectionString: options.databaseUrl,
    max: options.poolMax,
    statement_timeout: options.statementTimeoutMs,
    // No query_timeout: the pool keeps its own read timeout (`answered`); pg's kept every query's rows alive past the
    // next minor collection (bench/README.md, "pg's promises and the garbage collector").
    // Bounds the wait for a new connection and for a free one alike.
    connectionTimeoutMillis: options.connectTimeoutMs,
    keepAlive: true,
    application_name: 'offline-messages',
    // Each connection's settings, at its start (its startup packet's options).
    ...(Object.keys(settings).length === 0 ? {} : { options: Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`).join(' ') })
  })
  const listeners: ConnectionListener[] = []
  // A connection that breaks while idle in the pool is dropped by pg-pool; without a listener the error would end the process.
  pool.on('error', (error) => {
    options.log?.('warn', `idle database connection: ${error.message}`)
    for (const listener of listeners) listener.lost()
  })
  const failed = (error: unknown): void => {
    if (isUnavailable(error)) for (const listener of listeners) listener.lost()
  }
  pool.on('connect', (client) => {
    // A connection that breaks while taken from the pool (pg-pool listens only while it is idle): with pipelining, a
    // read timeout destroys the socket, and pg reports it as an error of the client, which without a listener would end
    // the process. Its queries fail with it, and the transaction that holds it drops it.
    client.on('error', failed)
    for (const listener of listeners) listener.connected()
  })

  const readTimeoutMs = options.statementTimeoutMs + READ_TIMEOUT_MARGIN_MS
  /** `waiting` (what was sent on `client`), with the read timeout: past it, the connection's socket is destroyed. */
  const answered = async <T>(client: pg.PoolClient, waiting: Promise<T>): Promise<T> => {
    const timer = setTimeout(() => { socketOf(client)?.destroy(new Error('Query read timeout')) }, readTimeoutMs)
    try {
      return await waiting
    } finally {
      clearTimeout(timer)
    }
  }

  let statements = 0
  let roundTrips = 0
  /** One statement queued on `client`, without the read timeout (its caller's), not counted. */
  const queue = async (client: pg.PoolClient, sql: Sql, values: readonly unknown[], rowMode?: 'array'): Promise<pg.QueryResult> => {
    // A statement without a name (a shape whose text varies with its rows) is parsed at each call.
    const config = { ...(sql.name === '' ? {} : { name: sql.name }), text: sql.text, values: values as unknown[], ...(rowMode === undefined ? {} : { rowMode }) }
    try {
      // With a callback of the pool's own, not pg's promise: the closures pg makes for its promise (and for its
      // query_timeout) keep each query, its rows with it, alive past the next minor collection (bench/README.md,
      // "pg's promises and the garbage collector").
      return await new Promise<pg.QueryResult>((resolve, reject) => {
        client.query(config, (error: Error | undefined, result: pg.QueryResult) => { if (error === undefined || error === null) resolve(result); else reject(error) })
      })
    } catch (error) {
      failed(error)
      throw error
    }
  }
  /** One statement on `client` and its answer, with the read timeout, not counted (run counts it; upkeep is not counted). */
  const send = async (client: pg.PoolClient, sql: Sql, values: readonly unknown[], rowMode?: 'array'): Promise<pg.QueryResult> =>
    await answered(client, queue(client, sql, values, rowMode))
  /** The same, counted. */
  const run = async (client: pg.PoolClient, sql: Sql, values: readonly unknown[], rowMode?: 'array'): Promise<pg.QueryResult> => {
    statements++
    roundTrips++
    return await send(client, sql, values, rowMode)
  }
  const control = async (client: pg.PoolClient, command: 'ROLLBACK'): Promise<void> => {
    statements++
    roundTrips++
    await answered(client, client.query(command))
  }
  /**
   * `before` (BEGIN or nothing), the statements, and `after` (COMMIT or nothing) sent together, one round trip where
   * the pool pipelines: each statement's result; the first failure thrown once all have answered. A COMMIT after a
   * failed statement rolls the transaction back (PostgreSQL answers it so, without an error of its own).
   */
  const around = async (client: pg.PoolClient, before: 'BEGIN' | undefined, list: readonly Statement[], after: 'COMMIT' | undefined, rowMode?: 'array'): Promise<pg.QueryResult[]> => {
    const controls = (before === undefined ? 0 : 1) + (after === undefined ? 0 : 1)
    statements += controls + list.length
    // Without pipelining pg sends each once the last has answered.
    roundTrips += pipeline ? 1 : controls + list.length
    // pg writes each statement to the socket as it is queued, a system call each: held until all are queued, they go
    // in one (a group on Citus is a statement per shard it touches).
    const socket = pipeline ? socketOf(client) : undefined
    socket?.cork()
    let sending: Array<Promise<pg.QueryResult>>
    try {
      sending = [
        ...(before === undefined ? [] : [client.query(before)]),
        ...list.map(async ({ sql, values }) => await queue(client, sql, values, rowMode)),
        ...(after === undefined ? [] : [client.query(after)])
      ]
    } finally {
      socket?.uncork()
    }
    const answers = await answered(client, Promise.allSettled(sending))
    const failure = answers.find((answer) => answer.status === 'rejected')
    if (failure !== undefined) throw failure.reason
    const results = answers.map((answer) => (answer as PromiseFulfilledResult<pg.QueryResult>).value)
    const first = before === undefined ? 0 : 1
    return results.slice(first, first + list.length)
  }
  /**
   * The queries of a transaction on `client`: BEGIN goes with the first statement or pipeline when `begun` is false,
   * and what `closing` is given waits for the COMMIT (`commit`).
   */
  const transactionOn = (client: pg.PoolClient, begun: boolean): { queries: TxQueries, commit: () => Promise<void> } => {
    let pendingBegin = !begun
    const closingStatements: Statement[] = []
    /** BEGIN when it has not gone yet, once. */
    const beginOnce = (): 'BEGIN' | undefined => {
      const before = pendingBegin ? 'BEGIN' : undefined
      pendingBegin = false
      return before
    }
    const sent = async (list: readonly Statement[], rowMode?: 'array'): Promise<pg.QueryResult[]> => await around(client, beginOnce(), list, undefined, rowMode)
    const one = async (sql: Sql, values: readonly unknown[], rowMode?: 'array'): Promise<pg.QueryResult> => {
      if (!pendingBegin) return await run(client, sql, values, rowMode)
      return (await sent([{ sql, values }], rowMode))[0] as pg.QueryResult
    }
    return {
      queries: {
        rows: async (sql, values) => (await one(sql, values)).rows as Row[],
        arrays: async (sql, values) => (await one(sql, values, 'array')).rows as unknown[][],
        pipeline: async (list) => (await sent(list, 'array')).map((result) => result.rows as unknown[][]),
        pipelineRows: async (list) => (await sent(list)).map((result) => result.rows as Row[]),
        closing (list) { closingStatements.push(...list) }
      },
      async commit () {
        // A transaction that sent nothing has nothing to commit.
        if (pendingBegin && closingStatements.length === 0) return
        await around(client, beginOnce(), closingStatements.splice(0), 'COMMIT')
      }
    }
  }
  /** BEGIN and the opening's statements sent together (one round trip where the pool pipelines): the last one's rows. */
  const begin = async (client: pg.PoolClient, opening: readonly Statement[]): Promise<Row[]> => {
    const answers = await around(client, 'BEGIN', opening, undefined)
    return (answers[answers.length - 1]?.rows ?? []) as Row[]
  }

  /**
   * Connections taken for statements alone, with how many are on each. When every connection of the pool is taken, a
   * statement alone goes behind one of these (pg's pipelining) rather than wait for a connection to come back: the
   * connection's backend has its next statement as soon as it is done with one, instead of idling until the event loop
   * has read the answer, released the connection and handed it to the next in pg-pool's queue. A few statements a
   * turn, so that a connection held by statements alone still goes back to those waiting in the pool.
   */
  const alone: Array<{ client: Promise<pg.PoolClient>, statements: number, sent: number, unusable: boolean }> = []
  /**
   * fn on a connection taken from the pool, released after the last statement on it (dropped when a failure left it
   * unusable); with `share`, a statement alone, which may go behind another one (above) and let others go behind it.
   */
  const onConnection = async <T>(fn: (client: pg.PoolClient) => Promise<T>, share = false): Promise<T> => {
    // Every connection taken, or promised to those already waiting (pg-pool hands an idle one over on the next tick).
    const full = share && pipeline && pool.totalCount >= options.poolMax && pool.idleCount <= pool.waitingCount
    let lane = full
      ? alone.find((candidate) => candidate.statements < STATEMENTS_ALONE_AT_ONCE && candidate.sent < STATEMENTS_ALONE_PER_TURN && !candidate.unusable)
      : undefined
    if (lane === undefined) {
      lane = { client: pool.connect(), statements: 0, sent: 0, unusable: false }
      // In the list at once, while its connection is still to come: what arrives meanwhile may go behind it.
      if (share) alone.push(lane)
    }
    const taken = lane
    taken.statements++
    taken.sent++
    try {
      return await fn(await taken.client)
    } catch (error) {
      if (isUnavailable(error)) taken.unusable = true
      throw error
    } finally {
      if (--taken.statements === 0) {
        if (share) alone.splice(alone.indexOf(taken), 1)
        // A connection that never came (the pool's connect failed) has nothing to release.
        await taken.client.then((client) => { client.release(taken.unusable) }, () => {})
      }
    }
  }

  return {
    // A statement alone on a connection of its own, as pool.query would take one, or behind another statement alone.
    rows: async (sql, values) => await onConnection(async (client) => (await run(client, sql, values)).rows as Row[], true),
    arrays: async (sql, values) => await onConnection(async (client) => (await run(client, sql, values, 'array')).rows as unknown[][], true),
    async transaction (fn, opening) {
      const client = await pool.connect()
      // After a lost connection or a read timeout the connection is mid-query or gone: it is destroyed, not reused
      // (the server rolls back what it had), and a ROLLBACK on it would only wait.
      let unusable = false
      try {
        const opened = opening === undefined ? [] : await begin(client, opening)
        const { queries, commit } = transactionOn(client, opening !== undefined)
        const value = await fn(queries, opened)
        await commit()
        return value
      } catch (error) {
        unusable = isUnavailable(error)
        if (unusable) failed(error)
        if (!unusable) await control(client, 'ROLLBACK').catch(() => { unusable = true })
        throw error
      } finally {
        client.release(unusable)
      }
    },
    // On a connection of its own, for the pipeline alone (a pool's query would take one per statement).
    pipeline: async (list) => await onConnection(async (client) => (await around(client, undefined, list, undefined, 'array')).map((result) => result.rows as unknown[][])),
    pipelineRows: async (list) => await onConnection(async (client) => (await around(client, undefined, list, undefined)).map((result) => result.rows as Row[])),
    // Every statement here is one network round trip (pg sends the next only once the last has answered), but for an
    // opening's, which go with BEGIN, and a pipeline's, which go together.
    counts: () => ({ statements, roundTrips }),
    upkeep: async (sql) => await onConnection(async (client) => (await send(client, sql, [])).rows as Row[]),
    watch (listener) { listeners.push(listener) },
    end: async () => { await pool.end() }
  }
}
