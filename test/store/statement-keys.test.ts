// Every statement the PostgreSQL store sends on the request path names its receivers: each reference to one of the
// five tables is restricted by its own receiver_uid (= $n, IN ($n, ...), = ANY($n)), so that on Citus, with the tables
// distributed by receiver_uid, a statement reaches only the shards of the receivers it names. A join on the columns of
// an unnest does not count: the planner (Citus's as much as PostgreSQL's) cannot prune shards with it.
import { loadModule, parseSync } from 'libpg-query'
import pg from 'pg'
import t, { type Test } from 'tap'
import { CITUS_SQL } from '../../src/store/citus/statements.js'
import { createCitusShapesStore } from '../../src/store/citus/store.js'
import { SQL } from '../../src/store/postgres/statements.js'
import { EVENT_SQL } from '../../src/store/postgres/event-statements.js'
import { AUTH, buildTestApp, newMessage, type TestApp } from '../helpers/app.js'
import { TEST_STORE } from '../helpers/database.js'

const TABLES = new Set(['receivers', 'messages', 'tombstones', 'conversations', 'devices'])

/** Statements that may cross receivers, by name in SQL, and why: none runs for a request. */
const OFF_THE_REQUEST_PATH: Partial<Record<keyof typeof SQL, string>> = {
  dueForExpiry: 'the sweep: the receivers due, whoever they are, through the index on receivers.next_expiry',
  purgeTombstones: 'the sweep: stale tombstones of any receiver, through the index on tombstones.purge_at',
  totalPending: 'the pending gauge: a sum over all receivers at scrape time',
  ping: 'the readiness probe: no table',
  announce: 'sent after the commit: pg_notify, no table',
  durability: 'the store\'s own upkeep, at start and after a new connection, in the background: settings, no table'
}
/**
 * Statements of the request path not keyed yet, and why: each one is a known fan-out on Citus, to be reshaped.
 * (Keyed beside its LATERAL join, lastPendingOfSenders's generic plan misjudged the rows of one sender and read them
 * all: 8.8 ms instead of 0.1 ms for 10,000 pending messages; and Citus cannot push down its LATERAL ... LIMIT over
 * an unnest, keyed or not.)
 */
const NOT_KEYED_YET: Partial<Record<keyof typeof SQL, string>> = {}
/** What the pool sends as plain text: transaction control, and the commit feed's LISTEN. */
const CONTROL = /^(BEGIN|COMMIT|ROLLBACK|LISTEN \w+)$/
/** The plain shapes that Citus's (CITUS, CITUS_SQL.removeAckedOnCitus) replace: Citus would run them through the coordinator. */
const REPLACED_ON_CITUS = ['lockReceivers', 'writeBack', 'removeAcked'] as const

type Node = Record<string, unknown>
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value)
const list = (value: unknown): unknown[] => Array.isArray(value) ? value : []
/** The body of a node of this type ({ Type: body }), if it is one. */
const as = (value: unknown, type: string): Node | undefined => isNode(value) && isNode(value[type]) ? value[type] : undefined

/** A column reference's names, [alias, column] or [column]; undefined for anything else. */
function columnNames (value: unknown): string[] | undefined {
  const fields = list(as(value, 'ColumnRef')?.fields).map((field) => as(field, 'String')?.sval)
  return fields.length > 0 && fields.every((name) => typeof name === 'string') ? fields as string[] : undefined
}

/** A parameter, cast or collated or not, or a concatenation of them ($1::text[] || $4::text[]). */
function isParameter (value: unknown): boolean {
  if (as(value, 'ParamRef') !== undefined) return true
  const wrapped = as(value, 'TypeCast') ?? as(value, 'CollateClause')
  if (wrapped !== undefined) return isParameter(wrapped.arg)
  const operation = as(value, 'A_Expr')
  return operation?.kind === 'AEXPR_OP' && as(list(operation.name)[0], 'String')?.sval === '||' && isParameter(operation.lexpr) && isParameter(operation.rexpr)
}

/** The terms of a condition's top-level AND. */
const conjuncts = (condition: unknown): unknown[] => {
  const bool = as(condition, 'BoolExpr')
  return bool?.boolop === 'AND_EXPR' ? list(bool.args).flatMap(conjuncts) : condition === undefined ? [] : [condition]
}

/** One of the five tables in a FROM, JOIN, USING or target, with the conditions that restrict its rows. */
interface Reference { table: string, alias: string, conditions: unknown[] }

