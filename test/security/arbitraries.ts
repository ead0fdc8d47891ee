// fast-check arbitraries read from openapi/openapi.json: valid requests for every /v1 operation, and the mutators that make them hostile.
import { readFileSync } from 'node:fs'
import { METHODS } from 'node:http'
import fc from 'fast-check'

export interface JsonSchema {
  type?: string
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean
  items?: JsonSchema
  minItems?: number
  maxItems?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  enum?: unknown[]
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  default?: unknown
  description?: string
  title?: string
}

interface OpenApiParameter { in: 'path' | 'query' | 'header', name: string, required?: boolean, schema: JsonSchema }
interface OpenApiOperation {
  parameters?: OpenApiParameter[]
  requestBody?: { content: Record<string, { schema: JsonSchema }> }
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>
  security?: unknown[]
}

export interface Operation {
  /** "POST /v1/messages" */
  id: string
  method: string
  /** The OpenAPI path template, e.g. /v1/receivers/{receiver_uid}/messages */
  path: string
  pathParams: Array<{ name: string, schema: JsonSchema }>
  queryParams: Array<{ name: string, schema: JsonSchema, required: boolean }>
  body: JsonSchema | undefined
  /** Documented statuses, each with its JSON schema (undefined when the answer has no body). */
  responses: Map<number, JsonSchema | undefined>
  secured: boolean
}

export const openapi = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, OpenApiOperation>>
}

export const operations: Operation[] = Object.entries(openapi.paths).flatMap(([path, byMethod]) =>
  Object.entries(byMethod).map(([method, operation]) => {
    const parameters = operation.parameters ?? []
    return {
      id: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      path,
      pathParams: parameters.filter((p) => p.in === 'path').map((p) => ({ name: p.name, schema: p.schema })),
      queryParams: parameters.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema, required: p.required === true })),
      body: operation.requestBody?.content['application/json']?.schema,
      responses: new Map(Object.entries(operation.responses).map(([status, response]) =>
        [Number(status), response.content?.['application/json']?.schema])),
      secured: (operation.security ?? []).length > 0
    }
  }))

export const v1Operations = operations.filter((op) => op.path.startsWith('/v1/'))

export function operation (id: string): Operation {
  const found = operations.find((op) => op.id === id)
  if (found === undefined) throw new Error(`openapi/openapi.json has no operation ${id}`)
  return found
}

// ---------------------------------------------------------------------------------------------------------------
// Valid values from a JSON schema

/** Arbitraries that replace the schema's own generator for a property or parameter of that name, at any depth. */
export type Overrides = Record<string, fc.Arbitrary<unknown>>

export const DEFAULT_MAX_ARRAY_ITEMS = 4

export interface GenerationOptions {
  overrides?: Overrides
  /** Arrays are cut to this many items unless the schema needs more (a 500-message batch is not needed for every run). */
  maxArrayItems?: number
}

/** `^[...]+$` or `^[...]*$`: the characters of the class, so lengths can be generated exactly. */
function characterClass (pattern: string): string[] | undefined {
  const match = /^\^\[([^\]]+)\]([+*])\$$/.exec(pattern)
  if (match?.[1] === undefined) return undefined
  const body = match[1]
  const chars: string[] = []
  for (let i = 0; i < body.length; i++) {
    let char = body[i] as string
    if (char === '\\' && i + 1 < body.length) char = body[++i] as string
    const next = body[i + 1]
    const end = body[i + 2]
    if (next === '-' && end !== undefined && i + 2 < body.length) {
      for (let code = char.charCodeAt(0); code <= end.charCodeAt(0); code++) chars.push(String.fromCharCode(code))
      i += 2
    } else {
      chars.push(char)
    }
  }
  return [...new Set(chars)]
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0')

