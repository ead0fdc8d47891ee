// Unauthenticated operations endpoints: liveness, readiness, Prometheus metrics.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { Metrics } from '../plugins/metrics.js'
import type { Store } from '../store/types.js'
import { StoreFullError, StoreUnavailableError } from '../domain/errors.js'
import { httpErrors } from './errors.js'
import { EXAMPLES } from './examples.js'
import { errorResponses } from './schemas.js'

export interface OpsRoutesOptions {
  store: Store
  metrics: Metrics
}

export const opsRoutes: FastifyPluginAsyncTypebox<OpsRoutesOptions> = async (app, { store, metrics }) => {
  app.get('/healthz', {
    schema: {
      operationId: 'getHealth',
      tags: ['operations'],
      summary: 'Liveness',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process is alive', examples: [{ status: 'ok' }] }) }
    }
  }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness',
      tags: ['operations'],
      summary: 'Readiness: can it reach its database',
      response: {
        200: Type.Object({
          status: Type.Literal('ready'),
          durable: Type.Boolean({
            description: 'false when PostgreSQL has fsync, synchronous_commit or full_page_writes off for the service\'s role: a stored ' +
              'message may be lost in a crash (the instance is still ready; the log says which setting, the gauge ' +
              'offline_messages_store_durable is 0). Always true on SQLite'
          })
        }, { description: 'The database answers', examples: [{ status: 'ready', durable: true }] }),
        ...errorResponses(503)
      }
    }
  }, async () => {
    try {
      await store.ping()
    } catch (error) {
      // Out of the load balancer while the disk is full, with the reason: not 507, the instance itself is not ready.
      if (error instanceof StoreFullError) throw httpErrors.notReady(error.code, error.message)
      throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(error)
    }
    return { status: 'ready' as const, durable: await store.durable() }
  })

  app.get('/metrics', {
    schema: {
      operationId: 'getMetrics',
      tags: ['operations'],
      summary: 'Prometheus metrics (text exposition format)',
      produces: ['text/plain'],
      response: { 200: Type.String({ description: 'Prometheus text format', examples: [EXAMPLES.metrics] }) }
    }
  }, async (_request, reply) => {
    const text = await metrics.registry.metrics()
    return await reply.type(metrics.registry.contentType).send(text)
  })
}
