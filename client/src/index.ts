// The typed client: openapi-fetch over the types generated from openapi/openapi.json (./schema.ts), plus pullAll, watch, events and devices.
import createClient from 'openapi-fetch'
import type { OfflineMessagesClient, paths } from './types.js'

export type { AckBody, components, Device, EventPage, FeedEvent, Message, MessagePage, NewMessage, OfflineMessagesClient, operations, paths, PullAllResult, RecallResult, RegisteredDevice } from './types.js'
export { ack, listDevices, OfflineMessagesError, recall, registerDevice, unregisterDevice, type CallOptions } from './calls.js'
export { events, type EventsOptions } from './events.js'
export type { RetryOptions } from './long-poll.js'
export { pullAll, type PullAllOptions, type PullPage } from './pull-all.js'
export { watch, type WatchOptions } from './watch.js'

export interface ClientOptions {
  baseUrl: string
  /** The secret of an API key; omit when the service runs without keys (API_KEYS empty). */
  apiKey?: string
  fetch?: typeof globalThis.fetch
}

export function createOfflineMessagesClient (options: ClientOptions): OfflineMessagesClient {
  return createClient<paths>({
    baseUrl: options.baseUrl,
    headers: options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch === undefined ? {} : { fetch: options.fetch })
  })
}
