// API keys are compared in constant time: a static check that auth.ts hashes and compares every key without an early exit, and a behavioural check that near misses are indistinguishable.
import { readFileSync } from 'node:fs'
import t from 'tap'
import fc from 'fast-check'
import ts from 'typescript'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp } from '../helpers/app.js'

const SEED = process.env.FC_SEED !== undefined && process.env.FC_SEED !== '' ? Number(process.env.FC_SEED) : 20261127

// ---------------------------------------------------------------------------------------------------------------
// (a) Static check on the source text of src/http/auth.ts: no timing measurement, the mechanism itself.

const AUTH_SOURCE = readFileSync(new URL('../../src/http/auth.ts', import.meta.url), 'utf8')

function all (node: ts.Node, predicate: (n: ts.Node) => boolean): ts.Node[] {
  const found: ts.Node[] = []
  const visit = (n: ts.Node): void => {
    if (predicate(n)) found.push(n)
    n.forEachChild(visit)
  }
  visit(node)
  return found
}

const isCallTo = (name: string) => (n: ts.Node): boolean =>
  ts.isCallExpression(n) && ((ts.isIdentifier(n.expression) && n.expression.text === name) ||
    (ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === name))

const LOOPS = new Set([ts.SyntaxKind.ForOfStatement, ts.SyntaxKind.ForStatement, ts.SyntaxKind.ForInStatement, ts.SyntaxKind.WhileStatement, ts.SyntaxKind.DoStatement])
const EARLY_STOPPING = ['find', 'some', 'every', 'findIndex', 'findLast', 'findLastIndex', 'filter']
const SHORT_CIRCUIT = new Set([ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken, ts.SyntaxKind.BarBarEqualsToken, ts.SyntaxKind.QuestionQuestionEqualsToken])
const COMPARISON = new Set([ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken, ts.SyntaxKind.LessThanToken, ts.SyntaxKind.GreaterThanToken, ts.SyntaxKind.LessThanEqualsToken,
  ts.SyntaxKind.GreaterThanEqualsToken])

const methodName = (n: ts.Node): string | undefined =>
  ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) ? n.expression.name.text : undefined

/**
 * What in this source would let the time of a key check depend on the key: an empty list means the presented token is
 * hashed, and compared with crypto.timingSafeEqual against the digest of every configured key, with no early exit.
 */
