// Hostile input, property-based: requests generated from the OpenAPI document, then mutated, never get a 5xx, always get the contract's error shape, store or delete nothing when rejected, and leave the service answering.
import { STATUS_CODES } from 'node:http'
import t, { type Test } from 'tap'
import fc from 'fast-check'
import { Ajv, type ValidateFunction } from 'ajv'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { AUTH, KEYS, buildTestApp } from '../helpers/app.js'
import {
  type ApiRequest, type JsonSchema, type Operation, type WireRequest,
  DEFAULT_MAX_ARRAY_ITEMS, garbageAuthorization, hostileCase, hostileRequestArbitrary, oddRequestArbitrary, operation, printable,
  overlongParameterArbitrary, requestArbitrary, schemaArbitrary, toWire, v1Operations
} from './arbitraries.js'

// Deterministic by default; FC_SEED=<n> replays or explores another sequence.
const SEED = process.env.FC_SEED !== undefined && process.env.FC_SEED !== '' ? Number(process.env.FC_SEED) : 20261127
const RUNS = { valid: 100, mutated: 150, stored: 150, acked: 100, paths: 250, pathsWithKey: 120, auth: 250, overlong: 60 }

const { app, config } = await buildTestApp(t)
const LIMITS = { bodyLimitBytes: config.http.bodyLimitBytes }
const SECRETS = Object.values(KEYS).map((entry) => entry.split(':')[1] as string)
const KEY_NAMES = Object.values(KEYS).map((entry) => entry.split(':')[0] as string)

const STORE = operation('POST /v1/messages')
const BATCH = operation('POST /v1/messages/batch')
const ACK = operation('POST /v1/receivers/{receiver_uid}/acks')
const DELETE = operation('DELETE /v1/receivers/{receiver_uid}/messages/{msg_id}')

async function send (wire: WireRequest, headers: Record<string, string | string[]> = AUTH.admin): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method: wire.method as InjectOptions['method'], url: wire.url, headers: { ...headers, ...wire.headers } }
  if (wire.payload !== undefined) options.payload = wire.payload
  return await app.inject(options)
}

/** Runs a property with the file's seed; a failure becomes one tap failure carrying fast-check's shrunk counterexample. */
async function holds<T> (t: Test, name: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, numRuns: number): Promise<void> {
  const details = await fc.check(fc.asyncProperty(arbitrary, predicate), { seed: SEED, numRuns, interruptAfterTimeLimit: 120_000 })
  if (details.failed) {
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
    t.fail(`${name}\n${fc.defaultReportMessage(details) ?? ''}\nFailure: ${error}`)
  } else {
    t.pass(`${name} (${details.numRuns} runs, seed ${SEED})`)
  }
}

const excerpt = (res: LightMyRequestResponse) => `${res.statusCode} ${res.body.length > 400 ? `${res.body.slice(0, 400)}...` : res.body}`

function fail (problems: string[], res: LightMyRequestResponse): void {
  if (problems.length > 0) throw new Error(`${problems.join('; ')} | answer: ${excerpt(res)}`)
}

// ---------------------------------------------------------------------------------------------------------------
// What every answer must look like

// SQL and driver vocabulary that has no business in an error message; quoted values (echoed input) are removed first.
const SQL = /select\s[\s\S]*\sfrom\b|insert\s+into|delete\s+from|update\s+\w+\s+set\b|\bsqlite|\bsqlstate|\bpostgres|\bpg_\w+|\bknex\b|syntax error|relation\s+"|violates|duplicate key|\bconstraint\b|\bon conflict\b/i
// Stack frames ("    at fn (file.ts:1:2)") and this checkout's own paths; plain words from an echoed URL are fine.
const STACK = /\n\s+at\s|\s{4}at\s|\S\.(?:ts|js|mjs|cjs):\d+:\d+|file:\/\//

