// One webhook request: a batch of events as the feed shows them, signed as Standard Webhooks says, POSTed to
// WEBHOOK_URL without following redirects, and what became of it.
import { createHmac } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import type { EventView } from '../domain/events.js'
import type { DeliveryOutcome, SendBatch } from '../domain/webhook-delivery.js'
import { presentEvent } from '../http/presenters.js'
import type { WebhookConfig } from '../webhook-config.js'

/**
 * The batch's webhook-id: the same for the same events whoever sends them and however often (a retry, another instance
 * after a failover, this one after a restart), so that a receiver can drop a batch it already took. Derived from the
 * first and last positions, keyed by the secret so that it says nothing of the positions themselves.
 */
export function webhookId (secret: string, events: readonly EventView[]): string {
  const first = events[0]?.position ?? ''
  const last = events[events.length - 1]?.position ?? ''
  return `msg_${createHmac('sha256', secret).update(`${first}\n${last}`).digest('base64url').slice(0, 32)}`
}

const isSuccess = (status: number): boolean => status >= 200 && status <= 299

export function createWebhookSender ({ url, secret, timeoutMs }: WebhookConfig): SendBatch {
  const signer = new Webhook(secret)
  return async (events, signal): Promise<DeliveryOutcome> => {
    const body = JSON.stringify({ events: events.map(presentEvent) })
    const id = webhookId(secret, events)
    // A new timestamp and signature on each try: receivers refuse a timestamp more than a few minutes old.
    const now = new Date()
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'offline-messages-webhook',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signer.sign(id, now, body)
    }
    const timeout = AbortSignal.timeout(timeoutMs)
    try {
      // A 3xx is an answer like any other that is not 2xx: the batch goes again, to the same URL.
      const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([signal, timeout]) })
      // The answer's body is not read: a receiver could send one without end.
      await response.body?.cancel().catch(() => {})
      return isSuccess(response.status) ? 'delivered' : 'http_error'
    } catch {
      return timeout.aborted ? 'timeout' : 'network_error'
    }
  }
}
