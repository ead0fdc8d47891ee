// The webhook's delivery as part of the app: started once the app is ready, stopped when it closes (before the
// store), its outcomes and lag in the metrics.
import fp from 'fastify-plugin'
import type { MessageService } from '../domain/service.js'
import { createWebhookDelivery, type DeliveryTimings, type SendBatch, type WebhookDelivery } from '../domain/webhook-delivery.js'
import type { Store } from '../store/types.js'
import type { WebhookConfig } from '../webhook-config.js'
import type { Metrics } from './metrics.js'
import { createWebhookSender } from './webhook-sender.js'

/** What tests change of the delivery; the service runs with none of it. */
export interface WebhookTestOptions {
  /** Shorter retry delays and lease times than the contract's. */
  timings?: Partial<DeliveryTimings>
  random?: () => number
  /** Sends instead of the HTTP sender. */
  send?: SendBatch
}

export interface WebhooksOptions extends WebhookTestOptions {
  webhook: WebhookConfig
  store: Store
  service: MessageService
  metrics: Metrics
  clock: () => number
}

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: WebhookDelivery
  }
}

export const webhooks = fp<WebhooksOptions>(async (app, { webhook, store, service, metrics, clock, timings, random, send }) => {
  const delivery = createWebhookDelivery({
    store,
    send: send ?? createWebhookSender(webhook),
    batchSize: webhook.batchSize,
    followEvents: service.followEvents,
    clock,
    outcome: metrics.webhookDelivery,
    log: (level, message) => { app.log[level]({ component: 'webhook' }, message) },
    timings,
    random
  })
  metrics.setWebhookLagSource(delivery.lagSeconds)
  app.decorate('webhooks', delivery)
  app.addHook('onReady', async () => { delivery.start() })
  // preClose: before the store closes (onClose), so that the lease is let go and another instance takes over at once.
  app.addHook('preClose', async () => { await delivery.stop() })
}, { name: 'webhooks' })