function errorShapeProblems (res: LightMyRequestResponse): string[] {
  const status = res.statusCode
  const problems: string[] = []
  if (!/^application\/json/.test(String(res.headers['content-type']))) problems.push(`content-type ${String(res.headers['content-type'])} is not JSON`)
  if (STACK.test(res.body) || res.body.includes(process.cwd())) problems.push('the answer carries a stack trace or a file path')
  let body: unknown
  try {
    body = JSON.parse(res.body)
  } catch {
    return [...problems, 'the error body is not JSON']
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [...problems, 'the error body is not an object']
  const error = body as Record<string, unknown>
  const keys = Object.keys(error).sort()
  if (keys.join() !== 'code,error,message,statusCode') problems.push(`error keys are ${JSON.stringify(keys)}, not exactly statusCode, code, error, message`)
  if (error.statusCode !== status) problems.push(`body statusCode ${String(error.statusCode)} differs from the HTTP status ${status}`)
  if (typeof error.code !== 'string' || !/^[A-Z0-9_]+$/.test(error.code)) problems.push(`code ${JSON.stringify(error.code)} is not an upper-case identifier`)
  if (error.error !== STATUS_CODES[status]) problems.push(`error ${JSON.stringify(error.error)} is not the reason phrase of ${status} (${String(STATUS_CODES[status])})`)
  if (typeof error.message !== 'string' || error.message === '') problems.push('message is not a non-empty string')
  else {
    const own = error.message.replace(/^no route \S+ .*/s, 'no route').replace(/"[^"]*"/g, '""').replace(/'[^']*'/g, "''")
    if (SQL.test(own)) problems.push(`message looks like SQL: ${error.message.slice(0, 200)}`)
  }
  return problems
}

/** No 5xx; a 4xx in the error shape (HEAD answers have no body to check). */
function basicProblems (res: LightMyRequestResponse, method: string): string[] {
  if (res.statusCode >= 500) return [`answered ${res.statusCode}`]
  if (res.statusCode >= 400 && method !== 'HEAD') return errorShapeProblems(res)
  return []
}

function expectationProblems (c: { expect: number[] | 'any' }, res: LightMyRequestResponse): string[] {
  if (c.expect === 'any' || c.expect.includes(res.statusCode)) return []
  return [`expected ${c.expect.join(' or ')}, answered ${res.statusCode}`]
}

function prototypeProblems (): string[] {
  const probe = {} as Record<string, unknown>
  return ['polluted', 'isAdmin', 'additionalProperties'].filter((key) => probe[key] !== undefined).map((key) => `Object.prototype.${key} was polluted`)
}

// 2xx bodies are checked against the documented schemas, closed (no undocumented fields) and with times in the contract's form.
const responseAjv = new Ajv({ strict: false, allErrors: true })
responseAjv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)

function closed (schema: JsonSchema): JsonSchema {
  const copy: JsonSchema = { ...schema }
  if (copy.properties !== undefined) {
    copy.properties = Object.fromEntries(Object.entries(copy.properties).map(([name, s]) => [name, closed(s)]))
    copy.additionalProperties ??= false
  }
  if (copy.items !== undefined) copy.items = closed(copy.items)
  if (copy.anyOf !== undefined) copy.anyOf = copy.anyOf.map(closed)
  return copy
}

const validators = new Map<string, ValidateFunction>()
function responseValidator (op: Operation, status: number): ValidateFunction | undefined {
  const schema = op.responses.get(status)
  if (schema === undefined) return undefined
  const key = `${op.id} ${status}`
  if (!validators.has(key)) validators.set(key, responseAjv.compile(closed(schema)))
  return validators.get(key)
}

