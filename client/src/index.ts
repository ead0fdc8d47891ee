// The typed client: openapi-fetch over the types generated from openapi/openapi.json (./schema.ts), plus pullAll, watch and devices.
import createClient, { type Client } from 'openapi-fetch'
import type { components, operations, paths as GeneratedPaths } from './schema.js'

export type { components, operations }

/** A message as the service returns it, snake_case as on the wire. */
export type Message = GeneratedPaths['/v1/receivers/{receiver_uid}/messages']['get']['responses'][200]['content']['application/json']['messages'][number]
export type NewMessage = GeneratedPaths['/v1/messages']['post']['requestBody']['content']['application/json']
/** One page of pending messages, `{ messages, next_cursor, has_more }`, as the service returns it. */
export type MessagePage = GeneratedPaths['/v1/receivers/{receiver_uid}/messages']['get']['responses'][200]['content']['application/json']
/** A registered device of a receiver, with what is pending for it. */
export type Device = GeneratedPaths['/v1/receivers/{receiver_uid}/devices']['get']['responses'][200]['content']['application/json']['devices'][number]
/** What registering a device answers. */
export type RegisteredDevice = GeneratedPaths['/v1/receivers/{receiver_uid}/devices/{device_id}']['put']['responses'][201]['content']['application/json']

/**
 * The body of an ack: the ids of the messages to acknowledge (at least one), or everything up to a seq, of one
 * sender or of all; never both. The OpenAPI document can only say "either" in words, so the generated type has
 * every field optional; this one lets the compiler refuse `{}` and a body with both, and, through ack(),
 * `{ msg_ids: [] }` (openapi-fetch's POST widens the list to string[], so there only the server refuses it).
 * Either form takes `device_id` for a receiver with registered devices (required then, refused without devices).
 */
export type AckBody =
  | { msg_ids: [string, ...string[]], up_to_seq?: never, sender_uid?: never, device_id?: string }
  | { up_to_seq: number, sender_uid?: string, msg_ids?: never, device_id?: string }

type AckPath = GeneratedPaths['/v1/receivers/{receiver_uid}/acks']
type AckOperation = AckPath['post']

/** The service's paths, as generated, with the ack body narrowed to AckBody. */
export type paths = Omit<GeneratedPaths, '/v1/receivers/{receiver_uid}/acks'> & {
  '/v1/receivers/{receiver_uid}/acks': Omit<AckPath, 'post'> & {
    post: Omit<AckOperation, 'requestBody'> & { requestBody: { content: { 'application/json': AckBody } } }
  }
}

export interface ClientOptions {
  baseUrl: string
  /** The secret of an API key; omit when the service runs without keys (API_KEYS empty). */
  apiKey?: string
  fetch?: typeof globalThis.fetch
}

export type OfflineMessagesClient = Client<paths>

export function createOfflineMessagesClient (options: ClientOptions): OfflineMessagesClient {
  return createClient<paths>({
    baseUrl: options.baseUrl,
    headers: options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch === undefined ? {} : { fetch: options.fetch })
  })
}

/** An answer other than the one expected, with the service's error body. */
export class OfflineMessagesError extends Error {
  constructor (readonly status: number, readonly body: unknown) {
    super(`offline-messages answered ${status}: ${JSON.stringify(body)}`)
    this.name = 'OfflineMessagesError'
  }
}

/** What pullAll hands to its handler: one page of one sender's messages, exactly as the service returned them. */
export interface PullPage {
  sender_uid: string
  messages: Message[]
}

export interface PullAllOptions {
  /** Messages per page, 1-1000 (default 100). */
  pageSize?: number
  /** Summary rows per request, 1-500 (default 50). */
  sendersPerRequest?: number
  /**
   * The device to pull for, when the receiver has registered devices: its summary, its pages, its acks. The
   * messages stay pending for the receiver's other devices until each of them acks them too.
   */
  deviceId?: string
}

