// API keys and scopes: 401 without a valid key, 403 without the route's scope, checked before the body; open operations routes; auth off with empty API_KEYS.
import { STATUS_CODES } from 'node:http'
import t, { type Test } from 'tap'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { AUTH, buildTestApp, newMessage, type TestApp } from '../helpers/app.js'
import { pendingIds, store } from '../helpers/requests.js'

type Request = InjectOptions & { method: 'GET' | 'POST' | 'DELETE', url: string }

function expectError (t: Test, res: LightMyRequestResponse, status: number, code: string): void {
  t.equal(res.statusCode, status, `status ${status}`)
  const body = res.json()
  t.strictSame(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], 'exactly the error keys')
  t.equal(body.statusCode, status)
  t.equal(body.code, code)
  t.equal(body.error, STATUS_CODES[status])
  t.notMatch(body.message, /secret/, 'no key material in the message')
}

/** inject() with exactly these headers: no admin key added. */
const send = (app: TestApp['app'], request: Request, headers: Record<string, string> = {}) =>
  app.inject({ ...request, headers: { ...(request.headers as Record<string, string> | undefined), ...headers } })

const STORE_ROUTES: Request[] = [
  { method: 'POST', url: '/v1/messages', payload: { receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'auth-1', msg_type: 1, content: 'hi' } },
  { method: 'POST', url: '/v1/messages/batch', payload: { messages: [{ receiver_uid: 'bob', sender_uid: 'alice', msg_id: 'auth-2', msg_type: 1, content: 'hi' }] } }
]
const READ_ROUTES: Request[] = [
  { method: 'GET', url: '/v1/receivers/bob/senders' },
  { method: 'GET', url: '/v1/receivers/bob/messages' },
  { method: 'GET', url: '/v1/receivers/bob/messages?sender_uid=alice&limit=5' },
  { method: 'GET', url: '/v1/receivers/bob/messages/kept' }
]
const ACK_ROUTES: Request[] = [
  { method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['kept'] } },
  { method: 'POST', url: '/v1/receivers/bob/acks', payload: { up_to_seq: 100 } },
  { method: 'DELETE', url: '/v1/receivers/bob/messages/kept' }
]
const ALL_V1_ROUTES = [...STORE_ROUTES, ...READ_ROUTES, ...ACK_ROUTES]
const label = (request: Request) => `${request.method} ${request.url}`

/** An app with one pending message "kept" for bob, so that a wrongly allowed ack would show. */
async function appWithOneMessage (t: Test): Promise<TestApp> {
  const built = await buildTestApp(t)
  await store(built.call, { msg_id: 'kept' })
  return built
}

t.test('a request without Authorization is 401 UNAUTHORIZED on every /v1 route', async (t) => {
  const { app, call } = await appWithOneMessage(t)
  for (const request of ALL_V1_ROUTES) expectError(t, await send(app, request), 401, 'UNAUTHORIZED')
  t.strictSame(await pendingIds(call, 'bob', null), ['kept'], 'nothing stored, nothing acked')
})

t.test('an unknown key is 401 on every /v1 route', async (t) => {
  const { app, call } = await appWithOneMessage(t)
  for (const request of ALL_V1_ROUTES) {
    expectError(t, await send(app, request, { authorization: 'Bearer not-a-known-secret' }), 401, 'UNAUTHORIZED')
  }
  t.strictSame(await pendingIds(call, 'bob', null), ['kept'])
})

t.test('a key entry sent whole (name:secret:scope) instead of the secret is 401', async (t) => {
  const { app } = await buildTestApp(t)
  expectError(t, await send(app, READ_ROUTES[0] as Request, { authorization: 'Bearer admin:admin-secret-1:write+read+ack' }), 401, 'UNAUTHORIZED')
})

t.test('the Bearer scheme is case-insensitive', async (t) => {
  const { app } = await buildTestApp(t)
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const res = await send(app, { method: 'GET', url: '/v1/receivers/bob/senders' }, { authorization: `${scheme} admin-secret-1` })
    t.equal(res.statusCode, 200, scheme)
  }
})