function successProblems (request: ApiRequest, res: LightMyRequestResponse): string[] {
  const { op } = request
  const status = res.statusCode
  const problems: string[] = []
  if (!op.responses.has(status)) return [`status ${status} is not documented for ${op.id}`]
  if (status < 200 || status >= 300) return problems
  const validate = responseValidator(op, status)
  if (validate === undefined) return res.body === '' ? [] : [`${status} should have no body`]
  if (!/^application\/json/.test(String(res.headers['content-type']))) problems.push('2xx content-type is not JSON')
  const body = res.json()
  if (!validate(body)) problems.push(`body does not match the documented ${status} schema: ${responseAjv.errorsText(validate.errors)}`)
  const sent = request.body as Record<string, unknown> | undefined
  if (op === STORE && sent !== undefined) {
    for (const field of ['receiver_uid', 'sender_uid', 'msg_type', 'content', 'msg_id']) {
      if (sent[field] !== undefined && body[field] !== sent[field]) problems.push(`stored ${field} ${JSON.stringify(body[field])} differs from the one sent`)
    }
    if (body.duplicate !== (status === 200)) problems.push(`duplicate is ${String(body.duplicate)} with status ${status}`)
  }
  if (op === BATCH && sent !== undefined) {
    const messages = sent.messages as Array<Record<string, unknown>>
    const results = body.results as Array<Record<string, unknown>>
    if (results.length !== messages.length) problems.push(`${results.length} results for ${messages.length} messages`)
    results.forEach((result, i) => {
      const msgId = messages[i]?.msg_id
      if (msgId !== undefined && result.msg_id !== msgId) problems.push(`result ${i} is for ${String(result.msg_id)}, not ${String(msgId)}`)
      if ((result.status === 'stored' || result.status === 'duplicate') !== Number.isInteger(result.seq)) problems.push(`result ${i}: status ${String(result.status)} with seq ${String(result.seq)}`)
    })
  }
  if (op.id === 'GET /v1/receivers/{receiver_uid}/messages') {
    const messages = body.messages as Array<Record<string, unknown>>
    const sender = request.query.find(([name]) => name === 'sender_uid')?.[1]
    messages.forEach((m, i) => {
      if (m.receiver_uid !== request.params.receiver_uid) problems.push(`page holds a message of receiver ${String(m.receiver_uid)}`)
      if (sender !== undefined && m.sender_uid !== sender) problems.push(`page for sender ${sender} holds one of ${String(m.sender_uid)}`)
      if (i > 0 && (m.seq as number) <= ((messages[i - 1] as Record<string, unknown>).seq as number)) problems.push('page is not in ascending seq order')
    })
  }
  if (op.id === 'GET /v1/receivers/{receiver_uid}/senders' && body.receiver_uid !== request.params.receiver_uid) problems.push('summary is for another receiver')
  if (op.id === 'GET /v1/receivers/{receiver_uid}/messages/{msg_id}' &&
    (body.receiver_uid !== request.params.receiver_uid || body.msg_id !== request.params.msg_id)) problems.push('GET answered another message')
  return problems
}

// Stores meet each other on a few common ids, so retries, conflicts, fetches and acks hit real messages.
const POOLS = {
  receiver_uid: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('bob', 'alice', 'carol.1') }, schemaArbitrary(STORE.body?.properties?.receiver_uid ?? {})),
  sender_uid: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('alice', 'dave', 'eve@x') }, schemaArbitrary(STORE.body?.properties?.sender_uid ?? {})),
  msg_id: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('m1', 'm2', 'm3') }, schemaArbitrary(STORE.body?.properties?.msg_id ?? {}))
}

async function totalPending (): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const match = /^offline_messages_pending (\d+)$/m.exec(text)
  if (match?.[1] === undefined) throw new Error('no offline_messages_pending in /metrics')
  return Number(match[1])
}

