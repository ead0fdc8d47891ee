// The OpenAPI document: served at /openapi.json as committed in openapi/openapi.json, complete against the contract, with Swagger UI at /docs.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsPlugin from 'ajv-formats'
import packageJson from '../../package.json' with { type: 'json' }
import { buildTestApp } from '../helpers/app.js'

const COMMITTED_PATH = fileURLToPath(new URL('../../openapi/openapi.json', import.meta.url))
const REGENERATE = 'run `npm run openapi` and commit openapi/openapi.json'

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']

/**
 * The contract's endpoints (shared/contract.md) with the status codes each must document:
 * its own answers, plus 401/403 on every /v1 route (the key and its scope are checked first).
 */
const CONTRACT: Record<string, Record<string, number[]>> = {
  '/v1/messages': { post: [201, 200, 400, 401, 403, 409, 413, 415, 429] },
  '/v1/messages/batch': { post: [200, 400, 401, 403, 413, 415] },
  '/v1/receivers/{receiver_uid}/senders': { get: [200, 400, 401, 403] },
  '/v1/receivers/{receiver_uid}/messages': { get: [200, 400, 401, 403] },
  '/v1/receivers/{receiver_uid}/messages/{msg_id}': { get: [200, 400, 401, 403, 404], delete: [204, 400, 401, 403] },
  '/v1/receivers/{receiver_uid}/acks': { post: [200, 400, 401, 403, 413, 415] },
  '/healthz': { get: [200] },
  '/readyz': { get: [200, 503] },
  '/metrics': { get: [200] }
}
const OPERATIONS_WITHOUT_KEY = ['/healthz', '/readyz', '/metrics']

function operations (document: Json): Array<{ path: string, method: string, operation: Json }> {
  return Object.entries(document.paths as Json ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, operation]) => ({ path, method, operation: operation as Json })))
}

// The document is the same for every app with the default configuration; other values (MAX_CONTENT_LENGTH) change it on purpose.
const { app } = await buildTestApp(t)
const servedResponse = await app.inject({ method: 'GET', url: '/openapi.json' })
const served = servedResponse.json() as Json

t.test('GET /openapi.json answers without a key, and ignores a bad one', async (t) => {
  t.equal(servedResponse.statusCode, 200)
  t.match(servedResponse.headers['content-type'], /^application\/json/)
  const withBadKey = await app.inject({ method: 'GET', url: '/openapi.json', headers: { authorization: 'Bearer not-a-key' } })
  t.equal(withBadKey.statusCode, 200)
  t.strictSame(withBadKey.json(), served)
})

t.test('the served document is the committed openapi/openapi.json, as the generator writes it', async (t) => {
  t.ok(existsSync(COMMITTED_PATH), `openapi/openapi.json exists (if not: ${REGENERATE})`)
  if (!existsSync(COMMITTED_PATH)) return
  const text = readFileSync(COMMITTED_PATH, 'utf8')
  const committed = JSON.parse(text) as Json
  t.strictSame(served, committed, `the served OpenAPI document has drifted from openapi/openapi.json: ${REGENERATE}`)
  t.equal(text, JSON.stringify(committed, null, 2) + '\n', `openapi/openapi.json was not written by the generator: ${REGENERATE}`)
})

t.test('the document is OpenAPI 3.1', async (t) => {
  t.match(served.openapi, /^3\.1\.\d+$/, 'openapi is 3.1.x')
  t.type(served.info?.title, 'string')
  t.type(served.info?.version, 'string')
})

t.test("info carries the package's version and license; the server is the one serving the document", async (t) => {
  t.equal(served.info?.version, packageJson.version, 'info.version is package.json\'s version')
  t.equal(served.info?.license?.identifier, packageJson.license, 'info.license is package.json\'s license')
  t.same(served.servers?.map((server: Json) => server.url), ['/'], 'one relative server: wherever the document was loaded from')
})

t.test('every contract endpoint is documented with its methods', async (t) => {
  for (const [path, methods] of Object.entries(CONTRACT)) {
    const item = served.paths?.[path] as Json | undefined
    t.ok(item, `${path} is documented`)
    for (const method of Object.keys(methods)) {
      t.ok(item?.[method], `${method.toUpperCase()} ${path} is documented`)
    }
  }
})

t.test('every path parameter is declared, required, so Swagger UI can fill it in', async (t) => {
  for (const { path, method, operation } of operations(served)) {
    const declared = ((operation.parameters ?? []) as Json[]).filter((parameter) => parameter.in === 'path')
    for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1])) {
      const parameter = declared.find((candidate) => candidate.name === name)
      t.ok(parameter, `${method.toUpperCase()} ${path} declares the path parameter ${name}`)
      t.equal(parameter?.required, true, `${method.toUpperCase()} ${path}: ${name} is required`)
    }
  }
})