function constantTimeProblems (text: string): string[] {
  const source = ts.createSourceFile('auth.ts', text, ts.ScriptTarget.ES2022, true)
  const problems: string[] = []

  const imports = all(source, (n) => ts.isImportDeclaration(n) && ['node:crypto', 'crypto'].includes((n.moduleSpecifier as ts.StringLiteral).text))
  if (!imports.some((n) => /\btimingSafeEqual\b/.test(n.getText()))) problems.push('timingSafeEqual is not imported from node:crypto')

  // Functions whose body calls createHash (declarations, or arrows and function expressions bound to a name).
  const hashFunctions = new Set(all(source, (n) =>
    (ts.isFunctionDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n)) && all(n, isCallTo('createHash')).length > 0
  ).map((fn) => {
    if (ts.isFunctionDeclaration(fn)) return fn.name?.text
    return ts.isVariableDeclaration(fn.parent) && ts.isIdentifier(fn.parent.name) ? fn.parent.name.text : undefined
  }).filter((name): name is string => name !== undefined))
  const isHashCall = (n: ts.Node): n is ts.CallExpression => ts.isCallExpression(n) &&
    ((ts.isIdentifier(n.expression) && hashFunctions.has(n.expression.text)) ||
      (methodName(n) === 'digest' && all(n, isCallTo('createHash')).length > 0))
  const initializerOf = (name: string): ts.Expression | undefined =>
    (all(source, (n) => ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name)[0] as ts.VariableDeclaration | undefined)?.initializer

  const calls = all(source, isCallTo('timingSafeEqual')) as ts.CallExpression[]
  if (calls.length !== 1) return [...problems, `${calls.length} timingSafeEqual calls, not exactly one that decides which key matched`]
  const call = calls[0] as ts.CallExpression

  // Both sides are digests: equal lengths, so timingSafeEqual never throws and a secret's length does not show.
  let token: string | undefined
  let keyDigest = false
  for (const argument of call.arguments) {
    const value = ts.isIdentifier(argument) ? initializerOf(argument.text) ?? argument : argument
    if (isHashCall(value)) token = value.arguments[0]?.getText()
    else if (ts.isPropertyAccessExpression(value) && all(source, (n) => isHashCall(n) && /\.secret\b/.test(n.arguments[0]?.getText() ?? '')).length > 0) keyDigest = true
  }
  if (token === undefined) problems.push('no side of timingSafeEqual is a hash of the presented token')
  if (!keyDigest) problems.push("no side of timingSafeEqual is a configured key's digest (a hash of key.secret)")

  // The comparison runs inside a loop (for, or forEach) whose every pass reaches it.
  let loop: ts.Node | undefined
  for (let n: ts.Node | undefined = call.parent; n !== undefined && loop === undefined; n = n.parent) {
    if (LOOPS.has(n.kind) || methodName(n) === 'forEach') loop = n
    else if (methodName(n) !== undefined && EARLY_STOPPING.includes(methodName(n) as string)) problems.push(`timingSafeEqual runs in a .${String(methodName(n))}() callback, which stops at the first match`)
  }
  if (loop === undefined) return [...problems, 'timingSafeEqual is not inside a loop over the keys']
  const nested = all(loop, (f) => ts.isFunctionLike(f) && f !== loop && !(f.parent !== undefined && f.parent === loop))
  const exits = all(loop, (n) => ts.isBreakStatement(n) || ts.isReturnStatement(n) || ts.isThrowStatement(n) || ts.isContinueStatement(n))
    .filter((n) => !nested.some((f) => f.pos <= n.pos && n.end <= f.end))
  for (const exit of exits) problems.push(`the loop can stop early: ${exit.getText()}`)
  let child: ts.Node = call
  for (let n = call.parent; n !== loop; child = n, n = n.parent) {
    if (ts.isBinaryExpression(n) && SHORT_CIRCUIT.has(n.operatorToken.kind) && n.right === child) problems.push(`the comparison is the right operand of ${n.operatorToken.getText()}, skipped once a key matched`)
    if (ts.isConditionalExpression(n) && n.condition !== child) problems.push('the comparison sits in one branch of a ?: expression')
    if (ts.isIfStatement(n) && n.expression !== child) problems.push('the comparison sits in one branch of an if')
  }

  // The loop walks the whole list: the factory's keys, or a list mapped one to one from them (no slice, filter or find).
  const iterated = ts.isForOfStatement(loop) ? loop.expression : ts.isCallExpression(loop) && ts.isPropertyAccessExpression(loop.expression) ? loop.expression.expression : undefined
  const iteratedName = iterated !== undefined && ts.isIdentifier(iterated) ? iterated.text : undefined
  const initializer = iteratedName === undefined ? undefined : initializerOf(iteratedName)
  const parameters = all(source, (n) => ts.isParameter(n)).map((n) => (n as ts.ParameterDeclaration).name.getText())
  const wholeList = iteratedName !== undefined && (parameters.includes(iteratedName) ||
    (initializer !== undefined && methodName(initializer) === 'map' && parameters.includes(((initializer as ts.CallExpression).expression as ts.PropertyAccessExpression).expression.getText())))
  if (!wholeList) problems.push(`the loop does not visibly iterate every configured key (${String(iterated?.getText())})`)

  // Nothing else compares secrets, digests or the token: no ===, no length pre-check, no Buffer.equals or startsWith.
  const secretish = new RegExp(`\\bsecret\\b|\\bdigest\\b|\\bpresented\\b|\\b${token ?? 'token'}\\b`)
  const nullish = (e: ts.Expression) => e.kind === ts.SyntaxKind.NullKeyword || (ts.isIdentifier(e) && e.text === 'undefined')
  for (const n of all(source, (n) => ts.isBinaryExpression(n) && COMPARISON.has(n.operatorToken.kind)) as ts.BinaryExpression[]) {
    if (!nullish(n.left) && !nullish(n.right) && (secretish.test(n.left.getText()) || secretish.test(n.right.getText()))) problems.push(`a plain comparison: ${n.getText()}`)
  }
  for (const n of all(source, (n) => ['equals', 'compare', 'localeCompare', 'startsWith', 'endsWith'].includes(methodName(n) ?? ''))) problems.push(`a non-constant-time comparison: ${n.getText()}`)
  return problems
}

