// Compile-time tests of events(), never run: tsc (npm test) fails when a line marked @ts-expect-error compiles, and
// test/client/package.test.ts checks the same against the packed package.
import { events, type EventPage, type EventsOptions, type FeedEvent, type OfflineMessagesClient } from '../../client/src/index.js'

/** events() yields the service's pages; each event is narrowed by its type, as the OpenAPI document declares it. */
export async function follows (client: OfflineMessagesClient, saved: string | undefined): Promise<string | undefined> {
  const options: EventsOptions = { cursor: saved, signal: AbortSignal.timeout(1000), waitSeconds: 30, limit: 500 }
  let cursor = saved
  for await (const page of events(client, options)) {
    const list: FeedEvent[] = page.events
    const missed: boolean = page.missed
    for (const event of list) {
      if (event.type === 'message.stored') {
        const preview: string = event.content_preview
        const devices: string[] = event.devices
        console.log(preview, devices, missed)
      } else if (event.type === 'receiver.erased') {
        const none: null = event.msg_id
        console.log(none)
      } else {
        const msgId: string = event.msg_id
        // @ts-expect-error only message.stored carries the preview
        console.log(msgId, event.content_preview)
      }
    }
    cursor = page.next_cursor
  }
  return cursor
}

export const page: EventPage = { events: [], next_cursor: 'WyJlMSIsIjEiXQ.x3nQd0Ws2Lq7p3Zk', has_more: false, missed: false }

// @ts-expect-error the options are camelCase
export const snakeCase: EventsOptions = { wait_seconds: 30 }
// @ts-expect-error a cursor is the opaque string next_cursor gave
export const numericCursor: EventsOptions = { cursor: 42 }

export async function misuse (client: OfflineMessagesClient): Promise<void> {
  // @ts-expect-error events() is iterated, not awaited for a value
  const pages: EventPage[] = await events(client)
  // @ts-expect-error a page has no single event
  for await (const page of events(client)) console.log(page.type, pages)
}