function reference (rangeVar: Node | undefined): Reference | undefined {
  const table = rangeVar?.relname
  if (typeof table !== 'string' || !TABLES.has(table)) return undefined
  const alias = isNode(rangeVar?.alias) ? rangeVar.alias.aliasname : undefined
  return { table, alias: typeof alias === 'string' ? alias : table, conditions: [] }
}

/** Whether a condition is `receiver_uid = $n`, `receiver_uid IN ($n, ...)` or `receiver_uid = ANY($n)` of this reference. */
function keys (condition: unknown, ref: Reference, alone: boolean): boolean {
  const operation = as(condition, 'A_Expr')
  if (operation === undefined || as(list(operation.name)[0], 'String')?.sval !== '=') return false
  const ofRef = (value: unknown): boolean => {
    const names = columnNames(value)
    return names !== undefined && names[names.length - 1] === 'receiver_uid' && (names.length === 2 ? names[0] === ref.alias : alone)
  }
  if (operation.kind === 'AEXPR_OP') return (ofRef(operation.lexpr) && isParameter(operation.rexpr)) || (ofRef(operation.rexpr) && isParameter(operation.lexpr))
  if (operation.kind === 'AEXPR_OP_ANY') return ofRef(operation.lexpr) && isParameter(operation.rexpr)
  if (operation.kind === 'AEXPR_IN') return ofRef(operation.lexpr) && list(as(operation.rexpr, 'List')?.items).every(isParameter)
  return false
}

/**
 * The references of a FROM list, each with the join conditions that restrict it: an inner join's restrict both
 * sides, a LEFT JOIN's only its right side (the left keeps every row), a RIGHT JOIN's its left side.
 */
function fromItems (items: unknown[]): { refs: Reference[], count: number } {
  const refs: Reference[] = []
  let count = 0
  for (const item of items) {
    const join = as(item, 'JoinExpr')
    if (join === undefined) {
      const ref = reference(as(item, 'RangeVar'))
      if (ref !== undefined) refs.push(ref)
      count++
      continue
    }
    const left = fromItems([join.larg])
    const right = fromItems([join.rarg])
    const quals = conjuncts(join.quals)
    const restricted = join.jointype === 'JOIN_INNER' ? [...left.refs, ...right.refs] : join.jointype === 'JOIN_LEFT' ? right.refs : join.jointype === 'JOIN_RIGHT' ? left.refs : []
    for (const ref of restricted) ref.conditions.push(...quals)
    refs.push(...left.refs, ...right.refs)
    count += left.count + right.count
  }
  return { refs, count }
}

/**
 * The references to the five tables that no receiver_uid key restricts, in every part of one statement: its CTEs,
 * UNION arms, subqueries in FROM, WHERE and the select list, and the targets of INSERT, UPDATE and DELETE.
 */
export function unkeyedReferences (text: string): string[] {
  const found: string[] = []
  const scope = (what: string, refs: Reference[], count: number, where: unknown): void => {
    for (const ref of refs) {
      const conditions = [...ref.conditions, ...conjuncts(where)]
      if (!conditions.some((condition) => keys(condition, ref, count === 1))) found.push(`${what} ${ref.table}${ref.alias === ref.table ? '' : ` AS ${ref.alias}`}`)
    }
  }
  const select = (statement: Node): void => {
    if (statement.op !== undefined && statement.op !== 'SETOP_NONE') {
      for (const arm of [statement.larg, statement.rarg]) if (isNode(arm)) select(arm)
      visit(statement.withClause)
      return
    }
    const { refs, count } = fromItems(list(statement.fromClause))
    scope('SELECT FROM', refs, count, statement.whereClause)
    visit(statement)
  }
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit)
    if (!isNode(value)) return
    for (const [type, body] of Object.entries(value)) {
      if (!isNode(body)) { visit(body); continue }
      if (type === 'SelectStmt') { select(body); continue }
      if (type === 'UpdateStmt' || type === 'DeleteStmt') {
        const target = reference(isNode(body.relation) ? body.relation : undefined)
        const { refs, count } = fromItems(list(type === 'UpdateStmt' ? body.fromClause : body.usingClause))
        scope(type === 'UpdateStmt' ? 'UPDATE' : 'DELETE FROM', target === undefined ? refs : [target, ...refs], count + 1, body.whereClause)
      }
      // An INSERT's target needs no key of its own: each row it writes carries its receiver_uid, and goes to that
      // receiver's shard alone (Citus evaluates an INSERT ... SELECT from parameters or CTEs on the coordinator, then
      // sends each row to its shard; ON CONFLICT updates only the rows the insert collides with). Its SELECT, which
      // the visit below reaches, must read keyed rows like any other.
      visit(body)
    }
  }
  for (const { stmt } of list((parseSync(text) as Node).stmts) as Node[]) visit(stmt)
  return found
}

