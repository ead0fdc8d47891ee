// v1.2's calls of a sender and of an operator: recall a pending message (scope write), erase a receiver (scope admin).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { MessageService } from '../domain/service.js'
import { EXAMPLES } from './examples.js'
import { MessageParamsSchema, NoQuerySchema, ReceiverParamsSchema, SenderUidSchema, errorResponses } from './schemas.js'

export interface RecallRoutesOptions {
  service: MessageService
}

/** A list of device ids, null standing for a receiver without devices. */
const DeviceList = (description: string) => Type.Array(Type.Unsafe<string | null>({ type: ['string', 'null'] }), { description })

export const RecallBodySchema = Type.Object({ sender_uid: SenderUidSchema }, {
  additionalProperties: false, title: 'Recall', description: 'Who recalls: only the message\'s own sender can', examples: [EXAMPLES.recall]
})

export const RecallResponseSchema = Type.Object({
  msg_id: Type.String(),
  state: Type.Enum(['recalled', 'partly_delivered', 'delivered'], {
    description: 'recalled: no device had acknowledged it; partly_delivered: some had (delivered_to), the others no longer have it (recalled_from); ' +
      'delivered: every device had, nothing removed'
  }),
  recalled_from: DeviceList('the devices it was removed from; null for a receiver without devices'),
  delivered_to: DeviceList('the devices that had acknowledged it; null for a receiver without devices')
}, { title: 'RecallResult', examples: [EXAMPLES.recallResult, EXAMPLES.recallPartly] })

export const ErasedResponseSchema = Type.Object({
  messages: Type.Integer({ description: 'pending messages removed' }),
  tombstones: Type.Integer({ description: 'tombstones removed' }),
  devices: Type.Integer({ description: 'devices removed' })
}, { title: 'Erased', description: 'What the erasure removed; zeros for an unknown receiver', examples: [EXAMPLES.erased] })

export const recallRoutes: FastifyPluginAsyncTypebox<RecallRoutesOptions> = async (app, { service }) => {
  app.post('/receivers/:receiver_uid/messages/:msg_id/recall', {
    config: { scope: 'write' },
    schema: {
      operationId: 'recallMessage',
      tags: ['store'],
      summary: 'The sender takes back a message',
      description: 'Removes the message for every device that still has it, leaving a tombstone (a late retry of its store answers duplicate); ' +
        'the summary rows are corrected and nothing is counted as lost. What was acknowledged stays delivered. Recalling again answers the same. ' +
        '404 MESSAGE_NOT_FOUND for an unknown msg_id and for another sender\'s message alike.',
      params: MessageParamsSchema,
      querystring: NoQuerySchema,
      body: RecallBodySchema,
      response: { 200: RecallResponseSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503, 507) }
    }
  }, async (request) => {
    const result = await service.recall(request.params.receiver_uid, request.params.msg_id, request.body.sender_uid)
    return { msg_id: result.msgId, state: result.state, recalled_from: result.recalledFrom, delivered_to: result.deliveredTo }
  })

  app.delete('/receivers/:receiver_uid', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'eraseReceiver',
      tags: ['admin'],
      summary: 'Erase everything held about a receiver',
      description: 'Pending messages, tombstones, summary rows and devices, in one transaction; a store afterwards starts from nothing. ' +
        'Nothing is counted as lost. An unknown receiver answers zeros.',
      params: ReceiverParamsSchema,
      querystring: NoQuerySchema,
      response: { 200: ErasedResponseSchema, ...errorResponses(400, 401, 403, 429, 503) }
    }
  }, async (request) => await service.erase(request.params.receiver_uid))
}