t.test('every POST takes a required JSON body', async (t) => {
  for (const { path, method, operation } of operations(served).filter(({ method }) => method === 'post')) {
    t.equal(operation.requestBody?.required, true, `POST ${path} requires a body`)
    t.ok(operation.requestBody?.content?.['application/json']?.schema, `POST ${path} documents a JSON body schema`)
  }
})

t.test('the /v1 operations need a bearer key; health, readiness and metrics do not', async (t) => {
  const schemes = (served.components?.securitySchemes ?? {}) as Json
  const bearerSchemes = Object.keys(schemes).filter((name) =>
    schemes[name]?.type === 'http' && String(schemes[name]?.scheme).toLowerCase() === 'bearer')
  t.ok(bearerSchemes.length > 0, 'components.securitySchemes has an http bearer scheme')
  t.notOk(served.security?.length, 'no global security requirement (it would cover the operations endpoints too)')

  const v1 = operations(served).filter(({ path }) => path.startsWith('/v1/'))
  t.ok(v1.length >= 7, 'the /v1 operations are there')
  for (const { path, method, operation } of v1) {
    const requirements = (operation.security ?? []) as Json[]
    t.ok(requirements.length > 0 && requirements.every((requirement) => Object.keys(requirement).some((name) => bearerSchemes.includes(name))),
      `${method.toUpperCase()} ${path} requires the bearer scheme`)
  }
  for (const path of OPERATIONS_WITHOUT_KEY) {
    for (const [method, operation] of Object.entries((served.paths?.[path] ?? {}) as Json)) {
      t.same((operation as Json).security, [], `${method.toUpperCase()} ${path} needs no key, and says so (security: [])`)
    }
  }
})

t.test('every /v1 error response is the JSON error shape {statusCode, code, error, message}', async (t) => {
  for (const { path, method, operation } of operations(served).filter(({ path }) => path.startsWith('/v1/'))) {
    const errorCodes = Object.keys((operation.responses ?? {}) as Json).filter((status) => Number(status) >= 400)
    t.ok(errorCodes.length > 0, `${method.toUpperCase()} ${path} documents its errors`)
    for (const status of errorCodes) {
      const where = `${method.toUpperCase()} ${path} ${status}`
      const schema = operation.responses[status]?.content?.['application/json']?.schema as Json | undefined
      t.ok(schema, `${where} has a JSON schema`)
      t.equal(schema?.type, 'object', `${where} is an object`)
      t.same([...(schema?.required ?? [])].sort(), ['code', 'error', 'message', 'statusCode'], `${where} requires statusCode, code, error, message`)
      t.equal(schema?.properties?.statusCode?.type, 'integer', `${where}: statusCode is an integer`)
      for (const field of ['code', 'error', 'message']) {
        t.equal(schema?.properties?.[field]?.type, 'string', `${where}: ${field} is a string`)
      }
    }
  }
})

t.test("every endpoint documents the contract's status codes", async (t) => {
  for (const [path, methods] of Object.entries(CONTRACT)) {
    for (const [method, statuses] of Object.entries(methods)) {
      const documented = Object.keys((served.paths?.[path]?.[method]?.responses ?? {}) as Json)
      for (const status of statuses) {
        t.ok(documented.includes(String(status)), `${method.toUpperCase()} ${path} documents ${status}`)
      }
    }
  }
  const deleteOne = served.paths?.['/v1/receivers/{receiver_uid}/messages/{msg_id}']?.delete?.responses?.['204'] as Json | undefined
  t.notOk(deleteOne?.content, 'DELETE answers 204 with no body')
})

t.test('GET /docs answers Swagger UI as HTML without a key, showing the same document', async (t) => {
  const page = await app.inject({ method: 'GET', url: '/docs' })
  const withSlash = await app.inject({ method: 'GET', url: '/docs/' })
  const shown = page.statusCode === 200 ? page : withSlash
  t.equal(shown.statusCode, 200, '/docs or /docs/ answers 200')
  t.match(shown.headers['content-type'], /^text\/html/)
  t.match(shown.body, /swagger-ui/i)
  const uiDocument = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(uiDocument.statusCode, 200)
  t.strictSame(uiDocument.json(), served, 'Swagger UI loads the document /openapi.json serves')
})

/** Every media object (request bodies, responses) of an operation, with where it is. */
function mediaObjects (document: Json): Array<{ where: string, media: Json }> {
  return operations(document).flatMap(({ path, method, operation }) => {
    const at = `${method.toUpperCase()} ${path}`
    const bodies = Object.entries((operation.requestBody?.content ?? {}) as Json).map(([type, media]) => ({ where: `${at} body ${type}`, media: media as Json }))
    const answers = Object.entries((operation.responses ?? {}) as Json).flatMap(([status, response]) =>
      Object.entries(((response as Json).content ?? {}) as Json).map(([type, media]) => ({ where: `${at} ${status} ${type}`, media: media as Json })))
    return [...bodies, ...answers]
  })
}

