// buildApp(config): the service as a Fastify instance, with every part registered in one visible order; never listens.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ConfigError, type Config } from './config.js'
import { createMessageService, type MessageService } from './domain/service.js'
import { clientErrorHandler } from './http/client-errors.js'
import { connectionLimits } from './http/connection-limits.js'
import { registerDocs } from './http/docs.js'
import { errorHandling, frameworkErrors } from './http/errors.js'
import { registerJsonParser } from './http/json-parser.js'
import { opsRoutes } from './http/ops-routes.js'
import { registerValidators } from './http/validation.js'
import { v1Routes } from './http/v1.js'
import { accessLogOptions } from './plugins/access-log.js'
import { memoryReducer } from './plugins/memory-reducer.js'
import { createMetrics, requestMetrics } from './plugins/metrics.js'
import { requestIdHeader, requestIdOptions } from './plugins/request-id.js'
import { shutdown } from './plugins/shutdown.js'
import { sweep } from './plugins/sweep.js'
import { webhooks, type WebhookTestOptions } from './plugins/webhooks.js'
import { createStore } from './store/backends.js'
import type { DatabaseOptions } from './store/database.js'
import type { Store } from './store/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    messages: MessageService
    store: Store
  }
}

export interface AppOptions {
  /** The service's clock in epoch milliseconds; tests move it to expire messages. */
  clock?: () => number
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger
  /** Runs the periodic TTL sweep (on by default; tests call app.messages.sweep() themselves). */
  sweep?: boolean
  /** Opens the store (the backend DATABASE_URL names unless given: tests build a variant, such as Citus's statement shapes). */
  openStore?: (options: DatabaseOptions) => Promise<Store>
  /** Tests only: the webhook's delivery with shorter delays, or another sender (WEBHOOK_URL still turns it on). */
  webhook?: WebhookTestOptions
}

function loggerOptions (config: Config, logger: AppOptions['logger']): Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> {
  if (typeof (logger as FastifyBaseLogger | undefined)?.child === 'function') return { loggerInstance: logger as FastifyBaseLogger }
  return {
    logger: (logger as FastifyServerOptions['logger']) ?? {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' }
    }
  }
}

export async function buildApp (config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...loggerOptions(config, options.logger),
    ...accessLogOptions(),
    ...requestIdOptions,
    bodyLimit: config.http.bodyLimitBytes,
    ...connectionLimits(config.http),
    // The shutdown plugin answers during shutdown, with the contract's error shape.
    return503OnClosing: false,
    // Ids are validated by the route schemas (400); the router's own limit of 100 would answer 414 before auth.
    // Node's header size limit (16 KiB) bounds a URL long before this does.
    routerOptions: { maxParamLength: 100_000 },
    frameworkErrors,
    // Requests Node's parser refuses: the contract's error shape, Connection: close, the socket closed after the answer.
    clientErrorHandler
  }).withTypeProvider<TypeBoxTypeProvider>()

  registerValidators(app)
  registerJsonParser(app)

  const store = await (options.openStore ?? createStore)({ ...config.database, log: (level, message) => { app.log[level]({ component: 'database' }, message) } })
  app.addHook('onClose', async () => { await store.close() })
  // A store with write lanes is a cluster routed by shard (Citus): its transactions run on the shards' nodes, where the
  // feed's table and its order are not (docs/api.md, The event feed).
  if (config.rules.events === true && store.writeLanes.laneOf !== undefined) {
    await store.close()
    throw new ConfigError('EVENTS', 'on is not supported on a Citus database yet (the order of events across shards); set EVENTS=off')
  }
  const metrics = createMetrics()
  const service = createMessageService(store, config.rules, metrics.events, options.clock)
  metrics.setPendingSource(service.totalPending)
  metrics.setWaitersSource(service.heldRequests)
  metrics.setStatementSource(store.statementCounts)
  metrics.setDurableSource(store.durable)
  app.decorate('messages', service)
  app.decorate('store', store)

  // Hooks run in this order on every request: shutdown first, then unknown routes, then (under /v1) authentication.
  await app.register(shutdown, { onClosing: service.stopWaiting })
  await app.register(errorHandling)
  await app.register(requestIdHeader)
  await app.register(requestMetrics, { metrics })
  await registerDocs(app)
  await app.register(opsRoutes, { store, metrics })
  await app.register(v1Routes, { prefix: '/v1', config, service })
  // V8's collector is there when node runs with --expose-gc, as npm start and the image run it.
  await app.register(memoryReducer, { heldRequests: service.heldRequests, minDrop: Math.ceil(config.rules.maxWaiters / 10), gc: globalThis.gc })
  if (options.sweep !== false) await app.register(sweep, { service, intervalSeconds: config.sweepIntervalSeconds })
  if (config.webhook !== null) {
    await app.register(webhooks, { webhook: config.webhook, store, service, metrics, clock: options.clock ?? Date.now, ...options.webhook })
  }
  return app
}