async function pendingIds (receiverUid: string): Promise<string[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/receivers/${encodeURIComponent(receiverUid)}/messages?limit=1000`, headers: AUTH.admin })
  if (res.statusCode !== 200) throw new Error(`listing ${receiverUid} answered ${excerpt(res)}`)
  return (res.json().messages as Array<{ msg_id: string }>).map((m) => m.msg_id)
}

/** Replaces placeholder ids in a request (URL and payload, also a raw byte payload) by the ones of this run. */
function substitute (wire: WireRequest, replacements: Record<string, string>): WireRequest {
  const apply = (text: string) => Object.entries(replacements).reduce((out, [from, to]) => out.split(from).join(to), text)
  const payload = wire.payload === undefined
    ? undefined
    : Buffer.isBuffer(wire.payload) ? Buffer.from(apply(wire.payload.toString('latin1')), 'latin1') : apply(wire.payload)
  return { ...wire, url: apply(wire.url), ...(payload === undefined ? {} : { payload }) }
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Valid requests

for (const op of v1Operations) {
  t.test(`valid ${op.id} requests generated from the OpenAPI schemas never answer 5xx, and answer only documented statuses and shapes`, async (t) => {
    const arbitrary = requestArbitrary(op, { overrides: POOLS }).map((request) => printable({ mutation: 'valid', wire: toWire(request), request }))
    await holds(t, op.id, arbitrary, async ({ wire, request }) => {
      const res = await send(wire)
      fail([...basicProblems(res, wire.method), ...successProblems(request, res)], res)
    }, RUNS.valid)
  })
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Mutated requests

for (const op of v1Operations) {
  t.test(`mutated ${op.id} requests never answer 5xx, are rejected with the status the contract names, and every 4xx has exactly the error shape`, async (t) => {
    const arbitrary = hostileRequestArbitrary(op, LIMITS, { overrides: POOLS }).map(printable)
    await holds(t, op.id, arbitrary, async (c) => {
      const res = await send(c.wire)
      fail([...basicProblems(res, c.wire.method), ...expectationProblems(c, res), ...prototypeProblems()], res)
    }, RUNS.mutated)
  })
}

t.test('a path parameter longer than the router\'s limit is a rule-breaking id like any other: 400 in the error shape with a key, 401 without one', async (t) => {
  const withParams = v1Operations.filter((op) => op.pathParams.length > 0)
  const arbitrary = fc.constantFrom(...withParams).chain((op) => overlongParameterArbitrary(op, { overrides: POOLS })).map(printable)
  await holds(t, 'over-long path parameters', arbitrary, async (c) => {
    const withKey = await send(c.wire)
    fail([...basicProblems(withKey, c.wire.method), ...expectationProblems(c, withKey)].map((p) => `with a key: ${p}`), withKey)
    const withoutKey = await send(c.wire, {})
    fail([...basicProblems(withoutKey, c.wire.method), ...expectationProblems({ expect: [401] }, withoutKey)].map((p) => `without a key: ${p}`), withoutKey)
  }, RUNS.overlong)
})

// ---------------------------------------------------------------------------------------------------------------
// 3. Nothing from a rejected request is stored, and a rejected ack deletes nothing

const RECEIVER_TOKEN = 'RCVTOKEN'
const MSG_TOKEN = 'MSGTOKEN'

/** Points every message of a store or batch body at the run's own receiver and ids (placeholders, replaced when sent). */
function dedicate (request: ApiRequest): ApiRequest {
  const mark = (message: Record<string, unknown>, i: number) => ({ ...message, receiver_uid: RECEIVER_TOKEN, msg_id: `${MSG_TOKEN}.${i}` })
  const body = request.body as Record<string, unknown>
  if (request.op === BATCH) return { ...request, body: { ...body, messages: (body.messages as Array<Record<string, unknown>>).map(mark) } }
  return { ...request, body: mark(body, 0) }
}

let run = 0
for (const op of [STORE, BATCH]) {
  t.test(`a rejected ${op.id} stores nothing: its receiver has nothing pending and its msg_ids are not found`, async (t) => {
    const arbitrary = requestArbitrary(op).map(dedicate).chain((request) => hostileCase(request, LIMITS)).map(printable)
    await holds(t, op.id, arbitrary, async (c) => {
      run++
      const receiverUid = `rj.${run}`
      const wire = substitute(c.wire, { [RECEIVER_TOKEN]: receiverUid, [MSG_TOKEN]: `m${run}` })
      const before = await totalPending()
      const res = await send(wire)
      const problems = [...basicProblems(res, wire.method), ...expectationProblems(c, res)]
      if (res.statusCode >= 400 && res.statusCode < 500) {
        const pending = await pendingIds(receiverUid)
        if (pending.length > 0) problems.push(`receiver ${receiverUid} has ${JSON.stringify(pending)} pending after a ${res.statusCode}`)
        const summary = await app.inject({ method: 'GET', url: `/v1/receivers/${receiverUid}/senders`, headers: AUTH.admin })
        if (summary.json().total_pending !== 0 || summary.json().senders.length !== 0) problems.push(`summary after a ${res.statusCode}: ${summary.body}`)
        const count = op === BATCH ? DEFAULT_MAX_ARRAY_ITEMS : 1
        for (let i = 0; i < count; i++) {
          const one = await app.inject({ method: 'GET', url: `/v1/receivers/${receiverUid}/messages/m${run}.${i}`, headers: AUTH.admin })
          if (one.statusCode !== 404) problems.push(`m${run}.${i} answers ${one.statusCode} after a ${res.statusCode}`)
        }
        const after = await totalPending()
        if (after !== before) problems.push(`pending over all receivers went from ${before} to ${after} after a ${res.statusCode}`)
      }
      fail(problems, res)
    }, RUNS.stored)
  })
}

const VICTIM_TOKEN = 'VICTIMTOKEN'
const VICTIM_MSG = 'VMSGTOKEN'
const VICTIM_IDS = [0, 1, 2].map((i) => `${VICTIM_MSG}.${i}`)

for (const op of [ACK, DELETE]) {
  t.test(`a rejected ${op.id} deletes nothing`, async (t) => {
    let epoch = 0
    let victim = ''
    let seeded: string[] = []
    async function reseed (): Promise<void> {
      epoch++
      victim = `victim.${op === ACK ? 'a' : 'd'}.${epoch}`
      seeded = VICTIM_IDS.map((_id, i) => `v${epoch}.${i}`)
      for (const msgId of seeded) {
        const res = await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH.admin, payload: { receiver_uid: victim, sender_uid: 'alice', msg_id: msgId, msg_type: 1, content: 'keep me' } })
        if (res.statusCode !== 201) throw new Error(`seeding ${victim} answered ${excerpt(res)}`)
      }
    }
    await reseed()
    // Bodies that would delete everything of the victim if they were accepted.
    const bodies = [{ msg_ids: VICTIM_IDS }, { up_to_seq: Number.MAX_SAFE_INTEGER }, { up_to_seq: Number.MAX_SAFE_INTEGER, sender_uid: 'alice' }]
    const base = fc.tuple(
      requestArbitrary(op, { overrides: { receiver_uid: fc.constant(VICTIM_TOKEN), msg_id: fc.constantFrom(...VICTIM_IDS) } }),
      fc.constantFrom(...bodies)
    ).map(([request, body]) => op === ACK ? { ...request, body } : request)
    const arbitrary = base.chain((request) => hostileCase(request, LIMITS)).map(printable)
    await holds(t, op.id, arbitrary, async (c) => {
      const replacements: Record<string, string> = { [VICTIM_TOKEN]: victim }
      VICTIM_IDS.forEach((id, i) => { replacements[id] = seeded[i] as string })
      const wire = substitute(c.wire, replacements)
      const res = await send(wire)
      const problems = [...basicProblems(res, wire.method), ...expectationProblems(c, res)]
      if (res.statusCode >= 400 && res.statusCode < 500) {
        const pending = await pendingIds(victim)
        if (pending.join() !== seeded.join()) problems.push(`after a ${res.statusCode}, ${victim} holds ${JSON.stringify(pending)}, not ${JSON.stringify(seeded)}`)
      } else if (res.statusCode < 300) {
        await reseed()
      }
      fail(problems, res)
    }, RUNS.acked)
  })
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Odd paths and methods

const OPS_ROUTES = ['/healthz', '/readyz', '/metrics', '/openapi.json']
const OPEN_PATHS = /^\/(healthz|readyz|metrics|openapi\.json|docs)(\/|$)/
const LEAKS = ['"name": "offline-messages"', '"devDependencies"', 'root:x:0:0', 'createAuthHook', 'BEGIN PRIVATE KEY']

/** The path as the service sees it after light-my-request has parsed the URL (dot segments resolved, as its parse-url does). */
const effectivePath = (url: string): string => new URL(url.startsWith('//') ? `http://localhost${url}` : url, 'http://localhost').pathname

function decodable (path: string): boolean {
  try {
    for (const segment of path.split('/')) decodeURIComponent(segment)
    return true
  } catch {
    return false
  }
}

/** The router decodes percent-escapes in literal segments (/v1/%6Dessages is /v1/messages). */
function decodedOrRaw (segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/** The /v1 operation whose template this path fits (literal segments equal; the router lets a parameter be empty), if any. */
function v1Route (method: string, path: string): Operation | undefined {
  const segments = path.split('/')
  return v1Operations.find((op) => {
    if (op.method !== method && !(method === 'HEAD' && op.method === 'GET')) return false
    const template = op.path.split('/')
    return template.length === segments.length && template.every((part, i) => /^\{.+\}$/.test(part) || part === segments[i] || part === decodedOrRaw(segments[i] ?? ''))
  })
}

function oddPathProblems (wire: WireRequest, res: LightMyRequestResponse, withKey: boolean): string[] {
  const problems = basicProblems(res, wire.method)
  const path = effectivePath(wire.url)
  const status = res.statusCode
  const code = wire.method === 'HEAD' || status < 400 || !/^application\/json/.test(String(res.headers['content-type'])) ? undefined : (res.json() as { code?: string }).code
  // Malformed percent-encoding is refused by the router before any route (or hook) is chosen; a HEAD answer has no code to show it.
  const badUrl = status === 400 && (code === 'FST_ERR_BAD_URL' || (code === undefined && !decodable(path)))
  if (path === '/v1' || path.startsWith('/v1/')) {
    const route = v1Route(wire.method, path)
    if (!withKey) {
      if (route !== undefined && decodable(path) && status !== 401) problems.push(`${wire.method} ${path} is ${route.id}: without a key it must answer 401, not ${status}`)
      if (route === undefined && ![401, 404].includes(status) && !badUrl) problems.push(`without a key on /v1, ${status} is neither 401 nor 404`)
      if (status === 404 && code !== undefined && code !== 'ROUTE_NOT_FOUND') problems.push(`a 404 without a key must be ROUTE_NOT_FOUND, not ${code}`)
    } else if (route === undefined && status !== 404 && !badUrl) {
      problems.push(`no route fits ${wire.method} ${path}, yet it answered ${status}`)
    }
    if (status < 400 && route === undefined) problems.push(`${status} on a path no route fits`)
  } else {
    if (status < 400 && (!['GET', 'HEAD'].includes(wire.method) || !OPEN_PATHS.test(path))) problems.push(`${status} for ${wire.method} ${path}`)
    if (status === 404 && code !== undefined && code !== 'ROUTE_NOT_FOUND') problems.push(`404 with code ${code}`)
    // Outside /docs (whose static files are a wildcard route) the routes are known: anything else is an unknown route.
    const known = OPS_ROUTES.includes(path) && ['GET', 'HEAD'].includes(wire.method)
    if (!path.startsWith('/docs') && !known && status !== 404 && !badUrl) problems.push(`${wire.method} ${path} is no route, yet it answered ${status}, not 404`)
  }
  for (const leak of LEAKS) if (res.body.includes(leak)) problems.push(`the answer leaks ${leak}`)
  return problems
}

t.test('odd paths and methods without a key: never 5xx, the error shape, 401 on a /v1 route, 404 ROUTE_NOT_FOUND elsewhere', async (t) => {
  await holds(t, 'odd paths, no key', oddRequestArbitrary, async ({ wire }) => {
    const res = await send(wire, {})
    fail(oddPathProblems(wire, res, false), res)
  }, RUNS.paths)
})

t.test('odd paths and methods with a key: never 5xx, the error shape, 404 ROUTE_NOT_FOUND where no route fits', async (t) => {
  await holds(t, 'odd paths, admin key', oddRequestArbitrary, async ({ wire }) => {
    const res = await send(wire)
    fail(oddPathProblems(wire, res, true), res)
  }, RUNS.pathsWithKey)
})

// ---------------------------------------------------------------------------------------------------------------
// 5. Garbage Authorization headers

t.test('a garbage Authorization header always answers 401 UNAUTHORIZED on every /v1 route, never 403, 2xx or 5xx', async (t) => {
  const arbitrary = fc.tuple(fc.constantFrom(...v1Operations).chain((op) => requestArbitrary(op)), garbageAuthorization(SECRETS, KEY_NAMES))
    .map(([request, authorization]) => printable({ mutation: `Authorization: ${JSON.stringify(authorization).slice(0, 200)}`, wire: toWire(request), authorization }))
  await holds(t, 'garbage Authorization', arbitrary, async ({ wire, authorization }) => {
    const res = await send(wire, { authorization })
    const problems = res.statusCode === 401 ? errorShapeProblems(res) : [`answered ${res.statusCode}, not 401`]
    if (res.statusCode === 401 && res.json().code !== 'UNAUTHORIZED') problems.push(`code ${String(res.json().code)}`)
    if (res.statusCode === 401 && res.headers['www-authenticate'] !== 'Bearer') problems.push('no WWW-Authenticate: Bearer')
    fail(problems, res)
  }, RUNS.auth)
})

// ---------------------------------------------------------------------------------------------------------------
// 6. Still answering

t.test('after all of that the service still answers: healthz, readyz, a valid store and its fetch', async (t) => {
  t.strictSame(prototypeProblems(), [], 'Object.prototype is untouched')
  const health = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.strictSame(health.json(), { status: 'ok' })
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const message = { receiver_uid: 'survivor', sender_uid: 'alice', msg_id: 'after-the-storm', msg_type: 1, content: 'still here ✓ 😀' }
  const stored = await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH.router, payload: message })
  t.equal(stored.statusCode, 201, stored.body)
  const fetched = await app.inject({ method: 'GET', url: '/v1/receivers/survivor/messages/after-the-storm', headers: AUTH.gateway })
  t.equal(fetched.statusCode, 200, fetched.body)
  t.match(fetched.json(), message)
  t.equal((await app.inject({ method: 'GET', url: '/v1/receivers/survivor/messages', headers: AUTH.gateway })).json().messages.length, 1)
})