/** The request bodies of the document's webhooks (what the service sends), with where they are. */
function webhookMedia (document: Json): Array<{ where: string, media: Json }> {
  return Object.entries((document.webhooks ?? {}) as Json).flatMap(([name, item]) =>
    Object.entries(((item as Json).post?.requestBody?.content ?? {}) as Json).map(([type, media]) => ({ where: `webhook ${name} body ${type}`, media: media as Json })))
}

/** The examples of a media object: `example`, or the values of its named `examples`. */
const examplesOf = (media: Json): unknown[] =>
  media.example !== undefined ? [media.example] : Object.values((media.examples ?? {}) as Json).map((example) => (example as Json).value)

t.test('every request body and every response shows an example, not one Swagger UI makes up from the schema', async (t) => {
  const media = mediaObjects(served)
  t.ok(media.length >= 40, 'the bodies and answers are there')
  for (const { where, media: one } of media) t.ok(examplesOf(one).length > 0, `${where} has an example`)
  for (const { path, method, operation } of operations(served)) {
    for (const parameter of ((operation.parameters ?? []) as Json[]).filter((candidate) => candidate.in === 'path')) {
      t.ok(parameter.example !== undefined, `${method.toUpperCase()} ${path}: the path parameter ${parameter.name} has an example`)
    }
  }
})

t.test('every example is valid against its own schema', async (t) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  ;(addFormatsPlugin as unknown as (ajv: Ajv2020) => void)(ajv)
  const check = (where: string, schema: Json, example: unknown) => {
    const validate = ajv.compile(schema)
    t.ok(validate(example), `${where}: the example ${JSON.stringify(example).slice(0, 60)} is valid${validate.errors ? ': ' + ajv.errorsText(validate.errors) : ''}`)
  }
  /** The schemas' own `examples` (on ids, for instance), at any depth. */
  const walk = (where: string, schema: unknown): void => {
    if (Array.isArray(schema)) { schema.forEach((item) => { walk(where, item) }); return }
    if (schema === null || typeof schema !== 'object') return
    for (const example of ((schema as Json).examples ?? []) as unknown[]) check(`${where} (schema)`, schema as Json, example)
    for (const [key, value] of Object.entries(schema)) if (key !== 'examples') walk(`${where}/${key}`, value)
  }
  let checked = 0
  for (const { where, media } of [...mediaObjects(served), ...webhookMedia(served)]) {
    for (const example of examplesOf(media)) { check(where, media.schema as Json, example); checked++ }
    walk(where, media.schema)
  }
  for (const { path, method, operation } of operations(served)) {
    for (const parameter of (operation.parameters ?? []) as Json[]) {
      if (parameter.example !== undefined) { check(`${method.toUpperCase()} ${path} ${parameter.name}`, parameter.schema as Json, parameter.example); checked++ }
    }
  }
  t.ok(checked >= 50, `the examples were checked (${checked})`)
})

t.test('the events tag and the webhooks entry describe the webhook: its body, its signed headers, what an answer means, its configuration', async (t) => {
  const tag = ((served.tags ?? []) as Json[]).find((candidate) => candidate.name === 'events')
  const text = String(tag?.description ?? '')
  for (const words of ['{"events": [...]}', 'webhook-id', 'the same on every retry', 'webhook-timestamp', 'webhook-signature', '`v1,<base64>`', 'HMAC-SHA256',
    'WEBHOOK_URL', 'WEBHOOK_SECRET', 'whsec_', 'WEBHOOK_BATCH_SIZE', 'WEBHOOK_TIMEOUT_MS', 'EVENTS=on', 'EVENT_RETENTION_SECONDS', 'from 1 s up to 60 s', 'at least once and in order']) {
    t.ok(text.includes(words), `the events tag's description says ${words}`)
  }
  t.ok(((served.paths?.['/v1/events']?.get?.tags ?? []) as string[]).includes('events'), 'GET /v1/events is under that tag, so Swagger UI shows the text above it')

  const post = served.webhooks?.events?.post as Json | undefined
  t.ok(post, 'an OpenAPI 3.1 webhook: events')
  const headers = ((post?.parameters ?? []) as Json[]).filter((parameter) => parameter.in === 'header' && parameter.required === true).map((parameter) => parameter.name)
  t.same(headers, ['webhook-id', 'webhook-timestamp', 'webhook-signature'], 'its three required headers')
  const body = post?.requestBody?.content?.['application/json']?.schema as Json | undefined
  t.same(body?.required, ['events'], 'its body is {events: [...]}')
  t.same(body?.properties?.events?.items, served.paths?.['/v1/events']?.get?.responses?.['200']?.content?.['application/json']?.schema?.properties?.events?.items,
    'each event as the feed shows it')
  t.same(Object.keys((post?.responses ?? {}) as Json), ['2XX', 'default'], 'what a 2xx and anything else mean')
})
