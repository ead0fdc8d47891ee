// The OpenAPI 3.1 document, generated from the route schemas, served at /openapi.json, with Swagger UI at /docs.
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import packageJson from '../../package.json' with { type: 'json' }
import { EVENTS_TAG_DESCRIPTION, withWebhooks } from './webhook-docs.js'

export const OPENAPI_INFO = {
  title: 'Offline message service',
  version: packageJson.version,
  description: 'Keeps instant messages for offline receivers and hands them over when they come back: ' +
    'store (the sender\'s "sent" tick, answered after a durable commit), a lazy-load summary per sender, ' +
    'paged pulls that never delete, and acks that do. Errors are JSON {statusCode, code, error, message}.',
  license: { name: packageJson.license, identifier: packageJson.license }
}

export async function registerDocs (app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      // Relative: each instance serves the document, so calls go to the instance it was loaded from.
      servers: [{ url: '/', description: 'the service that serves this document' }],
      tags: [
        { name: 'store', description: 'The router: store messages for offline receivers, and recall them (scope write)' },
        { name: 'fetch', description: 'The gateway: summary and pages, which never delete (scope read)' },
        { name: 'ack', description: 'The gateway: acknowledge, then delete (scope ack)' },
        { name: 'devices', description: "A receiver's devices, each with its own pending messages (register and unregister: scope ack; list: scope read)" },
        { name: 'admin', description: 'Erase everything held about a receiver (scope admin)' },
        { name: 'events', description: EVENTS_TAG_DESCRIPTION },
        { name: 'operations', description: 'Health, readiness and metrics; no key needed' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key from API_KEYS (name:secret:scopes): enter its secret. ' +
              'When the service runs with API_KEYS empty (authentication off, loopback only), skip this: no key is needed.'
          }
        }
      }
    },
    transformObject: (input) => 'openapiObject' in input ? withWebhooks(input.openapiObject) : input.swaggerObject,
    // The same rule as the auth hook in v1.ts: a key on /v1, none anywhere else.
    transform: ({ schema, url }) => {
      if (schema === undefined) return { schema, url }
      return { schema: { ...schema, security: url.startsWith('/v1/') ? [{ bearerAuth: [] }] : [] } as typeof schema, url }
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false, tryItOutEnabled: false } })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
