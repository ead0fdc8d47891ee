// The webhooks in the OpenAPI document: the events tag's text (the feed, the webhook's request, its signature, retries
// and configuration) and the OpenAPI 3.1 `webhooks` entry describing the POST the service sends to WEBHOOK_URL.
import { EVENT_EXAMPLES } from './event-examples.js'

export const EVENTS_TAG_DESCRIPTION = [
  'What became of each message and receiver, recorded with `EVENTS=on`, kept `EVENT_RETENTION_SECONDS` (default 604800, 7 days). ' +
    'Pull them with `GET /v1/events` (scope `events`), or have the service push them:',
  '**Webhooks.** With `WEBHOOK_URL` set (it needs `EVENTS=on` and `WEBHOOK_SECRET`), the service POSTs the feed to that URL as ' +
    '`{"events": [...]}`, up to `WEBHOOK_BATCH_SIZE` (default 100) events each, in feed order, one request in flight at a time. ' +
    'Each request is signed as the Standard Webhooks specification says, with the headers ' +
    '`webhook-id` (the batch\'s id: the same on every retry of that batch), `webhook-timestamp` (Unix seconds of this try) and ' +
    '`webhook-signature` (`v1,<base64>`: HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with `WEBHOOK_SECRET`, ' +
    'which is `whsec_` + base64 of 24 to 64 random bytes). Any Standard Webhooks library verifies it.',
  'A `2xx` answer within `WEBHOOK_TIMEOUT_MS` (default 5000) delivers the batch; anything else is retried, the same batch with the ' +
    'same `webhook-id`, with exponential backoff and jitter from 1 s up to 60 s, for as long as its events are kept. Delivery is ' +
    'at least once and in order: nothing is skipped, and a batch comes again only when its earlier try was not answered `2xx`. ' +
    'The request is described under Webhooks: `events`.'
].join('\n\n')

type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const header = (name: string, description: string, example: string) =>
  ({ in: 'header', name, required: true, description, schema: { type: 'string' }, example })

/**
 * The document with its OpenAPI 3.1 `webhooks` object: what the service sends to WEBHOOK_URL, and what its answers
 * mean. Each event of the body is the feed's event schema as the document already shows it (for Swagger UI, `const`
 * made `enum`), so the two cannot drift apart.
 */
export function withWebhooks<T extends object> (document: T): T {
  const events = (document as Json).paths?.['/v1/events']?.get?.responses?.['200']?.content?.['application/json']?.schema?.properties?.events as Json | undefined
  if (events === undefined) throw new Error('GET /v1/events is missing from the OpenAPI document: the webhook body reuses its events')
  const batch = { type: 'object', title: 'WebhookBatch', description: 'Events in feed order, oldest first', required: ['events'], properties: { events: { ...events, minItems: 1 } } }
  const post = {
    operationId: 'deliverEvents',
    tags: ['events'],
    summary: 'The service POSTs the event feed to WEBHOOK_URL, in order, at least once',
    description: 'Sent by the service, not to it: what a receiver at WEBHOOK_URL gets. Verify the signature over the exact bytes ' +
      'received (a body parsed and serialised again may differ), answer 2xx only once the events are handled, within ' +
      'WEBHOOK_TIMEOUT_MS, and tolerate a batch twice (skip a webhook-id already handled, or make each effect idempotent).',
    security: [],
    parameters: [
      header('webhook-id', 'the batch\'s id: the same on every retry of this batch', 'msg_2pQx7ZbJ0kLw'),
      header('webhook-timestamp', 'Unix seconds when this try was signed; refuse one more than 5 minutes off (a replay)', '1795923964'),
      header('webhook-signature', '`v1,` + base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` keyed with WEBHOOK_SECRET',
        'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=')
    ],
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: batch,
          example: { events: [EVENT_EXAMPLES['message.stored'], EVENT_EXAMPLES['message.delivered']] }
        }
      }
    },
    responses: {
      '2XX': { description: 'Handled: the batch is delivered, and the next request carries the events after it' },
      default: { description: 'Anything else, or no answer within WEBHOOK_TIMEOUT_MS: the same batch, with the same webhook-id, is sent again (backoff with jitter, 1-60 s)' }
    }
  }
  return { ...document, webhooks: { events: { post } } }
}