/** Fails unless every reference of the statement to one of the five tables is keyed by receiver_uid. */
function expectKeyed (t: Test, label: string, text: string): void {
  t.strictSame(unkeyedReferences(text), [], `${label}: every table it reads or writes is keyed by receiver_uid`)
}

/** The statements pg's clients send while it runs: by name, or by text when unnamed. */
function recordStatements (t: Test): Map<string, string> {
  const sent = new Map<string, string>()
  const prototype = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }
  const query = prototype.query
  prototype.query = function (this: unknown, ...args: unknown[]) {
    const [config] = args
    if (typeof config === 'string') sent.set(config, config)
    else if (isNode(config) && typeof config.text === 'string') sent.set(typeof config.name === 'string' ? config.name : config.text, config.text)
    return query.apply(this, args)
  }
  t.teardown(() => { prototype.query = query })
  return sent
}

/** Every endpoint of the store, read, ack and device paths, once or in each of their variants. */
async function driveEveryEndpoint (t: Test, { call, clock, app }: TestApp, beforeTimePasses?: () => Promise<void>): Promise<void> {
  const expect = async (status: number, options: Parameters<TestApp['call']>[0]): Promise<void> => {
    const answer = await call(options)
    t.equal(answer.statusCode, status, `${options.method ?? 'GET'} ${String(options.url)}`)
  }
  // Every id and content named, so that two runs on two databases write the same rows.
  const store = (body: Record<string, unknown>) => ({ method: 'POST' as const, url: '/v1/messages', payload: newMessage({ content: body.msg_id, ...body }) })
  await expect(201, store({ receiver_uid: 'bob', msg_id: 'b-1' }))
  await expect(201, store({ receiver_uid: 'bob', msg_id: 'b-2', sender_uid: 'carol', content: 'b-2' }))
  await expect(200, store({ receiver_uid: 'bob', msg_id: 'b-2', sender_uid: 'carol', content: 'b-2' }))
  await expect(201, store({ receiver_uid: 'bob', msg_id: 'b-3' }))
  const batch = Array.from({ length: 6 }, (_, i) => newMessage({ receiver_uid: `r-${i % 3}`, sender_uid: i % 2 === 0 ? 'alice' : 'carol', msg_id: `g-${i}`, content: `g-${i}` }))
  await expect(200, { method: 'POST', url: '/v1/messages/batch', payload: { messages: batch } })
  // Over the quota of 4 (drop_oldest): the oldest of 'full' is dropped as lost.
  for (let i = 1; i <= 5; i++) await expect(201, store({ receiver_uid: 'full', msg_id: `f-${i}` }))

  await expect(200, { method: 'GET', url: '/v1/receivers/bob/senders' })
  // Summaries asked together share one statement (SQL.summaries).
  await Promise.all(['bob', 'r-0', 'r-1', 'nobody'].map((receiver) => expect(200, { method: 'GET', url: `/v1/receivers/${receiver}/senders` })))
  await expect(200, { method: 'GET', url: '/v1/receivers/bob/messages' })
  // Waiting pages of any sender asked together share one statement (SQL.pages); nobody's, empty, waits its second.
  await Promise.all(['bob', 'r-0', 'r-1', 'nobody'].map((receiver) => expect(200, { method: 'GET', url: `/v1/receivers/${receiver}/messages?wait_seconds=1` })))
  await expect(200, { method: 'GET', url: '/v1/receivers/bob/messages?sender_uid=carol' })
  await expect(200, { method: 'GET', url: '/v1/receivers/bob/messages/b-1' })
  // b-3 is alice's latest, b-1 stays: the summary row's preview is read again.
  await expect(200, { method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['b-3'] } })
  await expect(200, { method: 'POST', url: '/v1/receivers/r-0/acks', payload: { up_to_seq: 1 } })
  await expect(200, { method: 'POST', url: '/v1/receivers/r-1/acks', payload: { up_to_seq: 5, sender_uid: 'carol' } })
  await expect(204, { method: 'DELETE', url: '/v1/receivers/bob/messages/b-2' })
  await expect(200, { method: 'POST', url: '/v1/receivers/nobody/acks', payload: { up_to_seq: 3 } })

  // Devices: the first takes over the receiver's messages; reads and acks of one device.
  for (const device of ['phone', 'laptop', 'browser']) await expect(201, { method: 'PUT', url: `/v1/receivers/r-2/devices/${device}` })
  await expect(201, store({ receiver_uid: 'r-2', msg_id: 'd-1' }))
  await expect(201, store({ receiver_uid: 'r-2', msg_id: 'd-2', sender_uid: 'carol' }))
  await expect(200, { method: 'GET', url: '/v1/receivers/r-2/devices' })
  await expect(200, { method: 'GET', url: '/v1/receivers/r-2/senders?device_id=laptop' })
  await expect(200, { method: 'GET', url: '/v1/receivers/r-2/messages?device_id=laptop' })
  await expect(200, { method: 'GET', url: '/v1/receivers/r-2/messages?device_id=laptop&sender_uid=carol' })
  await expect(200, { method: 'GET', url: '/v1/receivers/r-2/messages/d-1?device_id=laptop' })
  await expect(200, { method: 'POST', url: '/v1/receivers/r-2/acks', payload: { device_id: 'laptop', msg_ids: ['d-1', 'd-2'] } })
  await expect(200, { method: 'POST', url: '/v1/receivers/r-2/acks', payload: { device_id: 'phone', up_to_seq: 10, sender_uid: 'carol' } })
  await expect(200, { method: 'POST', url: '/v1/receivers/r-2/acks', payload: { device_id: 'phone', up_to_seq: 10 } })
  await expect(204, { method: 'DELETE', url: '/v1/receivers/r-2/devices/browser' })

  // v1.2: a store with a collapse key reads what it replaces, the next one replaces it (its withdrawal in the
  // write-back); a batch whose second item replaces the first, not yet written (withdrawn at once); a recall; an erasure.
  await expect(201, store({ receiver_uid: 'kim', msg_id: 'k-1', collapse_key: 'typing' }))
  await expect(201, store({ receiver_uid: 'kim', msg_id: 'k-2', collapse_key: 'typing' }))
  const typing = ['k-b1', 'k-b2'].map((msgId) => newMessage({ receiver_uid: 'kim', msg_id: msgId, collapse_key: 'read', content: msgId }))
  await expect(200, { method: 'POST', url: '/v1/messages/batch', payload: { messages: typing } })
  await expect(201, store({ receiver_uid: 'kim', msg_id: 'k-3' }))
  await expect(200, { method: 'POST', url: '/v1/receivers/kim/messages/k-3/recall', payload: { sender_uid: 'alice' } })
  await expect(200, { method: 'DELETE', url: '/v1/receivers/r-0', headers: AUTH.operator })

  await beforeTimePasses?.()
  // Time passes: a message stored with a short TTL has expired (purged at the receiver's next write), and the
  // tombstone of b-2 is out of its dedup window (deleted when the id is stored again).
  await expect(201, store({ receiver_uid: 'eve', msg_id: 'e-1', ttl_seconds: 1 }))
  clock.advance(2 * 86400 * 1000)
  await expect(201, store({ receiver_uid: 'eve', msg_id: 'e-2' }))
  await expect(201, store({ receiver_uid: 'bob', msg_id: 'b-2' }))
  await expect(200, { method: 'GET', url: '/metrics' })
  await expect(200, { method: 'GET', url: '/readyz' })
  await app.messages.sweep()
}