t.test('static check on the source text of src/http/auth.ts: the presented token is hashed and compared with crypto.timingSafeEqual against every configured key, without an early exit', async (t) => {
  t.strictSame(constantTimeProblems(AUTH_SOURCE), [], 'no way for the time of the check to depend on which key matched, or how much of it')
})

t.test('the static check itself fails on the usual ways to lose constant time (variants of auth.ts made here)', async (t) => {
  const variants: Record<string, [string | RegExp, string]> = {
    'a break after the first match': [/match = candidate\.key(?!\s*;?\s*break)/, 'match = candidate.key; break'],
    'a short-circuit once a key matched': ['if (timingSafeEqual(', 'if (match === undefined && timingSafeEqual('],
    'the raw token instead of its hash': ['const presented = digest(token)', "const presented = Buffer.from(token, 'utf8')"],
    'a plain string comparison': ['if (timingSafeEqual(candidate.digest, presented))', 'if (timingSafeEqual(candidate.digest, presented) || candidate.key.secret === token)'],
    'only part of the list': ['for (const candidate of known)', 'for (const candidate of known.slice(1))']
  }
  for (const [label, [from, to]] of Object.entries(variants)) {
    const variant = AUTH_SOURCE.replace(from, to)
    t.not(variant, AUTH_SOURCE, `${label}: the variant differs from auth.ts (if not, auth.ts changed shape and this self-test needs a new variant)`)
    const problems = constantTimeProblems(variant)
    t.not(problems.length, 0, `${label} is caught: ${problems.join('; ')}`)
  }
})

// ---------------------------------------------------------------------------------------------------------------
// (b) Behaviour: near misses and far misses are indistinguishable in what the service answers.

const KEY_COUNT = 64
const KEYS = Array.from({ length: KEY_COUNT }, (_v, i) => ({
  name: `svc${i}`,
  // Long secrets that share nothing but the form.
  secret: `k${String(i).padStart(2, '0')}-${Buffer.from(`secret number ${i} of the timing test`).toString('hex')}`,
  scope: i % 3 === 0 ? 'write' : i % 3 === 1 ? 'read+ack' : 'read'
}))
const API_KEYS = KEYS.map((k) => `${k.name}:${k.secret}:${k.scope}`).join(',')
const FIRST = KEYS[0]?.secret as string
const LAST = KEYS[KEY_COUNT - 1]?.secret as string
const READER = KEYS.find((k) => k.scope === 'read')?.secret as string

/** Everything a caller can see of an answer except the per-request id and the transport's Date. */
function observable (res: LightMyRequestResponse): string {
  const headers = Object.fromEntries(Object.entries(res.headers).filter(([name]) => name !== 'x-request-id' && name !== 'date').sort(([a], [b]) => a.localeCompare(b)))
  return JSON.stringify({ status: res.statusCode, headers, body: res.body })
}

const changeLast = (secret: string) => secret.slice(0, -1) + (secret.endsWith('0') ? '1' : '0')
const shareNothing = (secret: string) => Array.from(secret, (c) => c === 'Z' ? 'Y' : 'Z').join('')

