// The stages of a request (issue 30) and the rules that put each sample of a V8 CPU profile in one: the innermost frame
// of its stack that a rule names decides, so that what a stage calls (JSON.stringify, a native binding, node: internals)
// counts in it.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const STAGES = [
  'HTTP parsing', 'routing', 'auth', 'rate limit', 'request validation', 'handler', 'the domain', 'SQL', 'row mapping',
  'response serialization', 'access log', 'metrics', 'request id', 'HTTP write', 'GC', 'the rest'
] as const
export type Stage = typeof STAGES[number]

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], startTime: number, samples?: number[], timeDeltas?: number[] }

/** A frame as the rules see it: its script relative to node_modules (`pkg` its package) or the checkout, or node:'s name. */
interface Frame { name: string, pkg: string, file: string }

/** A rule's answer: the stage, and the detail that the README's weak spots and the rest's breakdown show. */
interface Verdict { stage: Stage, detail: string }

/** Packages whose frames are a stage wherever they are called from. */
const PACKAGES: Partial<Record<string, Stage>> = {
  'find-my-way': 'routing',
  ajv: 'request validation',
  'ajv-formats': 'request validation',
  '@fastify/ajv-compiler': 'request validation',
  'fast-uri': 'request validation',
  'fast-json-stringify': 'response serialization',
  '@fastify/fast-json-stringify-compiler': 'response serialization',
  'secure-json-parse': 'HTTP parsing',
  '@fastify/rate-limit': 'rate limit',
  'toad-cache': 'rate limit',
  pino: 'access log',
  'pino-std-serializers': 'access log',
  'sonic-boom': 'access log',
  'fast-redact': 'access log',
  '@pinojs/redact': 'access log',
  'quick-format-unescaped': 'access log',
  'prom-client': 'metrics',
  tdigest: 'metrics',
  bintrees: 'metrics',
  knex: 'SQL',
  tarn: 'SQL',
  'better-sqlite3': 'SQL',
  bindings: 'SQL',
  pg: 'SQL',
  'pg-protocol': 'SQL',
  'pg-pool': 'SQL',
  'pg-types': 'SQL',
  'postgres-date': 'SQL',
  'postgres-array': 'SQL',
  'postgres-interval': 'SQL',
  'postgres-bytea': 'SQL'
}

/** Fastify's own files that are a stage; the rest of Fastify (its hooks, the request's lifecycle) is the rest. */
const FASTIFY_FILES: Partial<Record<string, Stage>> = {
  'lib/content-type-parser.js': 'HTTP parsing',
  'lib/validation.js': 'request validation',
  'lib/error-serializer.js': 'response serialization',
  'lib/schemas.js': 'response serialization',
  'lib/req-id-gen-factory.js': 'request id',
  'lib/log-controller.js': 'access log',
  'lib/logger-pino.js': 'access log',
  'lib/logger-factory.js': 'access log'
}

/** In Fastify's reply.js: serializing the payload, and handing it to Node's response. */
const REPLY_SERIALIZE = new Set(['serialize', 'preSerializationHook', 'preSerializationHookEnd'])
const REPLY_WRITE = new Set(['onSendEnd', 'sendTrailer', 'sendStream'])

/** The service's own files (src/, compiled to dist/src/) that are a stage, by prefix; the first that matches. */
const SOURCES: Array<[string, Stage]> = [
  ['src/http/auth.', 'auth'],
  ['src/http/validation.', 'request validation'],
  ['src/http/json-parser.', 'HTTP parsing'],
  ['src/http/receiver-routes.', 'handler'],
  ['src/http/message-routes.', 'handler'],
  ['src/http/recall-routes.', 'handler'],
  ['src/http/commands.', 'handler'],
  ['src/http/presenters.', 'handler'],
  ['src/http/time.', 'handler'],
  ['src/plugins/access-log.', 'access log'],
  ['src/plugins/metrics.', 'metrics'],
  ['src/plugins/request-id.', 'request id'],
  // The TTL sweep: the domain's expiry, on its timer (the store scenario stores one message in ten with a short TTL).
  ['src/plugins/sweep.', 'the domain'],
  ['src/domain/', 'the domain'],
  ['src/lib/', 'the domain'],
  ['src/store/row-mapper.', 'row mapping'],
  ['src/store/', 'SQL']
]