export interface PullAllResult {
  pages: number
  delivered: number
  acked: number
}

/** Throws OfflineMessagesError unless the service answered 2xx. */
function succeeded (result: { error?: unknown, response: Response }): void {
  if (!result.response.ok) throw new OfflineMessagesError(result.response.status, result.error)
}

function ok<T> (result: { data?: T, error?: unknown, response: Response }): T {
  succeeded(result)
  if (result.data === undefined) throw new OfflineMessagesError(result.response.status, result.error)
  return result.data
}

/** The `device_id` of a query or an ack body: present only when a device is named. */
function deviceField (deviceId: string | undefined): { device_id?: string } {
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

type PageQuery = NonNullable<operations['listMessages']['parameters']['query']>

/** One page of a receiver's pending messages, for the device, sender and cursor the query names. */
async function readPage (client: OfflineMessagesClient, receiverUid: string, query: PageQuery, signal?: AbortSignal): Promise<MessagePage> {
  return ok(await client.GET('/v1/receivers/{receiver_uid}/messages', { params: { path: { receiver_uid: receiverUid }, query }, signal }))
}

/**
 * pullAll's and watch's one step: hands a page's messages over with `handle` and, only once its promise has resolved,
 * acks them by msg_ids (for the device, if one is named), counting both in `counts`. An empty page is not handed
 * over: resolves false.
 */
async function handThenAck (
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

/**
 * Hands every pending message of a receiver to `handler`, one page at a time, sender by sender (most recent
 * conversation first), and acknowledges a page only after the handler's promise has resolved. If the handler
 * throws, or the caller crashes, nothing unhandled has been acked: the next pullAll gets those messages again,
 * so the handler must tolerate seeing a page twice (dedup by msg_id). Messages that arrive during the walk are
 * left for the next call.
 */
export async function pullAll (
  client: OfflineMessagesClient,
  receiverUid: string,
  handler: (page: PullPage) => Promise<void>,
  options: PullAllOptions = {}
): Promise<PullAllResult> {
  const result: PullAllResult = { pages: 0, delivered: 0, acked: 0 }
  const device = deviceField(options.deviceId)
  let summaryCursor: string | undefined
  do {
    const summary = ok(await client.GET('/v1/receivers/{receiver_uid}/senders', {
      params: { path: { receiver_uid: receiverUid }, query: { ...device, limit: options.sendersPerRequest ?? 50, ...(summaryCursor === undefined ? {} : { cursor: summaryCursor }) } }
    }))
    for (const sender of summary.senders) {
      if (sender.pending_count === 0) continue
      let cursor: string | undefined
      let hasMore = true
      while (hasMore) {
        const page = await readPage(client, receiverUid, {
          ...device, sender_uid: sender.sender_uid, limit: options.pageSize ?? 100, ...(cursor === undefined ? {} : { cursor })
        })
        cursor = page.next_cursor
        hasMore = page.has_more
        const handed = await handThenAck(client, receiverUid, options.deviceId, page.messages,
          async () => { await handler({ sender_uid: sender.sender_uid, messages: page.messages }) }, result)
        if (!handed) break
      }
    }
    summaryCursor = summary.next_cursor ?? undefined
  } while (summaryCursor !== undefined)
  return result
}

export interface WatchOptions {
  /** The device to watch for, when the receiver has registered devices: its pages and its acks. */
  deviceId?: string
  /** Only this sender's messages (default: every sender's). */
  senderUid?: string
  /** Stops the watch at once: the request in flight is aborted and watch() resolves. */
  signal?: AbortSignal
  /** Messages per page, 1-1000 (default 100). */
  pageSize?: number
  /** How long the service holds a request while nothing is pending, 1-30 seconds (default 30). */
  waitSeconds?: number
  /** The pause after the first failure, doubled after each further one in a row (default 250 ms). */
  retryDelayMs?: number
  /** The longest pause between retries (default 5000 ms). */
  maxRetryDelayMs?: number
  /** Told of each failure that will be retried, the handler's or the service's, and of the pause before the retry. */
  onRetry?: (error: unknown, delayMs: number) => void
}

/** An answer that no retry will change: a bad key or scope, an unknown or missing device, a bad request. */
function isPermanent (error: unknown): boolean {
  return error instanceof OfflineMessagesError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429
}

/** Settles as `promise` does, or resolves as soon as `signal` aborts (then `promise` finishes on its own, its outcome ignored). */
async function unlessAborted<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (signal === undefined) return await promise
  return await new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => { resolve(undefined) }
    signal.addEventListener('abort', onAbort, { once: true })
    if (signal.aborted) onAbort()
    promise.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}

/**
 * Delivers a receiver's messages as they come, until `options.signal` aborts: first every pending page from the start
 * (like pullAll, oldest first across senders, or one sender's with `senderUid`), then long-polls (`wait_seconds`) from
 * the last page's `next_cursor`, so a message stored later is handed over as soon as it commits. Each non-empty page
 * goes to `handler(messages, page)`; its messages are acked, by msg_ids (for `deviceId`, if given), only after the
 * handler's promise has resolved.
 *
 * Nothing gives up on a passing failure: a handler that throws or rejects acks nothing and gets the same messages
 * again, and a service that cannot be reached or answers 5xx or 429 (a restart, an overload) is asked again; both
 * after a pause that doubles from `retryDelayMs` up to `maxRetryDelayMs`, from the cursor it had. An answer that no
 * retry changes (401, 403, 400 DEVICE_REQUIRED, 404 DEVICE_NOT_FOUND, ...) rejects with OfflineMessagesError.
 *
 * When the signal aborts, watch() resolves at once with what it delivered: the request in flight is aborted, and a
 * page whose handler has not finished is not acked, so the next watch or pullAll hands it over again. Delivery is at
 * least once: the handler must tolerate seeing a page twice (dedup by msg_id).
 */
export async function watch (
  client: OfflineMessagesClient,
  receiverUid: string,
  handler: (messages: Message[], page: MessagePage) => Promise<void> | void,
  options: WatchOptions = {}
): Promise<PullAllResult> {
  const { signal, deviceId } = options
  const stopped = () => signal?.aborted === true
  const result: PullAllResult = { pages: 0, delivered: 0, acked: 0 }
  const query = { ...deviceField(deviceId), ...(options.senderUid === undefined ? {} : { sender_uid: options.senderUid }), limit: options.pageSize ?? 100 }
  let cursor: string | undefined
  // Once a page says nothing more is pending, the next request waits for a message instead of answering at once.
  let caughtUp = false
  let failures = 0
  while (!stopped()) {
    let handlerFailed = false
    try {
      await unlessAborted((async () => {
        const page = await readPage(client, receiverUid, { ...query, ...(cursor === undefined ? {} : { cursor }), ...(caughtUp ? { wait_seconds: options.waitSeconds ?? 30 } : {}) }, signal)
        await handThenAck(client, receiverUid, deviceId, page.messages, async () => {
          try {
            await handler(page.messages, page)
          } catch (error) {
            handlerFailed = true
            throw error
          }
        }, result, signal)
        cursor = page.next_cursor
        caughtUp = !page.has_more
      })(), signal)
      failures = 0
    } catch (error) {
      if (stopped()) break
      if (!handlerFailed && isPermanent(error)) throw error
      const delayMs = Math.min(options.maxRetryDelayMs ?? 5000, (options.retryDelayMs ?? 250) * 2 ** failures++)
      options.onRetry?.(error, delayMs)
      await pause(delayMs, signal)
    }
  }
  return result
}

/** Resolves after `ms`, or at once when `signal` aborts. */
async function pause (ms: number, signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
    if (signal?.aborted === true) done()
  })
}