const REQUESTS = [
  { method: 'GET' as const, url: '/v1/receivers/bob/messages' },
  { method: 'POST' as const, url: '/v1/messages', payload: { receiver_uid: 'bob', sender_uid: 'alice', msg_type: 1, content: 'hi' } },
  { method: 'POST' as const, url: '/v1/receivers/bob/acks', payload: { up_to_seq: 1 } }
]

t.test('with many keys, a token sharing a long prefix with a real secret, one sharing nothing, and ones of other lengths all answer 401 with identical bodies and headers', async (t) => {
  const { app } = await buildTestApp(t, { API_KEYS })
  const sanity = await app.inject({ method: 'GET', url: '/v1/receivers/bob/messages', headers: { authorization: `Bearer ${READER}` } })
  t.equal(sanity.statusCode, 200, 'a real key is accepted, so the 401s below are about the tokens')

  const tokens: Record<string, string> = {
    'all but the last character of the first key': changeLast(FIRST),
    'all but the last character of the last key': changeLast(LAST),
    'the first key without its last character': FIRST.slice(0, -1),
    'the last key with one more character': `${LAST}x`,
    'the same length as a key, sharing no character': shareNothing(FIRST),
    'one character': 'k',
    'much longer than any key': `${FIRST}${'0'.repeat(4096)}`,
    'a key in upper case': FIRST.toUpperCase()
  }
  for (const request of REQUESTS) {
    const answers = new Map<string, string>()
    for (const [label, token] of Object.entries(tokens)) {
      const res = await app.inject({ ...request, headers: { authorization: `Bearer ${token}` } })
      t.equal(res.statusCode, 401, `${request.method} ${request.url}, ${label}: 401`)
      answers.set(label, observable(res))
    }
    const distinct = new Set(answers.values())
    t.equal(distinct.size, 1, `${request.method} ${request.url}: every miss answers exactly the same (apart from x-request-id and Date)`)
  }
})

t.test('property: any near miss of any configured key answers exactly what a token sharing nothing answers', async (t) => {
  const { app } = await buildTestApp(t, { API_KEYS })
  const secrets = KEYS.map((k) => k.secret)
  const reference = new Map<string, string>()
  for (const request of REQUESTS) {
    reference.set(request.url, observable(await app.inject({ ...request, headers: { authorization: `Bearer ${shareNothing(FIRST)}` } })))
  }
  const nearMiss = fc.tuple(fc.constantFrom(...secrets), fc.nat(), fc.constantFrom('change', 'drop', 'add', 'prefix'), fc.constantFrom(...'0123456789abcdefXYZ-._~'.split('')))
    .map(([secret, position, kind, char]) => {
      const at = position % secret.length
      if (kind === 'change') return secret.slice(0, at) + (secret[at] === char ? (char === 'X' ? 'Y' : 'X') : char) + secret.slice(at + 1)
      if (kind === 'drop') return secret.slice(0, at) + secret.slice(at + 1)
      if (kind === 'add') return secret.slice(0, at) + char + secret.slice(at)
      return char + secret
    })
    .filter((token) => !secrets.includes(token))
  const details = await fc.check(fc.asyncProperty(nearMiss, fc.constantFrom(...REQUESTS), async (token, request) => {
    const seen = observable(await app.inject({ ...request, headers: { authorization: `Bearer ${token}` } }))
    if (seen !== reference.get(request.url)) throw new Error(`answer differs from a far miss: ${seen.slice(0, 300)}`)
  }), { seed: SEED, numRuns: 200 })
  if (details.failed) {
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)
    t.fail(`${fc.defaultReportMessage(details) ?? ''}\nFailure: ${error}`)
  } else {
    t.pass(`${details.numRuns} near misses answered like a far miss (seed ${SEED})`)
  }
})
