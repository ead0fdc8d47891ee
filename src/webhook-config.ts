// The webhook's variables checked together: WEBHOOK_URL needs EVENTS=on and WEBHOOK_SECRET, and each is well formed.
import { ConfigError } from './config-error.js'

/** Where and how the event feed is delivered (WEBHOOK_URL and its companions). */
export interface WebhookConfig {
  readonly url: string
  /** `whsec_` and the base64 of the key: the Standard Webhooks form, as signing libraries take it. */
  readonly secret: string
  readonly batchSize: number
  readonly timeoutMs: number
}

export interface WebhookVariables {
  WEBHOOK_URL: string
  WEBHOOK_SECRET: string
  WEBHOOK_BATCH_SIZE: number
  WEBHOOK_TIMEOUT_MS: number
  EVENTS: string
}

const SECRET_PREFIX = 'whsec_'
/** Standard base64 (the alphabet with + and /), padded: what Standard Webhooks libraries decode. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
// The Standard Webhooks specification asks for a key of 24 to 64 random bytes.
const MIN_SECRET_BYTES = 24
const MAX_SECRET_BYTES = 64

const SECRET_FORM = `whsec_ followed by the base64 of ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} random bytes (e.g. whsec_$(openssl rand -base64 32))`

function checkSecret (secret: string): void {
  const encoded = secret.slice(SECRET_PREFIX.length)
  if (!secret.startsWith(SECRET_PREFIX) || encoded === '' || !BASE64.test(encoded)) {
    throw new ConfigError('WEBHOOK_SECRET', `must be ${SECRET_FORM}`)
  }
  const bytes = Buffer.from(encoded, 'base64').length
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    throw new ConfigError('WEBHOOK_SECRET', `holds ${bytes} bytes; it must be ${SECRET_FORM}`)
  }
}

function checkUrl (value: string): void {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError('WEBHOOK_URL', 'must be an http:// or https:// URL with a host')
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new ConfigError('WEBHOOK_URL', `must be an http:// or https:// URL with a host, not ${url.protocol}`)
  }
  // fetch refuses a URL with credentials; the signature is what authenticates the service to the receiver.
  if (url.username !== '' || url.password !== '') throw new ConfigError('WEBHOOK_URL', 'must not carry a user or password')
}

/** The webhook's configuration, or null without WEBHOOK_URL; a ConfigError naming the variable that is wrong. */
export function webhookConfig (raw: WebhookVariables): WebhookConfig | null {
  if (raw.WEBHOOK_SECRET !== '') checkSecret(raw.WEBHOOK_SECRET)
  if (raw.WEBHOOK_URL === '') return null
  checkUrl(raw.WEBHOOK_URL)
  if (raw.EVENTS !== 'on') throw new ConfigError('WEBHOOK_URL', 'needs EVENTS=on: the webhook delivers the event feed')
  if (raw.WEBHOOK_SECRET === '') throw new ConfigError('WEBHOOK_SECRET', `is required with WEBHOOK_URL: ${SECRET_FORM}`)
  return Object.freeze({ url: raw.WEBHOOK_URL, secret: raw.WEBHOOK_SECRET, batchSize: raw.WEBHOOK_BATCH_SIZE, timeoutMs: raw.WEBHOOK_TIMEOUT_MS })
}