const BAD = 'UPDATE receivers AS r SET last_seq = v.last_seq FROM unnest($1::text[], $2::bigint[]) AS v (receiver_uid, last_seq) WHERE r.receiver_uid = v.receiver_uid'

t.test('the check flags a table joined only on an unnest, and passes it keyed by = ANY', async (t) => {
  await loadModule()
  t.strictSame(unkeyedReferences(BAD), ['UPDATE receivers AS r'])
  t.strictSame(unkeyedReferences(`${BAD} AND r.receiver_uid = ANY($1::text[])`), [])
  t.strictSame(unkeyedReferences('SELECT * FROM messages WHERE (receiver_uid, msg_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))'), ['SELECT FROM messages'])
  t.strictSame(unkeyedReferences('SELECT * FROM receivers r LEFT JOIN devices d ON d.receiver_uid = $1 AND r.receiver_uid = $1'), ['SELECT FROM receivers AS r'])
  t.strictSame(unkeyedReferences('WITH x AS (DELETE FROM tombstones WHERE receiver_uid IN ($1, $2)) SELECT (SELECT count(*) FROM devices d WHERE d.receiver_uid = m.receiver_uid) FROM messages m WHERE m.receiver_uid = $1'),
    ['SELECT FROM devices AS d'])
})

t.test('every statement of the request path names its receivers by receiver_uid', async (t) => {
  if (TEST_STORE !== 'postgres') {
    // SQLite is one file on one machine: it has no shards to reach, and its statements are another text.
    t.pass('PostgreSQL only: run with TEST_STORE=postgres')
    return
  }
  await loadModule()
  const settings = { MAX_PENDING_PER_RECEIVER: '4', OVERFLOW_POLICY: 'drop_oldest', DEDUP_WINDOW_SECONDS: '86400' }
  const test = await buildTestApp(t, settings)
  const onCitus = test.app.store.writeLanes.laneOf !== undefined
  // Again with EVENTS=on (refused on Citus): the write-backs that carry the transaction's events (SQL.writeBackEvents).
  const withEvents = onCitus ? undefined : await buildTestApp(t, { ...settings, EVENTS: 'on' })
  const sent = recordStatements(t)
  await driveEveryEndpoint(t, test)
  if (withEvents !== undefined) await driveEveryEndpoint(t, withEvents)

  // Against a Citus coordinator (TEST_CITUS_URL) a transaction that holds its shard sends SQL's statements on the
  // shard's tables (named after SQL's with the shard's id after it, its tables named as Citus names shards: each is
  // checked as the statement it comes from), after its opening (the lock and the placement check, no table of the
  // service's); one that does not sends Citus's shapes, which are not in SQL: each is checked by its text, as the next
  // test checks them on plain PostgreSQL.
  const named = new Map(Object.entries(SQL).map(([key, sql]) => [sql.name, key as keyof typeof SQL]))
  // The event feed's statements (the sweep's retention here) are on its own table, not distributed: EVENTS=on cannot
  // start on Citus.
  const eventFeed = new Set(Object.values(EVENT_SQL).map((sql) => sql.name))
  // A write-back of fewer parts (writeBackOf: om_write_back_msr, ...) is checked as the write-back it comes from.
  const kin = (name: string): string => name.replace(/^om_write_back_(?:[msdrt]+|none)(?=_|$)/, 'om_write_back')
  for (const [sentName, sentText] of sent) {
    if (CONTROL.test(sentText) || (onCitus && ['om_lock_shards', 'om_placed_shards'].includes(sentName)) || eventFeed.has(sentName)) continue
    const onShard = onCitus ? /^(om_\w+)_\d+$/.exec(sentName) : null
    const name = kin(onShard?.[1] !== undefined && named.has(kin(onShard[1])) ? onShard[1] : sentName)
    const text = onShard === null ? sentText : sentText.replace(/\b(receivers|messages|tombstones|conversations|devices)_\d+\b/g, '$1')
    const key = named.get(name)
    if (key === undefined) {
      if (onCitus) expectKeyed(t, text.slice(0, 60), text)
      else t.fail(`the store sent a statement that is not in SQL: ${text}`)
      continue
    }
    if (OFF_THE_REQUEST_PATH[key] !== undefined || NOT_KEYED_YET[key] !== undefined) continue
    expectKeyed(t, key, text)
  }
  // removeAckedOnCitus goes only with Citus's shapes (the next test sends it), which a transaction that holds its shards
  // does not use; nor, on Citus, the shared summary and pages of several reads as they are (each shard's goes as its read).
  // On Citus a read goes on its shard's tables with its guard, named `<name>_read_<shard>` (ShardAccess.read).
  const sentKeys = new Set([...sent.keys()].map((name) => named.get(kin(name)) ?? named.get(kin(name.replace(/(_read)?_\d+$/, '')))))
  // Nor, on Citus, a write-back with withdrawals (they go at once there: TxStatements.defersWithdrawals) or events (EVENTS=on is refused).
  const notSentHere = new Set<string>(onCitus
    ? ['removeAckedOnCitus', 'summaries', 'pages', 'writeBackWithdrawing', 'writeBackEvents', 'writeBackWithdrawingEvents']
    : ['removeAckedOnCitus'])
  const notSent = [...named.values()].filter((key) => !sentKeys.has(key) && OFF_THE_REQUEST_PATH[key] === undefined && !notSentHere.has(key))
  t.strictSame(notSent, [], 'the endpoints driven here sent every statement of the request path')
})