for (const header of ['Basic YWRtaW46YWRtaW4tc2VjcmV0LTE=', 'Basic admin-secret-1', 'Bearer', 'Bearer ', 'Bearer a b', 'Bearer admin-secret-1 extra', 'admin-secret-1', 'Token admin-secret-1']) {
  t.test(`a malformed Authorization header "${header}" is 401`, async (t) => {
    const { app } = await buildTestApp(t)
    expectError(t, await send(app, { method: 'GET', url: '/v1/receivers/bob/senders' }, { authorization: header }), 401, 'UNAUTHORIZED')
  })
}

t.test('each key works on the routes of its scopes', async (t) => {
  const { app, call } = await buildTestApp(t)
  const stored = await send(app, { method: 'POST', url: '/v1/messages', payload: newMessage({ msg_id: 'by-router' }) }, AUTH.router)
  t.equal(stored.statusCode, 201, 'router stores')
  for (const keys of [AUTH.gateway, AUTH.reader]) {
    t.equal((await send(app, { method: 'GET', url: '/v1/receivers/bob/senders' }, keys)).statusCode, 200, 'reads the summary')
    t.equal((await send(app, { method: 'GET', url: '/v1/receivers/bob/messages/by-router' }, keys)).statusCode, 200, 'fetches')
  }
  const acked = await send(app, { method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['by-router'] } }, AUTH.gateway)
  t.equal(acked.statusCode, 200, 'gateway acks')
  t.strictSame(acked.json(), { deleted: 1 })
  t.equal((await send(app, { method: 'DELETE', url: '/v1/receivers/bob/messages/by-router' }, AUTH.gateway)).statusCode, 204, 'gateway deletes')
  t.strictSame(await pendingIds(call, 'bob', null), [])
})

t.test('the router key (write) is 403 FORBIDDEN on read and ack routes, and acks nothing', async (t) => {
  const { app, call } = await appWithOneMessage(t)
  for (const request of [...READ_ROUTES, ...ACK_ROUTES]) expectError(t, await send(app, request, AUTH.router), 403, 'FORBIDDEN')
  t.strictSame(await pendingIds(call, 'bob', null), ['kept'])
})

t.test('the gateway key (read+ack) is 403 FORBIDDEN on store routes, and stores nothing', async (t) => {
  const { app, call } = await buildTestApp(t)
  for (const request of STORE_ROUTES) expectError(t, await send(app, request, AUTH.gateway), 403, 'FORBIDDEN')
  t.strictSame(await pendingIds(call, 'bob', null), [])
})

t.test('the reader key (read) is 403 FORBIDDEN on acks and DELETE, and acks nothing', async (t) => {
  const { app, call } = await appWithOneMessage(t)
  for (const request of [...ACK_ROUTES, ...STORE_ROUTES]) expectError(t, await send(app, request, AUTH.reader), 403, 'FORBIDDEN')
  t.strictSame(await pendingIds(call, 'bob', null), ['kept'])
})

t.test('the key is checked before the body: no key with malformed JSON is 401', async (t) => {
  const { app, call } = await buildTestApp(t)
  const res = await send(app, { method: 'POST', url: '/v1/messages', payload: '{"receiver_uid":', headers: { 'content-type': 'application/json' } })
  expectError(t, res, 401, 'UNAUTHORIZED')
  t.strictSame(await pendingIds(call, 'bob', null), [])
})

t.test('the key is checked before the content type: no key with text/plain is 401', async (t) => {
  const { app, call } = await buildTestApp(t)
  const res = await send(app, { method: 'POST', url: '/v1/messages', payload: JSON.stringify(newMessage()), headers: { 'content-type': 'text/plain' } })
  expectError(t, res, 401, 'UNAUTHORIZED')
  t.strictSame(await pendingIds(call, 'bob', null), [])
})

