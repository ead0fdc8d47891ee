// POST /v1/messages and /v1/messages/batch: the router's calls, answered only after the store has committed.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { domainErrors } from '../domain/errors.js'
import type { MessageService } from '../domain/service.js'
import { toNewMessage } from './commands.js'
import { EXAMPLES } from './examples.js'
import { BatchResponseSchema, StoredResponseSchema, batchSchema, newMessageSchema } from './message-schemas.js'
import { presentMessage } from './presenters.js'
import { NoQuerySchema, errorResponses, type SchemaLimits } from './schemas.js'

export interface MessageRoutesOptions {
  service: MessageService
  limits: SchemaLimits
  maxPendingPerReceiver: number
}

export const messageRoutes: FastifyPluginAsyncTypebox<MessageRoutesOptions> = async (app, { service, limits, maxPendingPerReceiver }) => {
  app.post('/messages', {
    config: { scope: 'write' },
    schema: {
      operationId: 'storeMessage',
      tags: ['store'],
      summary: 'Store one message for an offline receiver',
      description: 'Answers after the message is durably committed. A retry with the same msg_id and payload answers 200 with duplicate: true, also after an ack (within DEDUP_WINDOW_SECONDS).',
      querystring: NoQuerySchema,
      body: newMessageSchema(limits),
      response: {
        201: Type.Object(StoredResponseSchema.properties, {
          title: 'StoredMessage', description: 'Stored (duplicate: false): the sender may show its "sent" tick', examples: [EXAMPLES.stored]
        }),
        200: Type.Object(StoredResponseSchema.properties, {
          title: 'StoredMessage',
          description: 'A retry (duplicate: true): nothing new stored; the message as first stored, also after its ack within DEDUP_WINDOW_SECONDS',
          examples: [EXAMPLES.retried]
        }),
        ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503, 507)
      }
    }
  }, async (request, reply) => {
    const outcome = await service.storeOne(toNewMessage(request.body))
    // One message refused is the request refused: the batch endpoint reports the same outcomes per item instead.
    if (outcome.status === 'conflict') throw domainErrors.msgIdConflict(outcome.msgId)
    if (outcome.status === 'inbox_full') throw domainErrors.inboxFull(request.body.receiver_uid, maxPendingPerReceiver)
    const duplicate = outcome.status === 'duplicate'
    return await reply.code(duplicate ? 200 : 201).send({ ...presentMessage(outcome.message), duplicate })
  })

  app.post('/messages/batch', {
    config: { scope: 'write' },
    schema: {
      operationId: 'storeMessages',
      tags: ['store'],
      summary: 'Store up to 500 messages in one transaction (group chat fan-out)',
      description: 'The whole body is validated first; an invalid item rejects the batch before anything is stored. Results come in input order.',
      querystring: NoQuerySchema,
      body: batchSchema(limits),
      response: { 200: BatchResponseSchema, ...errorResponses(400, 401, 403, 413, 415, 429, 503, 507) }
    }
  }, async (request) => {
    const outcomes = await service.storeMany(request.body.messages.map(toNewMessage))
    return {
      results: outcomes.map((outcome) => ({
        status: outcome.status,
        msg_id: outcome.msgId,
        seq: outcome.status === 'stored' || outcome.status === 'duplicate' ? outcome.message.seq : null
      }))
    }
  })
}
