// buildApp(config): the service as a Fastify instance, with every part registered in one visible order; never listens.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import rateLimit from '@fastify/rate-limit'
import type { Config } from './config.js'
import { createMessageService, type MessageService } from './domain/messages.js'
import { errorBody, errorHandler, errors, notFoundHandler } from './errors.js'
import { createAuthHook } from './http/auth.js'
import { registerDocs } from './http/docs.js'
import { registerJsonParser } from './http/json-parser.js'
import { messageRoutes } from './http/message-routes.js'
import { opsRoutes } from './http/ops-routes.js'
import { receiverRoutes } from './http/receiver-routes.js'
import { registerValidators } from './http/validation.js'
import { createMetrics } from './metrics.js'
import { createStore, databaseOptions } from './store/index.js'
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
}

/** One access line per request, written when it completes, instead of Fastify's two (incoming, then completed). */
class AccessLog extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // Fastify's serializers turn these into method, url, host, remoteAddress, remotePort and statusCode.
    const line = { req: request, res: reply, responseTime: reply.elapsedTime }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:@+=\/-]{1,128}$/

export async function buildApp (config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const logger = options.logger ?? {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' }
  }
  const app = Fastify({
    ...(typeof (logger as FastifyBaseLogger).child === 'function' ? { loggerInstance: logger as FastifyBaseLogger } : { logger: logger as FastifyServerOptions['logger'] }),
    bodyLimit: config.bodyLimitBytes,
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    // Our own hook answers during shutdown, with the contract's error shape (see `closing` below).
    return503OnClosing: false,
    requestIdHeader: false,
    logController: new AccessLog(),
    // Ids are validated by the route schemas (400); the router's own limit of 100 would answer 414 before auth.
    // Node's header size limit (16 KiB) bounds a URL long before this does.
    routerOptions: { maxParamLength: 100_000 },
    // Errors the router raises before any route (a malformed percent-encoding, say) keep the contract's shape.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400
      void reply.code(status).send(errorBody(status, error.code, error.message))
    },
    // A caller's x-request-id is kept when it is sane, so its logs and ours line up.
    genReqId: (request) => {
      const incoming = request.headers['x-request-id']
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID()
    }
  }).withTypeProvider<TypeBoxTypeProvider>()

  registerValidators(app)
  registerJsonParser(app)
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)

  const store = await createStore(databaseOptions(config, (level, message) => { app.log[level]({ component: 'database' }, message) }))
  const metrics = createMetrics()
  const service = createMessageService(store, config, metrics.events, options.clock)
  metrics.setPendingSource(service.totalPending)
  app.decorate('messages', service)
  app.decorate('store', store)

  // Shutting down: what is in flight finishes; a request that still arrives on an open connection is told to go
  // elsewhere, and every answer closes its connection, so that keep-alive clients cannot hold the exit.
  // The hooks run on every request: callback style, as they do no I/O (an async hook costs a promise each time).
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', (request, reply, done) => {
    if (closing) {
      done(errors.shuttingDown())
      return
    }
    // An unknown route answers 404 before its body is read: no 400, 413 or 415 for a route that does not exist.
    if (request.is404) {
      notFoundHandler(request, reply)
      return
    }
    done()
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id)
    if (closing) void reply.header('connection', 'close')
    done(null, payload)
  })
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  await registerDocs(app)
  await app.register(opsRoutes, { store, metrics })
  await app.register(async (v1) => {
    // onRequest runs before the body is read: a missing key is 401 whatever the body or content type.
    if (config.apiKeys.length > 0) v1.addHook('onRequest', createAuthHook(config.apiKeys))
    if (config.rateLimitPerMinute > 0) {
      // Counted per API key (per address when auth is off), after authentication; in memory, per instance.
      await v1.register(rateLimit, {
        max: config.rateLimitPerMinute,
        timeWindow: 60_000,
        keyGenerator: (request) => request.apiKeyName ?? request.ip,
        errorResponseBuilder: (_request, context) => errors.rateLimited(Math.max(1, Math.ceil(context.ttl / 1000)))
      })
    }
    await v1.register(messageRoutes, {
      service,
      limits: { maxContentLength: config.maxContentLength, messageTtlSeconds: config.messageTtlSeconds },
      maxPendingPerReceiver: config.maxPendingPerReceiver
    })
    await v1.register(receiverRoutes, { service })
  }, { prefix: '/v1' })

  let sweepTimer: NodeJS.Timeout | undefined
  let sweeping = false
  if (options.sweep !== false) {
    app.addHook('onReady', async () => {
      sweepTimer = setInterval(() => {
        if (sweeping) return
        sweeping = true
        service.sweep()
          .catch((error: unknown) => { app.log.warn({ err: error }, 'TTL sweep failed; it will run again') })
          .finally(() => { sweeping = false })
      }, config.sweepIntervalSeconds * 1000)
      sweepTimer.unref()
    })
  }
  app.addHook('onClose', async () => {
    if (sweepTimer !== undefined) clearInterval(sweepTimer)
    await store.close()
  })

  return app
}
