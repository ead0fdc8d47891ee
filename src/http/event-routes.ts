// The event feed: GET /v1/events (scope events), in commit order, held while empty with wait_seconds.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { MessageService } from '../domain/service.js'
import { EVENT_LIMIT_DEFAULT, EventPageSchema, EventQuerySchema } from './event-schemas.js'
import { presentEvent } from './presenters.js'
import { holdOpen } from './receiver-routes.js'
import { errorResponses } from './schemas.js'

export interface EventRoutesOptions {
  service: MessageService
}

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { service }) => {
  app.get('/events', {
    config: { scope: 'events' },
    schema: {
      operationId: 'listEvents',
      tags: ['events'],
      summary: 'What became of messages (stored, delivered, expired, dropped, unlinked, superseded, recalled) and receivers (erased); in commit order',
      description: 'Oldest first. Follow next_cursor: the order is commit order across instances, so a consumer never misses an event whose ' +
        'transaction committed late and never sees one twice. missed is true when retention (EVENT_RETENTION_SECONDS) deleted events after the ' +
        'cursor. With wait_seconds, an empty page is held until new events commit. 404 EVENTS_OFF unless the service runs with EVENTS=on.',
      querystring: EventQuerySchema,
      response: { 200: EventPageSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async (request, reply) => {
    const { cursor, limit = EVENT_LIMIT_DEFAULT, wait_seconds: waitSeconds = 0 } = request.query
    const hangup = waitSeconds > 0 ? holdOpen(request, reply, waitSeconds) : undefined
    const page = await service.events({ cursor, limit, waitSeconds, hangup })
    return { events: page.events.map(presentEvent), next_cursor: page.nextCursor, has_more: page.hasMore, missed: page.missed }
  })
}