/** Node's HTTP server: its parser's callbacks, and (by name) the response's head, written by ServerResponse. */
const HTTP_READ_MODULES = new Set(['node:_http_common', 'node:_http_incoming', 'node:_http_server'])
const HTTP_SERVER_WRITES = new Set(['writeHead', '_implicitHeader', 'resOnFinish', 'ServerResponse', 'onServerResponseClose'])

/**
 * Sockets and streams: what is written through them belongs to their caller's stage. Above them the first stage found
 * decides (a PostgreSQL connection's writes are SQL, the log's are the access log), except that under Node's HTTP
 * parsing they are reading the request; under the rest of Fastify (a reply being sent) they are the HTTP write.
 */
const SOCKET_MODULES = /^node:(net|internal\/stream_base_commons|internal\/streams\/|stream$)/

function frameOf (frame: CallFrame, root: string): Frame {
  const name = frame.functionName
  if (frame.url === '' || frame.url.startsWith('node:')) return { name, pkg: '', file: frame.url }
  let path = frame.url
  try { if (path.startsWith('file:')) path = fileURLToPath(path) } catch { /* not a file URL: as it is */ }
  const modules = path.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const inside = path.slice(modules + '/node_modules/'.length)
    const [scope = '', first = ''] = inside.split('/')
    const pkg = scope.startsWith('@') ? `${scope}/${first}` : scope
    return { name, pkg, file: inside.slice(pkg.length + 1) }
  }
  return { name, pkg: '', file: relative(root, path).replace(/^dist\//, '') }
}

/** The stage a frame names by itself, or 'socket' (decided by its callers), or undefined (its callers decide). */
function rule (frame: Frame): Verdict | 'socket' | undefined {
  if (frame.pkg === 'fastify') {
    const stage = FASTIFY_FILES[frame.file]
    if (stage !== undefined) return { stage, detail: `fastify/${frame.file}` }
    if (frame.file === 'lib/reply.js' && REPLY_SERIALIZE.has(frame.name)) return { stage: 'response serialization', detail: `fastify reply ${frame.name}` }
    if (frame.file === 'lib/reply.js' && REPLY_WRITE.has(frame.name)) return { stage: 'HTTP write', detail: `fastify reply ${frame.name}` }
    return { stage: 'the rest', detail: 'Fastify\'s lifecycle (hooks, request, reply)' }
  }
  if (frame.pkg !== '') {
    const stage = PACKAGES[frame.pkg]
    return stage === undefined ? undefined : { stage, detail: frame.pkg }
  }
  // The bare route's handlers, which make its canned answers.
  if (frame.file.startsWith('bench/bare-server.')) return { stage: 'handler', detail: 'bench/bare-server' }
  if (frame.file.startsWith('src/')) {
    const stage = SOURCES.find(([prefix]) => frame.file.startsWith(prefix))?.[1]
    // The service's other parts (the shutdown check, the unknown-route and error hooks): Fastify's lifecycle as configured.
    return { stage: stage ?? 'the rest', detail: stage === undefined ? `the service's ${frame.file}` : frame.file.replace(/\.js$/, '') }
  }
  if (frame.file === 'node:_http_outgoing') return { stage: 'HTTP write', detail: 'node:_http_outgoing' }
  if (HTTP_READ_MODULES.has(frame.file)) {
    return HTTP_SERVER_WRITES.has(frame.name) ? { stage: 'HTTP write', detail: `${frame.file} ${frame.name}` } : { stage: 'HTTP parsing', detail: frame.file }
  }
  if (SOCKET_MODULES.test(frame.file)) return 'socket'
  return undefined
}

/** V8's pseudo-frames: the stack's only frame when they are sampled. */
const PSEUDO: Partial<Record<string, Verdict | null>> = {
  '(idle)': null,
  '(garbage collector)': { stage: 'GC', detail: '(garbage collector)' },
  '(program)': { stage: 'the rest', detail: '(program): V8 and Node native code outside any JavaScript frame' },
  '(root)': { stage: 'the rest', detail: '(root)' }
}

/** A sample's stage from its stack, leaf first; null for the idle event loop. */
function classify (stack: Frame[]): Verdict | null {
  const leaf = stack[0]
  if (leaf !== undefined && leaf.file === '' && Object.hasOwn(PSEUDO, leaf.name)) return PSEUDO[leaf.name] ?? null
  let socket = false
  for (const frame of stack) {
    const verdict = rule(frame)
    if (verdict === 'socket') { socket = true; continue }
    if (verdict === undefined) continue
    if (!socket || verdict.stage === 'SQL' || verdict.stage === 'access log' || verdict.stage === 'HTTP parsing' || verdict.stage === 'HTTP write') return verdict
    return { stage: 'HTTP write', detail: `sockets and streams under ${verdict.detail}` }
  }
  if (socket) return { stage: 'the rest', detail: 'sockets and streams called from the event loop alone' }
  const internal = stack.find((frame) => frame.file.startsWith('node:'))
  return { stage: 'the rest', detail: internal === undefined ? 'no frame that a rule names' : `node: internals (${internal.file})` }
}

const LEAVES_PER_STAGE = 8

export interface StageShare { stage: Stage, samples: number }
export interface Breakdown {
  /** Samples taken in the windows, the idle event loop's left out. */
  busy: number
  idle: number
  stages: StageShare[]
  /** Samples by the detail that put them in their stage (package, file, rule), most first. */
  details: Array<{ stage: Stage, detail: string, samples: number }>
  /** Each stage's leaf functions (the frame on top of the stack when sampled), the most sampled few, most first. */
  leaves: Array<{ stage: Stage, leaf: string, samples: number }>
}

/** The samples of `file` taken within any of `windows` (µs of the monotonic clock, as V8's), by stage. */
export function stagesOf (file: string, root: string, windows: Array<{ from: number, to: number }>): Breakdown {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const verdicts = new Map<number, { verdict: Verdict | null, leaf: string }>()
  const verdictOf = (id: number) => {
    const known = verdicts.get(id)
    if (known !== undefined) return known
    const stack: Frame[] = []
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)
      if (node !== undefined && node.callFrame.functionName !== '(root)') stack.push(frameOf(node.callFrame, root))
    }
    if (stack.length === 0) stack.push({ name: '(root)', pkg: '', file: '' })
    const leaf = stack[0] as Frame
    const found = { verdict: classify(stack), leaf: `${leaf.name === '' ? '(anonymous)' : leaf.name} ${leaf.pkg === '' ? leaf.file : `${leaf.pkg}/${leaf.file}`}`.trim() }
    verdicts.set(id, found)
    return found
  }

  const stages = new Map<Stage, number>(STAGES.map((stage) => [stage, 0]))
  const details = new Map<string, { stage: Stage, detail: string, samples: number }>()
  const leaves = new Map<string, { stage: Stage, leaf: string, samples: number }>()
  let busy = 0
  let idle = 0
  let at = profile.startTime
  const deltas = profile.timeDeltas ?? []
  ;(profile.samples ?? []).forEach((id, i) => {
    at += deltas[i] ?? 0
    if (!windows.some((window) => at >= window.from && at <= window.to)) return
    const { verdict, leaf } = verdictOf(id)
    if (verdict === null) { idle++; return }
    busy++
    stages.set(verdict.stage, (stages.get(verdict.stage) ?? 0) + 1)
    const key = `${verdict.stage}\n${verdict.detail}`
    const entry = details.get(key) ?? { stage: verdict.stage, detail: verdict.detail, samples: 0 }
    entry.samples++
    details.set(key, entry)
    const leafKey = `${verdict.stage}\n${leaf}`
    const byLeaf = leaves.get(leafKey) ?? { stage: verdict.stage, leaf, samples: 0 }
    byLeaf.samples++
    leaves.set(leafKey, byLeaf)
  })
  return {
    busy,
    idle,
    stages: STAGES.map((stage) => ({ stage, samples: stages.get(stage) ?? 0 })),
    details: [...details.values()].sort((a, b) => b.samples - a.samples),
    leaves: STAGES.flatMap((stage) => [...leaves.values()].filter((entry) => entry.stage === stage).sort((a, b) => b.samples - a.samples).slice(0, LEAVES_PER_STAGE))
  }
}