/** RFC 3339 date-times with a zone, in the forms the contract accepts: T, t or space; Z, z or an offset; 0-9 fraction digits. */
export const rfc3339 = (): fc.Arbitrary<string> =>
  fc.record({
    instant: fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2099, 0, 1) }),
    offsetMinutes: fc.oneof(fc.constant(0), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })),
    zulu: fc.constantFrom('Z', 'z', 'offset'),
    separator: fc.constantFrom('T', 't', ' '),
    fraction: fc.constantFrom('', '.1', '.12', '.123', '.123456', '.000000001')
  }).map(({ instant, offsetMinutes, zulu, separator, fraction }) => {
    const offset = zulu === 'offset' ? offsetMinutes : 0
    const local = new Date(instant + offset * 60_000)
    const date = `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`
    const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${fraction}`
    const zone = zulu === 'offset'
      ? `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`
      : zulu
    return `${date}${separator}${time}${zone}`
  })

/** Text the contract accepts as content: Unicode scalar values (no lone surrogates) without U+0000. */
function textArbitrary (minLength: number, maxLength: number): fc.Arbitrary<string> {
  const noNul = (s: string) => !s.includes('\u0000')
  const small = Math.min(maxLength, Math.max(minLength, 40))
  const variants: Array<fc.Arbitrary<string>> = [
    fc.string({ unit: 'grapheme', minLength, maxLength: small }).filter((s) => [...s].length <= maxLength),
    fc.string({ unit: 'binary', minLength, maxLength: small }),
    fc.string({ minLength, maxLength: small })
  ]
  // Now and then exactly at the limit, in code points (astral characters count once).
  if (maxLength < 100_000) {
    variants.push(fc.string({ unit: fc.constantFrom('a', 'é', '中', '😀', ' ', '\n'), minLength: maxLength, maxLength }))
  }
  return fc.oneof(...variants).filter(noNul)
}

export function schemaArbitrary (schema: JsonSchema, options: GenerationOptions = {}): fc.Arbitrary<unknown> {
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum)
  const alternatives = schema.anyOf ?? schema.oneOf
  if (alternatives !== undefined) return fc.oneof(...alternatives.map((s) => schemaArbitrary(s, options)))
  switch (schema.type) {
    case 'string': {
      const minLength = schema.minLength ?? 0
      const maxLength = schema.maxLength ?? 64
      if (schema.format === 'date-time') return rfc3339()
      if (schema.pattern !== undefined) {
        const chars = characterClass(schema.pattern)
        if (chars !== undefined) {
          return fc.string({ unit: fc.constantFrom(...chars), minLength: Math.max(minLength, 1), maxLength })
        }
        return fc.stringMatching(new RegExp(schema.pattern, 'u')).filter((s) => s.length >= minLength && s.length <= maxLength)
      }
      return textArbitrary(minLength, maxLength)
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -(2 ** 31), max: schema.maximum ?? 2 ** 31 })
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e9, max: schema.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true })
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array': {
      const minLength = schema.minItems ?? 0
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? 10, options.maxArrayItems ?? DEFAULT_MAX_ARRAY_ITEMS))
      return fc.array(schemaArbitrary(schema.items ?? {}, options), { minLength, maxLength })
    }
    case 'object': {
      const properties = schema.properties ?? {}
      const model: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [name, property] of Object.entries(properties)) {
        model[name] = options.overrides?.[name] ?? schemaArbitrary(property, options)
      }
      return fc.record(model, { requiredKeys: schema.required ?? [] })
    }
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

/**
 * A body schema whose description says "either {a} or {b, c?}, never both" (the ack) gets bodies of one alternative
 * most of the time, so most generated requests do something; the plain schema, which allows both or neither, the rest.
 */
export function bodyArbitrary (schema: JsonSchema, options: GenerationOptions = {}): fc.Arbitrary<unknown> {
  const plain = schemaArbitrary(schema, options)
  const match = /either \{([^}]+)\} or \{([^}]+)\}/.exec(schema.description ?? '')
  if (match === null || schema.properties === undefined) return plain
  const alternatives = match.slice(1, 3).map((group) => {
    const fields = (group ?? '').split(',').map((field) => field.trim())
    const names = fields.map((field) => field.replace(/\?$/, ''))
    const model = Object.fromEntries(names.map((name) => [name, options.overrides?.[name] ?? schemaArbitrary(schema.properties?.[name] ?? {}, options)]))
    return fc.record(model, { requiredKeys: fields.filter((field) => !field.endsWith('?')) })
  })
  return fc.oneof({ weight: 4, arbitrary: fc.oneof(...alternatives) }, { weight: 1, arbitrary: plain })
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

export interface ApiRequest {
  op: Operation
  params: Record<string, string>
  query: Array<[string, string]>
  /** The JSON body; undefined for operations without one. */
  body?: unknown
}

/** What app.inject() gets. */
export interface WireRequest {
  method: string
  url: string
  headers: Record<string, string | string[]>
  payload?: string | Buffer
}

const queryValue = (value: unknown): string => typeof value === 'string' ? value : JSON.stringify(value)

// "." and ".." are legal ids, but as whole path segments every URL parser (light-my-request's included) resolves them away.
const DOT_SEGMENT = /^(\.|\.\.)$/

export function requestArbitrary (op: Operation, options: GenerationOptions = {}): fc.Arbitrary<ApiRequest> {
  const params = fc.record(Object.fromEntries(op.pathParams.map((p) =>
    [p.name, (options.overrides?.[p.name] ?? schemaArbitrary(p.schema, options)).map(queryValue).filter((value) => !DOT_SEGMENT.test(value))])))
  const query = fc.tuple(...op.queryParams.map((q) => {
    const value = (options.overrides?.[q.name] ?? schemaArbitrary(q.schema, options)).map((v): [string, string] | undefined => [q.name, queryValue(v)])
    if (q.required) return value
    // A cursor the service did not issue is a documented 400: most runs leave it out, some send one.
    return fc.oneof({ weight: q.name === 'cursor' ? 9 : 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value })
  })).map((pairs) => pairs.filter((pair): pair is [string, string] => pair !== undefined))
  const body = op.body === undefined ? fc.constant(undefined) : bodyArbitrary(op.body, options)
  return fc.record({ params, query, body }).map(({ params, query, body }) => ({ op, params, query, body }))
}

/** encodeURIComponent that also writes lone surrogates (as the bytes a careless client would send) instead of throwing. */
export function encodeLoose (text: string): string {
  let out = ''
  for (const char of text) {
    const code = char.codePointAt(0) as number
    if (code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
    } else {
      out += encodeURIComponent(char)
    }
  }
  return out
}

export function urlOf (op: Operation, params: Record<string, string>, query: Array<[string, string]>, rawParams = false): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_all, name: string) => {
    const value = params[name] ?? ''
    return rawParams ? value : encodeLoose(value)
  })
  const search = query.map(([name, value]) => `${encodeLoose(name)}=${encodeLoose(value)}`).join('&')
  return search === '' ? path : `${path}?${search}`
}

export const JSON_HEADERS = { 'content-type': 'application/json' }

export function toWire (request: ApiRequest): WireRequest {
  const url = urlOf(request.op, request.params, request.query)
  if (request.op.body === undefined) return { method: request.op.method, url, headers: {} }
  return { method: request.op.method, url, headers: { ...JSON_HEADERS }, payload: JSON.stringify(request.body) }
}

/** Fastify's default maxParamLength: the router gives up on longer path parameters before any hook runs. */
export const MAX_PARAM_LENGTH = 100

// ---------------------------------------------------------------------------------------------------------------
// Mutators: each turns a valid request into a hostile one and says which statuses the contract allows for it.

export interface HostileCase {
  op: Operation
  mutation: string
  wire: WireRequest
  /** The statuses the contract names for this request, or 'any' when the mutation may leave it valid. */
  expect: number[] | 'any'
  /** Marks the path parameters were changed (the route itself may then not match). */
  pathChanged: boolean
}

export interface MutationLimits {
  bodyLimitBytes: number
}

type Path = Array<string | number>

interface Node { path: Path, schema: JsonSchema, value: unknown }

/** Every value in a body with the schema that describes it, the root first. */
export function nodesOf (value: unknown, schema: JsonSchema, path: Path = []): Node[] {
  const nodes: Node[] = [{ path, schema, value }]
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, index) => nodes.push(...nodesOf(item, schema.items as JsonSchema, [...path, index])))
  } else if (value !== null && typeof value === 'object' && schema.properties !== undefined) {
    for (const [key, item] of Object.entries(value)) {
      const itemSchema = schema.properties[key]
      if (itemSchema !== undefined) nodes.push(...nodesOf(item, itemSchema, [...path, key]))
    }
  }
  return nodes
}

const clone = <T>(value: T): T => structuredClone(value)

/** A copy of `root` with the value at `path` replaced (the root itself when `path` is empty). */
export function setAt (root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value
  const copy = clone(root) as Record<string | number, unknown>
  let cursor = copy
  for (const key of path.slice(0, -1)) cursor = cursor[key] as Record<string | number, unknown>
  Object.defineProperty(cursor, path[path.length - 1] as string | number, { value, enumerable: true, writable: true, configurable: true })
  return copy
}

function typeMatches (schema: JsonSchema, value: unknown): boolean {
  const types = (schema.anyOf ?? schema.oneOf ?? [schema]).map((s) => s.type)
  return types.some((type) => {
    switch (type) {
      case 'string': return typeof value === 'string'
      case 'integer': return Number.isInteger(value)
      case 'number': return typeof value === 'number'
      case 'boolean': return typeof value === 'boolean'
      case 'null': return value === null
      case 'array': return Array.isArray(value)
      case 'object': return value !== null && typeof value === 'object' && !Array.isArray(value)
      default: return true
    }
  })
}

const WRONG_TYPE_POOL: unknown[] = ['1', '', 'true', 'null', 0, 1, -1, 1.5, 1e21, true, false, null, [], [1], ['x'], {}, { a: 1 }]

const SENTINEL = 'X-HOSTILE-SENTINEL-X'

/** The body as JSON text with the value at `path` replaced by raw text (which JSON.stringify could not make). */
function withRawText (body: unknown, path: Path, raw: string): string {
  return JSON.stringify(setAt(body, path, SENTINEL)).replace(`"${SENTINEL}"`, () => raw)
}

function deepText (depth: number, kind: 'array' | 'object' | 'mixed'): string {
  if (kind === 'array') return '['.repeat(depth) + ']'.repeat(depth)
  if (kind === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
  const open: string[] = []
  const close: string[] = []
  for (let i = 0; i < depth; i++) {
    if (i % 2 === 0) { open.push('['); close.push(']') } else { open.push('{"x":'); close.push('}') }
  }
  return open.join('') + '0' + close.reverse().join('')
}

function replaceRoot (wire: WireRequest, payload: string | Buffer, headers: Record<string, string | string[]> = wire.headers): WireRequest {
  return { ...wire, headers, payload }
}

/** 400, or 413 when the payload no longer fits the body limit. */
function bodyStatus (payload: string | Buffer, limits: MutationLimits): number[] {
  return Buffer.byteLength(payload) > limits.bodyLimitBytes ? [413] : [400]
}

export const INVALID_UTF8: number[][] = [
  [0xff], [0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe, 0xfe, 0xff, 0xff]
]

export const BAD_CHARACTERS = ['\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uDC00\uD800', 'a\u0000b']

/** Inserts `bad` between two code points (never inside a surrogate pair, which could complete a lone half into a valid pair). */
function poison (text: string, position: number, bad: string): string {
  const chars = Array.from(text)
  const at = position % (chars.length + 1)
  return [...chars.slice(0, at), bad, ...chars.slice(at)].join('')
}

interface Mutator { name: string, applies: (request: ApiRequest) => boolean, make: (request: ApiRequest, limits: MutationLimits) => fc.Arbitrary<HostileCase> }

const hasBody = (request: ApiRequest) => request.op.body !== undefined
const bodyNodes = (request: ApiRequest) => nodesOf(request.body, request.op.body as JsonSchema)

function bodyCase (request: ApiRequest, mutation: string, payload: string | Buffer, expect: number[] | 'any', headers?: Record<string, string | string[]>): HostileCase {
  const wire = toWire(request)
  return { op: request.op, mutation, wire: replaceRoot(wire, payload, headers ?? wire.headers), expect, pathChanged: false }
}

const mutators: Mutator[] = [
  {
    name: 'wrong type',
    applies: hasBody,
    make: (request) => fc.constantFrom(...bodyNodes(request)).chain((node) =>
      fc.constantFrom(...WRONG_TYPE_POOL.filter((value) => !typeMatches(node.schema, value))).map((value) => {
        const payload = JSON.stringify(setAt(request.body, node.path, value))
        return bodyCase(request, `wrong type at /${node.path.join('/')}: ${JSON.stringify(value)}`, payload, [400])
      }))
  },
  {
    name: 'drop a required field',
    applies: (request) => hasBody(request) && bodyNodes(request).some((node) => (node.schema.required ?? []).length > 0),
    make: (request) => {
      const drops = bodyNodes(request).flatMap((node) => (node.schema.required ?? []).map((key) => ({ node, key })))
      return fc.constantFrom(...drops).map(({ node, key }) => {
        const object = { ...(node.value as Record<string, unknown>) }
        delete object[key]
        return bodyCase(request, `drop required /${[...node.path, key].join('/')}`, JSON.stringify(setAt(request.body, node.path, object)), [400])
      })
    }
  },
  {
    name: 'unknown field',
    applies: hasBody,
    make: (request) => {
      const objects = bodyNodes(request).filter((node) => node.schema.type === 'object' && node.value !== null && typeof node.value === 'object')
      const key = fc.oneof(
        fc.constantFrom('contnet', 'receiverUid', 'msgType', 'id', 'seq', 'stored_at', 'duplicate', 'admin', 'scope', 'password', ' content', 'content ', 'Content', ''),
        fc.string({ minLength: 1, maxLength: 20 }))
      return fc.tuple(fc.constantFrom(...objects), key, fc.jsonValue({ maxDepth: 2 }))
        .filter(([node, name]) => !Object.hasOwn(node.schema.properties ?? {}, name) && !['__proto__', 'constructor', 'prototype'].includes(name))
        .map(([node, name, value]) => {
          const object = { ...(node.value as Record<string, unknown>) }
          Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true })
          return bodyCase(request, `unknown field ${JSON.stringify(name)} at /${node.path.join('/')}`, JSON.stringify(setAt(request.body, node.path, object)), [400])
        })
    }
  },
  {
    name: 'huge string',
    applies: (request) => hasBody(request) && bodyNodes(request).some((node) => node.schema.type === 'string'),
    make: (request, limits) => {
      const strings = bodyNodes(request).filter((node) => node.schema.type === 'string')
      return fc.tuple(
        fc.constantFrom(...strings),
        fc.constantFrom('a', 'é', '中', '😀', '0'),
        fc.constantFrom<'just over' | number>('just over', 100_001, 300_000)
      ).map(([node, char, size]) => {
        const length = size === 'just over' ? (node.schema.maxLength ?? 100_000) + 1 : size
        const value = char.repeat(length)
        const payload = JSON.stringify(setAt(request.body, node.path, value))
        return bodyCase(request, `huge string at /${node.path.join('/')}: ${length} x ${JSON.stringify(char)}`, payload, bodyStatus(payload, limits))
      })
    }
  },
  {
    name: 'deep nesting',
    applies: hasBody,
    make: (request, limits) => fc.tuple(
      fc.constantFrom(...bodyNodes(request)),
      fc.constantFrom(64, 1000, 5000, 20_000),
      fc.constantFrom('array' as const, 'object' as const, 'mixed' as const)
    ).map(([node, depth, kind]) => {
      const payload = withRawText(request.body, node.path, deepText(depth, kind))
      return bodyCase(request, `${depth} levels of ${kind} nesting at /${node.path.join('/')}`, payload, bodyStatus(payload, limits))
    })
  },
  {
    name: 'NUL or lone surrogate in one string',
    applies: (request) => hasBody(request) && bodyNodes(request).some((node) => typeof node.value === 'string'),
    make: (request) => fc.tuple(
      fc.constantFrom(...bodyNodes(request).filter((node) => typeof node.value === 'string')),
      fc.constantFrom(...BAD_CHARACTERS),
      fc.nat()
    ).map(([node, bad, position]) => {
      const payload = JSON.stringify(setAt(request.body, node.path, poison(node.value as string, position, bad)))
      return bodyCase(request, `${JSON.stringify(bad)} in /${node.path.join('/')}`, payload, [400])
    })
  },
  {
    name: 'NUL or lone surrogate in every string',
    applies: (request) => hasBody(request) && bodyNodes(request).some((node) => typeof node.value === 'string'),
    make: (request) => fc.tuple(fc.constantFrom(...BAD_CHARACTERS), fc.nat()).map(([bad, position]) => {
      let body = request.body
      for (const node of bodyNodes(request)) {
        if (typeof node.value === 'string') body = setAt(body, node.path, poison(node.value, position, bad))
      }
      return bodyCase(request, `${JSON.stringify(bad)} in every string`, JSON.stringify(body), [400])
    })
  },
  {
    name: 'invalid UTF-8',
    applies: hasBody,
    make: (request) => fc.tuple(
      fc.constantFrom(...bodyNodes(request)),
      fc.constantFrom(...INVALID_UTF8),
      fc.boolean()
    ).map(([node, bytes, insideString]) => {
      // Inside a string value, or where a value belongs (raw bytes outside any string).
      const text = typeof node.value === 'string' && insideString
        ? JSON.stringify(setAt(request.body, node.path, `${node.value}${SENTINEL}`))
        : withRawText(request.body, node.path, SENTINEL)
      const [before, after] = text.split(SENTINEL) as [string, string]
      const payload = Buffer.concat([Buffer.from(before, 'utf8'), Buffer.from(bytes), Buffer.from(after, 'utf8')])
      const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')
      return bodyCase(request, `invalid UTF-8 [${hex}] ${insideString ? 'in' : 'as'} /${node.path.join('/')}`, payload, [400])
    })
  },
  {
    name: 'number out of range',
    applies: (request) => hasBody(request) && bodyNodes(request).some((node) => node.schema.type === 'integer'),
    make: (request) => {
      const integers = bodyNodes(request).filter((node) => node.schema.type === 'integer')
      return fc.constantFrom(...integers).chain((node) => {
        const min = node.schema.minimum ?? -(2 ** 53)
        const max = node.schema.maximum ?? 2 ** 53
        const tokens = [String(min - 1), String(max + 1), '-1e400', '1e400', '1.5', String(min + 0.5), '-9007199254740993', '9007199254740993',
          '1e21', 'NaN', 'Infinity', '-Infinity', '0x10', '+1', '01', '.5', '1.', '--1', '1e', '"1"', '"NaN"']
        return fc.constantFrom(...tokens).map((token) =>
          bodyCase(request, `/${node.path.join('/')} = ${token}`, withRawText(request.body, node.path, token), [400]))
      })
    }
  },
  {
    name: 'odd content type',
    applies: hasBody,
    make: (request) => fc.constantFrom<[string | undefined, number[] | 'any']>(
      ['text/plain', [415]], ['text/plain; charset=utf-8', [415]], ['multipart/form-data; boundary=xyz', [415]],
      ['application/x-www-form-urlencoded', [415]], ['application/xml', [415]], ['text/json', [415]],
      ['application/json-patch+json', [415]], ['application/vnd.api+json', [415]], ['application/jsonx', [415]],
      ['application/octet-stream', [415]], ['', [415]], [undefined, [415]], ['application/json, text/plain', [415]],
      // Still JSON: parameters and letter case do not change the media type.
      ['application/json; charset=latin1', 'any'], ['application/json; charset=utf-8', 'any'], ['APPLICATION/JSON', 'any']
    ).map(([type, expect]) => {
      const wire = toWire(request)
      const headers = { ...wire.headers }
      delete headers['content-type']
      if (type !== undefined) headers['content-type'] = type
      const payload = type?.startsWith('multipart/') === true
        ? `--xyz\r\nContent-Disposition: form-data; name="body"\r\n\r\n${wire.payload as string}\r\n--xyz--\r\n`
        : wire.payload as string
      return bodyCase(request, `content-type ${type === undefined ? '(none)' : JSON.stringify(type)}`, payload, expect, headers)
    })
  },
  {
    name: 'empty body',
    applies: hasBody,
    make: (request) => fc.constantFrom<[string, Record<string, string>]>(
      ['', { 'content-type': 'application/json' }], [' ', { 'content-type': 'application/json' }],
      ['\r\n', { 'content-type': 'application/json' }], ['', {}]
    ).map(([payload, headers]) =>
      bodyCase(request, `empty body ${JSON.stringify(payload)} with ${JSON.stringify(headers)}`, payload, [400], headers))
  },
  {
    name: 'JSON that is not an object',
    applies: hasBody,
    make: (request) => fc.constantFrom(
      'null', '[]', '"x"', '""', '0', '42', '-1.5', 'true', 'false', `[${JSON.stringify(request.body)}]`, JSON.stringify(JSON.stringify(request.body))
    ).map((payload) => bodyCase(request, `body ${payload.slice(0, 60)}`, payload, [400]))
  },
  {
    name: 'prototype pollution keys',
    applies: hasBody,
    make: (request) => fc.tuple(
      fc.constantFrom(...bodyNodes(request).filter((node) => node.value !== null && typeof node.value === 'object' && !Array.isArray(node.value))),
      fc.constantFrom(
        '"__proto__":{"polluted":"yes"}', '"__proto__":{"isAdmin":true,"additionalProperties":true}', '"__proto__":null',
        '"constructor":{"prototype":{"polluted":"yes"}}', '"constructor":{}', '"__proto__":[]'
      )
    ).map(([node, member]) => {
      const text = withRawText(request.body, node.path, SENTINEL)
      const object = JSON.stringify(node.value)
      const injected = object === '{}' ? `{${member}}` : `{${member},${object.slice(1)}`
      return bodyCase(request, `${member} at /${node.path.join('/')}`, text.replace(`"${SENTINEL}"`, () => injected), [400])
    })
  },
  {
    name: 'malformed JSON',
    applies: hasBody,
    make: (request) => fc.tuple(fc.nat(), fc.constantFrom('truncate', '}', ',', ']', '{', "'", '/*c*/', '\u0000')).map(([position, kind]) => {
      const text = JSON.stringify(request.body)
      const payload = kind === 'truncate'
        ? text.slice(0, position % text.length)
        : text.slice(0, -1) + kind + text.slice(-1)
      return bodyCase(request, `malformed JSON (${kind})`, payload, [400])
    })
  },
  {
    name: 'bad path parameter',
    applies: (request) => request.op.pathParams.length > 0,
    make: (request) => fc.tuple(
      fc.constantFrom(...request.op.pathParams),
      fc.oneof(
        // [raw text for the URL, statuses]: the contract makes a rule-breaking receiver_uid or msg_id a 400.
        fc.constantFrom<[string, number[] | 'any']>(
          ['%00', [400]], ['a%00b', [400]], ['%2F', [400]], ['a%2Fb', [400]], ['%5C', [400]], ['%20', [400]], ['%0A', [400]],
          ['%C3%BC', [400]], ['%F0%9F%98%80', [400]], ['%ED%A0%80', [400]], ['%C0%80', [400]], ['%FF', [400]], ['%ZZ', [400]],
          ['%', [400]], ['%E2%80%AE', [400]], ['%3Cscript%3E', [400]], ["'%3B%20DROP%20TABLE%20messages%3B--", [400]],
          ['*', [400]], ['%3F', [400]], ['%23', [400]], ['~', [400]], ['%25', [400]],
          // Dots are legal uid characters: ".." spelled out is a receiver named "..".
          ['%2E%2E', 'any'], ['%2e', 'any'],
          // These change the path itself: another route, or none.
          ['', [400, 404]], ['..', [400, 404]], ['.', [400, 404]], ['a/b', [400, 404]]
        ),
        fc.constantFrom(51, 71, 100).map((length): [string, number[] | 'any'] => ['a'.repeat(length), 'any']),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 30 })
          .filter((s) => !/^[A-Za-z0-9._:@+-]+$/.test(s))
          .map((s): [string, number[] | 'any'] => [encodeLoose(s), [400]])
          // Longer ones have their own property (overlongParameterArbitrary): one cause, one failure.
          .filter(([raw]) => raw.length <= MAX_PARAM_LENGTH)
      )
    ).map(([param, [raw, expect]]) => {
      const wire = toWire(request)
      const params = Object.fromEntries(Object.entries(request.params).map(([name, value]) => [name, encodeLoose(value)]))
      params[param.name] = raw
      // Long runs of a legal character: a 400 once they pass the parameter's own limit (50 for a receiver, 70 for a msg_id).
      const limit = param.schema.maxLength ?? Infinity
      const statuses = /^a+$/.test(raw) ? (raw.length > limit ? [400] : 'any') : expect
      return {
        op: request.op,
        mutation: `path ${param.name} = ${raw.length > 80 ? `${raw.slice(0, 20)}...(${raw.length} chars)` : JSON.stringify(raw)}`,
        wire: { ...wire, url: urlOf(request.op, params, request.query, true) },
        expect: statuses,
        pathChanged: true
      }
    })
  },
  {
    name: 'bad query',
    applies: (request) => request.op.queryParams.length > 0,
    make: (request) => {
      const limitMax = request.op.queryParams.find((q) => q.name === 'limit')?.schema.maximum ?? 1000
      const entries = fc.oneof(
        fc.constantFrom<[Array<[string, string]>, number[] | 'any']>(
          [[['limit', '0']], [400]], [[['limit', '-1']], [400]], [[['limit', '1.5']], [400]], [[['limit', 'NaN']], [400]],
          [[['limit', 'Infinity']], [400]], [[['limit', '-Infinity']], [400]], [[['limit', 'abc']], [400]], [[['limit', '1e400']], [400]],
          [[['limit', '99999999999999999999']], [400]], [[['limit', '']], [400]], [[['limit', String(limitMax + 1)]], [400]],
          [[['limit', '-0']], [400]], [[['limit', '1'], ['limit', '2']], [400]], [[['limit[]', '1']], [400]], [[['limit', '[1]']], [400]],
          [[['limit', '0x10']], 'any'], [[['limit', ' 5']], 'any'], [[['limit', '1e2']], 'any'], [[['limit', '5.0']], 'any'],
          [[['cursor', '']], [400]], [[['cursor', '\u0000']], [400]], [[['cursor', '\uD800']], [400]], [[['cursor', 'bTEuMQ']], 'any'],
          [[['cursor', 'c'.repeat(100_000)]], [400]], [[['cursor', 'bTEuLTE']], [400]], [[['cursor', 'bTEuOTk5OTk5OTk5OTk5OTk5OTk5OTk']], [400]],
          [[['cursor', 'czEuMQ']], 'any'], [[['cursor', '../../etc/passwd']], [400]], [[['cursor', "' OR 1=1 --"]], [400]],
          [[['__proto__', 'x']], [400]], [[['constructor', 'x']], [400]], [[['__proto__[polluted]', 'yes']], [400]],
          [[['unknown', '1']], [400]], [[['LIMIT', '5']], [400]]
        ),
        fc.tuple(fc.constantFrom('cursor', 'sender_uid'), fc.string({ unit: 'binary', maxLength: 40 }))
          .filter(([name, value]) => name === 'cursor' ? !/^[A-Za-z0-9_-]+$/.test(value) : !/^[A-Za-z0-9._:@+-]{1,50}$/.test(value))
          .map(([name, value]): [Array<[string, string]>, number[] | 'any'] => [[[name, value]], [400]])
      )
      return entries.map(([pairs, expect]) => {
        const overridden = new Set(pairs.map(([name]) => name))
        const query = [...request.query.filter(([name]) => !overridden.has(name)), ...pairs]
        const wire = toWire({ ...request, query })
        return { op: request.op, mutation: `query ${JSON.stringify(pairs).slice(0, 120)}`, wire, expect, pathChanged: false }
      })
    }
  },
  {
    name: 'body on an operation that takes none',
    applies: (request) => !hasBody(request),
    make: (request) => fc.constantFrom<[string, string | undefined]>(
      ['{"receiver_uid":"x"}', 'application/json'], ['[]', 'application/json'], ['garbage', 'text/plain'], ['\u0000', 'application/octet-stream'],
      ['', 'application/json'], ['{', 'application/json'], ['x', undefined]
    ).map(([payload, type]) => {
      const wire = toWire(request)
      const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type }
      return { op: request.op, mutation: `unexpected body ${JSON.stringify(payload)} as ${String(type)}`, wire: { ...wire, headers, payload }, expect: 'any' as const, pathChanged: false }
    })
  }
]

export const mutatorNames = mutators.map((m) => m.name)

/** A valid request whose one path parameter is longer than the router's parameter limit: a rule-breaking id like any other. */
export function overlongParameterArbitrary (op: Operation, options: GenerationOptions = {}): fc.Arbitrary<HostileCase> {
  return fc.tuple(
    requestArbitrary(op, options),
    fc.constantFrom(...op.pathParams),
    fc.constantFrom(MAX_PARAM_LENGTH + 1, 1000, 20_000),
    fc.constantFrom('a', '%C3%A9', '.')
  ).map(([request, param, length, unit]) => {
    const params = Object.fromEntries(Object.entries(request.params).map(([name, value]) => [name, encodeLoose(value)]))
    const raw = unit.repeat(Math.ceil(length / unit.length))
    params[param.name] = raw
    return {
      op,
      mutation: `path ${param.name} = ${raw.length} chars of ${JSON.stringify(unit)}`,
      wire: { ...toWire(request), url: urlOf(op, params, request.query, true) },
      expect: [400],
      pathChanged: true
    }
  })
}

/** A hostile variant of a valid request: one mutator, chosen among those that apply to it. */
export function hostileCase (request: ApiRequest, limits: MutationLimits): fc.Arbitrary<HostileCase> {
  const applicable = mutators.filter((m) => m.applies(request))
  return fc.oneof(...applicable.map((m) => m.make(request, limits)))
}

export function hostileRequestArbitrary (op: Operation, limits: MutationLimits, options: GenerationOptions = {}): fc.Arbitrary<HostileCase> {
  return requestArbitrary(op, options).chain((request) => hostileCase(request, limits))
}

/** Short, printable form of a case for counterexamples (payloads can be megabytes). */
export function describeCase (c: { mutation: string, wire: WireRequest }): string {
  const payload = c.wire.payload === undefined
    ? '(none)'
    : Buffer.isBuffer(c.wire.payload)
      ? `<Buffer ${c.wire.payload.length} bytes: ${c.wire.payload.toString('latin1').slice(0, 200)}>`
      : c.wire.payload.length > 300 ? `${c.wire.payload.slice(0, 300)}...(${c.wire.payload.length} chars)` : c.wire.payload
  const url = c.wire.url.length > 200 ? `${c.wire.url.slice(0, 200)}...(${c.wire.url.length})` : c.wire.url
  return `[${c.mutation}] ${c.wire.method} ${url} headers=${JSON.stringify(c.wire.headers).slice(0, 300)} payload=${JSON.stringify(payload)}`
}

/** Gives a case a short printed form in fast-check's reports. */
export function printable<T extends { mutation: string, wire: WireRequest }> (c: T): T {
  Object.defineProperty(c, fc.toStringMethod, { value: () => describeCase(c), enumerable: false })
  return c
}

// ---------------------------------------------------------------------------------------------------------------
// Odd paths and methods, garbage Authorization headers

export const httpMethods: string[] = [...METHODS]

const percentEncodedBytes = fc.uint8Array({ minLength: 1, maxLength: 12 })
  .map((bytes) => [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''))

export const oddSegment: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcXYZ019._:@+-'.split('')), minLength: 1, maxLength: 20 }),
  percentEncodedBytes,
  fc.constantFrom('..', '.', '%2e%2e', '%2E%2E', '%00', '%2F', '%5C', '%25', '%', '%ZZ', '%C0%80', '%ED%A0%80', '%FF', '~', '*', ';', ',',
    '[', ']', '%20', '..%2f..%2f', '%2e%2e%2f', '....', '\\..\\', 'etc', 'passwd', 'package.json', 'node_modules', '.env', '.git'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }).map((s) => encodeURIComponent(s)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 5 }),
  fc.constantFrom(200, 2000, 20_000).map((n) => 'x'.repeat(n))
)

export const KNOWN_PATHS = [
  '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', '/docs/', '/docs/json', '/docs/static/index.html',
  '/HEALTHZ', '/healthz/', '/healthz/x', '/metrics/', '/v1', '/v1/', '//v1/messages', '/v1//messages', '/V1/messages', '/v1/MESSAGES',
  '/v1/messages/', '/v1/messages/batch/', '/v1/messages/x', '/v1/receivers', '/v1/receivers/', '/v1/receivers/bob', '/v1/receivers/bob/',
  '/v1/receivers/bob/acks/x', '/v1/receivers/bob/senders/x', '/v1/%6Dessages', '/v1/receivers/bob/messages/x/y',
  '/docs/static/..%2f..%2f..%2fpackage.json', '/docs/static/%2e%2e/%2e%2e/%2e%2e/package.json', '/docs/static/....//....//package.json',
  '/docs/static/%2e%2e%5c%2e%2e%5cpackage.json', '/..%2f..%2fetc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/docs/static/%00', '/v1/../healthz'
]

export interface OddRequest {
  mutation: string
  wire: WireRequest
}

const anyMethod = fc.constantFrom(...httpMethods)

export const oddRequestArbitrary: fc.Arbitrary<OddRequest> = fc.record({
  target: fc.oneof(
    // A /v1 route's template with odd parameters, mostly with the route's own method (or HEAD for a GET).
    {
      weight: 3,
      arbitrary: fc.constantFrom(...v1Operations).chain((op) => fc.tuple(
        fc.oneof({ weight: 2, arbitrary: fc.constant(op.method) }, fc.constant(op.method === 'GET' ? 'HEAD' : op.method), anyMethod),
        fc.array(oddSegment.filter((segment) => segment.length <= MAX_PARAM_LENGTH), { minLength: op.pathParams.length, maxLength: op.pathParams.length })
          .map((segments) => urlOf(op, Object.fromEntries(op.pathParams.map((p, i) => [p.name, segments[i] ?? ''])), [], true))
      ))
    },
    fc.tuple(anyMethod, fc.array(oddSegment, { minLength: 1, maxLength: 5 }).map((segments) => `/v1/${segments.join('/')}`)),
    fc.tuple(anyMethod, fc.array(oddSegment, { minLength: 1, maxLength: 5 }).map((segments) => `/${segments.join('/')}`)),
    fc.tuple(anyMethod, fc.constantFrom(...KNOWN_PATHS))
  ),
  query: fc.oneof(fc.constant(''), fc.constantFrom('?', '?a=1', '?__proto__[x]=1', '?limit=-1&limit=abc', '?%00=%00', '?a=%ZZ', `?q=${'z'.repeat(5000)}`, '?#frag')),
  // Mostly no body; sometimes one the route (if there is one) would refuse: an unknown route is still a 404.
  body: fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    fc.constantFrom<[string, string]>(
      ['application/json', '{'], ['application/json', '{"a":1}'], ['application/json', '{"__proto__":{"polluted":"yes"}}'],
      ['text/plain', 'hello'], ['multipart/form-data; boundary=x', '--x--'], ['application/json', 'x'.repeat(1_100_000)]
    )
  )
}).map(({ target: [method, path], query, body }) => printable({
  mutation: 'odd path/method',
  wire: body === undefined
    ? { method, url: path + query, headers: {} }
    : { method, url: path + query, headers: { 'content-type': body[0] }, payload: body[1] }
}))

/** The contract's rule for a key that must be accepted: Bearer (any case), blanks, exactly one configured secret, optional blanks. */
export function isAcceptableAuthorization (header: string, secrets: readonly string[]): boolean {
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return match?.[1] !== undefined && secrets.includes(match[1])
}

/** What a header value looks like after Node's HTTP parser: bytes decoded as latin1. */
const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1')

export function garbageAuthorization (secrets: readonly string[], names: readonly string[]): fc.Arbitrary<string | string[]> {
  const secret = fc.constantFrom(...secrets)
  const junk = fc.string({ maxLength: 30 })
  const nearMiss = fc.oneof(
    fc.tuple(secret, fc.string({ minLength: 1, maxLength: 8 })).map(([s, x]) => s + x),
    fc.tuple(secret, fc.string({ minLength: 1, maxLength: 8 })).map(([s, x]) => x + s),
    secret.map((s) => s.slice(0, -1)),
    secret.map((s) => s.slice(1)),
    secret.map((s) => s.toUpperCase()),
    secret.map((s) => s.replace(/e/g, '\u0435')), // Cyrillic е
    secret.map((s) => `${s.slice(0, 3)}\u200B${s.slice(3)}`),
    secret.map((s) => `${s}\u0000`),
    secret.map((s) => `${s}\r\n`),
    secret.map((s) => Buffer.from(s).toString('base64')),
    secret.map((s) => encodeURIComponent(s).replace(/-/g, '%2D')),
    fc.tuple(fc.constantFrom(...names), secret).map(([n, s]) => `${n}:${s}`),
    fc.tuple(fc.constantFrom(...names), secret).map(([n, s]) => `${n}:${s}:write+read+ack`),
    fc.constantFrom(...names),
    fc.tuple(secret, fc.nat()).map(([s, i]) => {
      const at = i % s.length
      const code = s.charCodeAt(at)
      return s.slice(0, at) + String.fromCharCode(code === 0x7a ? 0x79 : code + 1) + s.slice(at + 1)
    })
  )
  const header = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 40 }).map(latin1),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.tuple(fc.constantFrom('Basic', 'Token', 'Digest', 'Bearer:', 'Bearer=', 'Bearerx', 'Bear', 'Negotiate', 'ApiKey', 'X-Bearer', 'Bearer,', 'OAuth', ''),
      fc.constantFrom(' ', '  ', '\t', '', '\u00a0', ','), fc.oneof(secret, nearMiss, junk))
      .map(([scheme, sep, token]) => `${scheme}${sep}${token}`),
    fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'bEaReR'), fc.constantFrom(' ', '   ', '\t', ' \t '), nearMiss)
      .map(([scheme, sep, token]) => `${scheme}${sep}${token}`),
    fc.tuple(fc.integer({ min: 0, max: 200 }), secret, fc.constantFrom('x', 'Bearer', secrets[0] ?? 'x')).map(([n, s, after]) => `Bearer ${' '.repeat(n)}${s} ${after}`),
    fc.tuple(fc.integer({ min: 2, max: 400 }), secret).map(([n, s]) => `Bearer${'\u00a0'.repeat(n)}${s}`),
    fc.tuple(fc.constantFrom(10_000, 100_000), fc.constantFrom('x', 'é', '😀')).map(([n, c]) => `Bearer ${c.repeat(n)}`),
    secret.map((s) => `Bearer ${s.repeat(500)}`),
    fc.tuple(secret, secret).map(([a, b]) => `Bearer ${a} ${b}`),
    fc.tuple(secret, secret).map(([a, b]) => `Bearer ${a},${b}`),
    fc.tuple(secret, secret).map(([a, b]) => `Bearer ${a}, Bearer ${b}`),
    fc.tuple(secret, secret).map(([a, b]) => `${a} ${b}`),
    secret,
    secret.map((s) => `Bearer Bearer ${s}`),
    secret.map((s) => `Bearer "${s}"`),
    fc.constantFrom('', ' ', 'Bearer', 'Bearer ', 'Bearer\t', 'bearer    ', 'null', 'undefined', 'Bearer null', 'Bearer undefined', 'Bearer [object Object]')
  )
  return fc.oneof(
    { weight: 9, arbitrary: header },
    // Two Authorization headers: the first one is the one that counts, so a garbage first one must fail whatever follows.
    { weight: 1, arbitrary: fc.tuple(header, secret).map(([first, s]) => [first, `Bearer ${s}`]) }
  ).filter((value) => {
    const first = Array.isArray(value) ? value[0] ?? '' : value
    // Over real HTTP, surrounding blanks are not part of a header value: those are valid keys, not garbage.
    return !isAcceptableAuthorization(first, secrets) && !isAcceptableAuthorization(first.trim(), secrets)
  })
}
