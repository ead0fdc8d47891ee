// The service's calls one by one (ack, the devices, a page of messages), the error they throw, and the step that hands
// a page over and then acks it, which pullAll and watch share.
import type { operations } from './schema.js'
import type { AckBody, Device, Message, MessagePage, OfflineMessagesClient, PullAllResult, RecallResult, RegisteredDevice } from './types.js'

/** An answer other than the one expected, with the service's error body. */
export class OfflineMessagesError extends Error {
  /**
   * @param retryAfterMs The service's Retry-After (429 RATE_LIMITED, 503 STORE_UNAVAILABLE, SHUTTING_DOWN, ...) in
   * milliseconds: how long to wait before asking again; undefined when it sent none.
   */
  constructor (readonly status: number, readonly body: unknown, readonly retryAfterMs?: number) {
    super(`offline-messages answered ${status}: ${JSON.stringify(body)}`)
    this.name = 'OfflineMessagesError'
  }
}

/** A Retry-After header in milliseconds: its delay in seconds, or its HTTP date from now; undefined without a valid one. */
function retryAfterOf (response: Response): number | undefined {
  const value = response.headers.get('retry-after')?.trim()
  if (value === undefined || value === '') return undefined
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now()
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined
}

const failure = (result: { error?: unknown, response: Response }): OfflineMessagesError =>
  new OfflineMessagesError(result.response.status, result.error, retryAfterOf(result.response))

/** Throws OfflineMessagesError unless the service answered 2xx. */
export function succeeded (result: { error?: unknown, response: Response }): void {
  if (!result.response.ok) throw failure(result)
}

export function ok<T> (result: { data?: T, error?: unknown, response: Response }): T {
  succeeded(result)
  if (result.data === undefined) throw failure(result)
  return result.data
}

/** The `device_id` of a query or an ack body: present only when a device is named. */
export function deviceField (deviceId: string | undefined): { device_id?: string } {
  return deviceId === undefined ? {} : { device_id: deviceId }
}

export interface CallOptions {
  /** Aborts the request. */
  signal?: AbortSignal
}

/**
 * Acknowledges, then deletes, a receiver's messages (with device_id in the body: takes them from that device's pending
 * ones); resolves with how many were deleted (0 when acked again).
 */
export async function ack (client: OfflineMessagesClient, receiverUid: string, body: AckBody, options: CallOptions = {}): Promise<number> {
  return ok(await client.POST('/v1/receivers/{receiver_uid}/acks', { params: { path: { receiver_uid: receiverUid } }, body, signal: options.signal })).deleted
}

/**
 * The sender takes back a message (scope write): removed from every device that still has it; resolves with what was
 * recalled and what was already delivered (state recalled, partly_delivered or delivered). Recalling again resolves the
 * same. Rejects with MESSAGE_NOT_FOUND for an unknown id or another sender's message.
 */
export async function recall (client: OfflineMessagesClient, receiverUid: string, msgId: string, senderUid: string): Promise<RecallResult> {
  return ok(await client.POST('/v1/receivers/{receiver_uid}/messages/{msg_id}/recall', {
    params: { path: { receiver_uid: receiverUid, msg_id: msgId } }, body: { sender_uid: senderUid }
  }))
}

/**
 * Registers a device of a receiver (idempotent: registering it again answers the same). From the first device on,
 * reads and acks of that receiver name a device; the first one takes over what was pending for the receiver.
 */
export async function registerDevice (client: OfflineMessagesClient, receiverUid: string, deviceId: string): Promise<RegisteredDevice> {
  return ok(await client.PUT('/v1/receivers/{receiver_uid}/devices/{device_id}', { params: { path: { receiver_uid: receiverUid, device_id: deviceId } } }))
}

/** A receiver's registered devices, each with its pending count and last ack. */
export async function listDevices (client: OfflineMessagesClient, receiverUid: string): Promise<Device[]> {
  return ok(await client.GET('/v1/receivers/{receiver_uid}/devices', { params: { path: { receiver_uid: receiverUid } } })).devices
}

/** Unregisters a device (also when it was not registered): what was pending only for it is deleted. */
export async function unregisterDevice (client: OfflineMessagesClient, receiverUid: string, deviceId: string): Promise<void> {
  succeeded(await client.DELETE('/v1/receivers/{receiver_uid}/devices/{device_id}', { params: { path: { receiver_uid: receiverUid, device_id: deviceId } } }))
}

export type PageQuery = NonNullable<operations['listMessages']['parameters']['query']>

/** One page of a receiver's pending messages, for the device, sender and cursor the query names. */
export async function readPage (client: OfflineMessagesClient, receiverUid: string, query: PageQuery, signal?: AbortSignal): Promise<MessagePage> {
  return ok(await client.GET('/v1/receivers/{receiver_uid}/messages', { params: { path: { receiver_uid: receiverUid }, query }, signal }))
}

/**
 * pullAll's and watch's one step: hands a page's messages over with `handle` and, only once its promise has resolved,
 * acks them by msg_ids (for the device, if one is named), counting both in `counts`. An empty page is not handed
 * over: resolves false.
 */
export async function handThenAck (
  client: OfflineMessagesClient,
  receiverUid: string,
  deviceId: string | undefined,
  messages: Message[],
  handle: () => unknown,
  counts: PullAllResult,
  signal?: AbortSignal
): Promise<boolean> {
  const [first, ...rest] = messages.map((message) => message.msg_id)
  if (first === undefined) return false
  await handle()
  signal?.throwIfAborted()
  const acked = await ack(client, receiverUid, { ...deviceField(deviceId), msg_ids: [first, ...rest] }, { signal })
  counts.pages++
  counts.delivered += messages.length
  counts.acked += acked
  return true
}