/** Every row of the five tables, each table in key order. */
async function tables (test: TestApp): Promise<Record<string, unknown[]>> {
  const client = new pg.Client({ connectionString: test.config.database.databaseUrl })
  await client.connect()
  try {
    const order: Record<string, string> = {
      receivers: 'receiver_uid',
      messages: 'receiver_uid, seq',
      tombstones: 'receiver_uid, msg_id',
      conversations: 'receiver_uid, reader, sender_uid',
      devices: 'receiver_uid, slot'
    }
    const rows: Record<string, unknown[]> = {}
    for (const [table, key] of Object.entries(order)) rows[table] = (await client.query(`SELECT * FROM ${table} ORDER BY ${key}`)).rows
    return rows
  } finally {
    await client.end()
  }
}

t.test('with Citus\'s statement shapes, on plain PostgreSQL: every statement keyed, and the same answers and rows as without', async (t) => {
  if (TEST_STORE !== 'postgres') {
    t.pass('PostgreSQL only: run with TEST_STORE=postgres')
    return
  }
  await loadModule()
  const env = { MAX_PENDING_PER_RECEIVER: '4', OVERFLOW_POLICY: 'drop_oldest', DEDUP_WINDOW_SECONDS: '86400' }
  const plain = await buildTestApp(t, env)
  if (plain.app.store.writeLanes.laneOf !== undefined) {
    // On a Citus cluster every transaction holds its shard and sends the plain shapes on the shard's tables (the test
    // before this one); Citus's shapes go only when a shard moved under the map (citus-shards.test.ts moves one).
    t.pass('the test database is on Citus: Citus\'s shapes are for plain PostgreSQL here')
    return
  }
  const plainRows: Array<Record<string, unknown[]>> = []
  await driveEveryEndpoint(t, plain, async () => { plainRows.push(await tables(plain)) })
  const citus = await buildTestApp(t, env, undefined, createCitusShapesStore)
  const sent = recordStatements(t)
  const citusRows: Array<Record<string, unknown[]>> = []
  await driveEveryEndpoint(t, citus, async () => { citusRows.push(await tables(citus)) })

  for (const [name, text] of sent) {
    // The test's own reads of whole tables (tables()) go through pg's client too.
    if (CONTROL.test(text) || /^SELECT \* FROM \w+ ORDER BY /.test(text)) continue
    const key = Object.entries({ ...SQL, ...CITUS_SQL }).find(([, sql]) => sql.name === name)?.[0] as keyof typeof SQL | undefined
    if (key !== undefined && OFF_THE_REQUEST_PATH[key] !== undefined) continue
    expectKeyed(t, key ?? text.slice(0, 60), text)
  }
  const texts = [...sent.values()]
  t.ok(texts.some((text) => /^INSERT INTO receivers \(.*\) VALUES \(\$1, 0, 0, NULL, 0\)/.test(text)), 'receivers locked with a multi-row VALUES')
  t.ok(texts.some((text) => /^INSERT INTO messages \(.*\) VALUES \(\$1, /.test(text)), 'messages inserted with VALUES, a statement of their own')
  t.ok(texts.some((text) => /^INSERT INTO tombstones \(.*\) VALUES \(\$1, /.test(text)), 'tombstones inserted with VALUES, a statement of their own')
  t.ok(texts.some((text) => /^INSERT INTO receivers \(.*\) VALUES \(\$1, .* ON CONFLICT \(receiver_uid\) DO UPDATE SET last_seq = excluded\.last_seq/.test(text)),
    'receivers written back by an upsert of VALUES, a statement of its own')
  t.notOk(texts.some((text) => text.startsWith('UPDATE receivers')), 'no UPDATE of receivers joined on an unnest (Citus plans that on each shard)')
  t.notOk(texts.some((text) => /AS \((INSERT INTO|UPDATE receivers)/.test(text)), 'the write-back in no CTE (Citus runs each CTE that writes as a subplan of its own)')
  t.ok(sent.has(CITUS_SQL.removeAckedOnCitus.name), 'acks through removeAckedOnCitus')
  t.strictSame(REPLACED_ON_CITUS.map((key) => SQL[key].name).filter((name) => sent.has(name)), [],
    'none of the shapes that Citus runs through the coordinator')
  t.ok((plainRows[0]?.tombstones?.length ?? 0) > 0, 'acks left tombstones to compare')
  t.strictSame(citusRows, plainRows, 'the same rows in every table, tombstones included, before time passes')
  t.strictSame(await tables(citus), await tables(plain), 'and after the sweep')
})
