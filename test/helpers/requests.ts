// The requests and answer checks the HTTP tests share: plain helpers return the response, setup helpers throw with its status and body unless it is the expected one.
import { STATUS_CODES } from 'node:http'
import type { Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { newMessage, type TestApp } from './app.js'

export type Call = TestApp['call']

/** An RFC 3339 UTC time with milliseconds, as every answer writes times. */
export const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

/** POST /v1/messages with this body, as it is. */
export async function post (call: Call, body: Record<string, unknown>) {
  return await call({ method: 'POST', url: '/v1/messages', payload: body })
}

/** Stores one new message (newMessage with `overrides`) and returns the service's answer; anything but 201 throws. */
export async function store (call: Call, overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const res = await post(call, newMessage(overrides))
  if (res.statusCode !== 201) throw new Error(`setup store answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

/** GET one pending message by its msg_id. */
export async function getOne (call: Call, receiver: string, msgId: string) {
  return await call({ method: 'GET', url: `/v1/receivers/${receiver}/messages/${encodeURIComponent(msgId)}` })
}

/** POST an ack body, valid or not, for a receiver. */
export async function postAck (call: Call, body: unknown, receiver = 'bob') {
  return await call({ method: 'POST', url: `/v1/receivers/${receiver}/acks`, payload: body as Record<string, unknown> })
}

/** Acks and returns how many messages were deleted; anything but 200 throws. */
export async function ack (call: Call, body: Record<string, unknown>, receiver = 'bob'): Promise<number> {
  const res = await postAck(call, body, receiver)
  if (res.statusCode !== 200) throw new Error(`setup ack answered ${res.statusCode}: ${res.body}`)
  return res.json().deleted as number
}

/** GET a page of a receiver's pending messages, `query` as its URL parameters. */
export async function page (call: Call, query: Record<string, string | number> = {}, receiver = 'bob') {
  const search = new URLSearchParams(Object.entries(query).map(([key, value]) => [key, String(value)])).toString()
  return await call({ method: 'GET', url: `/v1/receivers/${receiver}/messages${search === '' ? '' : `?${search}`}` })
}

/** The body of a page; anything but 200 throws. */
export async function pageBody (call: Call, query: Record<string, string | number> = {}, receiver = 'bob'): Promise<Record<string, any>> {
  const res = await page(call, query, receiver)
  if (res.statusCode !== 200) throw new Error(`page of ${receiver} answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

/** The messages pending for a receiver in seq order: the first page of `limit`, or of the service's default size when null. */
export async function pending (call: Call, receiver = 'bob', limit: number | null = null): Promise<Array<Record<string, unknown>>> {
  return (await pageBody(call, limit === null ? {} : { limit }, receiver)).messages
}

/** msg_ids of what is pending for a receiver, in seq order: up to 1000 of them unless `limit` says otherwise (null: the default size). */
export async function pendingIds (call: Call, receiver = 'bob', limit: number | null = 1000): Promise<string[]> {
  return (await pending(call, receiver, limit)).map((message) => message.msg_id as string)
}

/** GET a receiver's summary, `query` ('?limit=…') appended as it is. */
export async function getSummary (call: Call, receiver = 'bob', query = '') {
  return await call({ method: 'GET', url: `/v1/receivers/${receiver}/senders${query}` })
}

/** The body of a receiver's summary; anything but 200 throws. */
export async function summary (call: Call, receiver = 'bob'): Promise<Record<string, any>> {
  const res = await getSummary(call, receiver)
  if (res.statusCode !== 200) throw new Error(`summary answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

/** Summary rows reduced to what lost counts are about: [sender, pending_count, last_seq, lost_count]. */
export const rowsOf = (body: Record<string, any>) =>
  body.senders.map((row: Record<string, unknown>) => [row.sender_uid, row.pending_count, row.last_seq, row.lost_count])

/** The parts of an error answer a test checks, so one t.same shows every difference at once. */
export function errorOf (res: { statusCode: number, json (): any }): Record<string, unknown> {
  const body = res.json()
  return { status: res.statusCode, keys: Object.keys(body).sort(), statusCode: body.statusCode, code: body.code, error: body.error }
}

/** Asserts the shape every error answer has, JSON with exactly {statusCode, code, error, message}, and returns its body. */
export function expectErrorShape (t: Test, res: LightMyRequestResponse, status: number, code: string): { code: string, message: string } {
  t.equal(res.statusCode, status, `status ${status}`)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.strictSame(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], 'exactly the error keys')
  t.equal(body.statusCode, status)
  t.equal(body.code, code)
  t.equal(body.error, STATUS_CODES[status])
  return body
}
