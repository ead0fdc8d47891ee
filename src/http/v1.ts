// Everything under /v1: the API key check (before anything else about the request), the optional rate limit, and the routes.
import rateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Config } from '../config.js'
import type { MessageService } from '../domain/service.js'
import { createAuthHook } from './auth.js'
import { deviceRoutes } from './device-routes.js'
import { eventRoutes } from './event-routes.js'
import { httpErrors } from './errors.js'
import { messageRoutes } from './message-routes.js'
import { receiverRoutes } from './receiver-routes.js'
import { recallRoutes } from './recall-routes.js'

export interface V1Options {
  config: Config
  service: MessageService
}

export const v1Routes: FastifyPluginAsyncTypebox<V1Options> = async (v1, { config, service }) => {
  // onRequest runs before the body is read: a missing key is 401 whatever the body or content type.
  if (config.apiKeys.length > 0) v1.addHook('onRequest', createAuthHook(config.apiKeys))
  if (config.http.rateLimitPerMinute > 0) {
    // Counted per API key (per address when auth is off), after authentication; in memory, per instance.
    await v1.register(rateLimit, {
      max: config.http.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => request.apiKeyName ?? request.ip,
      errorResponseBuilder: (_request, context) => httpErrors.rateLimited(Math.max(1, Math.ceil(context.ttl / 1000)))
    })
  }
  await v1.register(messageRoutes, {
    service,
    limits: { maxContentLength: config.http.maxContentLength, messageTtlSeconds: config.rules.messageTtlSeconds },
    maxPendingPerReceiver: config.rules.maxPendingPerReceiver
  })
  await v1.register(receiverRoutes, { service })
  await v1.register(deviceRoutes, { service })
  await v1.register(recallRoutes, { service })
  await v1.register(eventRoutes, { service })
}