t.test('the key is checked before the body size: no key with an oversized body is 401', async (t) => {
  const { app } = await buildTestApp(t, { BODY_LIMIT_BYTES: '1024' })
  const res = await send(app, { method: 'POST', url: '/v1/messages', payload: newMessage({ content: 'x'.repeat(2000) }) })
  expectError(t, res, 401, 'UNAUTHORIZED')
})

t.test('the key is checked before the query and path: no key with an invalid limit or receiver_uid is 401', async (t) => {
  const { app } = await buildTestApp(t)
  expectError(t, await send(app, { method: 'GET', url: '/v1/receivers/bob/messages?limit=abc' }), 401, 'UNAUTHORIZED')
  expectError(t, await send(app, { method: 'GET', url: '/v1/receivers/bad%20uid/messages' }), 401, 'UNAUTHORIZED')
})

t.test('a key without the scope and an invalid body is 403, and nothing is stored', async (t) => {
  const { app, call } = await buildTestApp(t)
  const requests: Request[] = [
    { method: 'POST', url: '/v1/messages', payload: newMessage({ msg_type: '1' }) },
    { method: 'POST', url: '/v1/messages', payload: '{"broken', headers: { 'content-type': 'application/json' } },
    { method: 'POST', url: '/v1/messages', payload: 'hi', headers: { 'content-type': 'text/plain' } },
    { method: 'POST', url: '/v1/messages/batch', payload: { messages: [] } }
  ]
  for (const request of requests) expectError(t, await send(app, request, AUTH.gateway), 403, 'FORBIDDEN')
  t.strictSame(await pendingIds(call, 'bob', null), [])
})

t.test('a key without the scope and a valid body is 403, and nothing is stored', async (t) => {
  const { app, call } = await buildTestApp(t)
  expectError(t, await send(app, { method: 'POST', url: '/v1/messages', payload: newMessage() }, AUTH.reader), 403, 'FORBIDDEN')
  t.strictSame(await pendingIds(call, 'bob', null), [])
})

const OPEN_ROUTES: Array<[string, number, RegExp]> = [
  ['/healthz', 200, /^application\/json/],
  ['/readyz', 200, /^application\/json/],
  ['/metrics', 200, /^text\/plain/],
  ['/openapi.json', 200, /^application\/json/],
  ['/docs', 200, /^text\/html/]
]
for (const [url, status, type] of OPEN_ROUTES) {
  t.test(`${url} needs no key and ignores a bad one`, async (t) => {
    const { app } = await buildTestApp(t)
    for (const headers of [{}, { authorization: 'Bearer wrong-key-123' }, { authorization: 'garbage' }, AUTH.router]) {
      const res = await send(app, { method: 'GET', url }, headers)
      t.equal(res.statusCode, status, JSON.stringify(headers))
      t.match(res.headers['content-type'], type)
    }
  })
}

for (const url of ['/nope', '/v1/nope', '/v1/receivers/bob/nope', '/v2/messages']) {
  t.test(`an unknown route ${url} is 404 with the error shape, with or without a key`, async (t) => {
    const { app } = await buildTestApp(t)
    for (const headers of [{}, AUTH.admin, AUTH.router, { authorization: 'Bearer wrong-key-123' }]) {
      expectError(t, await send(app, { method: 'GET', url }, headers), 404, 'ROUTE_NOT_FOUND')
    }
  })
}

t.test('with API_KEYS empty, /v1 calls work without a key', async (t) => {
  const { app } = await buildTestApp(t, { API_KEYS: '' })
  const stored = await send(app, { method: 'POST', url: '/v1/messages', payload: newMessage({ msg_id: 'open' }) })
  t.equal(stored.statusCode, 201)
  const page = await send(app, { method: 'GET', url: '/v1/receivers/bob/messages' })
  t.equal(page.statusCode, 200)
  t.strictSame(page.json().messages.map((message: { msg_id: string }) => message.msg_id), ['open'])
  const acked = await send(app, { method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['open'] } })
  t.strictSame(acked.json(), { deleted: 1 })
})
