// The gateway's calls under /v1/receivers/{receiver_uid}: summary, pages, one message, acks.
import type { Socket } from 'node:net'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { MessageService } from '../domain/service.js'
import { Hangup } from '../domain/waiting.js'
import { toAckSelector } from './commands.js'
import { MessageSchema } from './message-schemas.js'
import { presentMessage, presentSummaryRow } from './presenters.js'
import {
  AckBodySchema, AckResponseSchema, MessageQuerySchema, PAGE_LIMIT_DEFAULT, PageQuerySchema, PageResponseSchema, SUMMARY_LIMIT_DEFAULT,
  SummaryQuerySchema, SummaryResponseSchema
} from './receiver-schemas.js'
import { MessageParamsSchema, NoQuerySchema, ReceiverParamsSchema, errorResponses } from './schemas.js'
import { Type } from 'typebox'

export interface ReceiverRoutesOptions {
  service: MessageService
}

/**
 * Prepares a held request: its socket may stay silent for the whole wait, and the hang-up is told when the caller
 * goes away, so that the domain forgets it at once.
 */
export function holdOpen (request: FastifyRequest, reply: FastifyReply, waitSeconds: number): Hangup {
  const hangup = new Hangup()
  const socket = request.raw.socket as Socket | undefined
  const needed = (waitSeconds + 5) * 1000
  if (typeof socket?.setTimeout === 'function' && (socket.timeout ?? 0) > 0 && (socket.timeout ?? 0) < needed) socket.setTimeout(needed)
  // 'close' comes once per response: `on` rather than `once`, which would wrap the listener in one more function.
  reply.raw.on('close', () => { if (!reply.raw.writableFinished) hangup.hangUp() })
  return hangup
}

/** The routes' list: one registration each (schema, then a handler of a few lines), so the plugin is long but flat. */
export const receiverRoutes: FastifyPluginAsyncTypebox<ReceiverRoutesOptions> = async (app, { service }) => {
  app.get('/receivers/:receiver_uid/senders', {
    config: { scope: 'read' },
    schema: {
      operationId: 'listSenders',
      tags: ['fetch'],
      summary: 'Lazy-load summary: who wrote while the receiver was away',
      description: 'One row per sender with pending or lost messages, most recent first (last_seq descending). No message bodies, only a preview of the latest. ' +
        "For a receiver with devices, device_id is required and the counts, last_* and lost_count are that device's own.",
      params: ReceiverParamsSchema,
      querystring: SummaryQuerySchema,
      response: { 200: SummaryResponseSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async (request) => {
    const { receiver_uid: receiverUid } = request.params
    const { device_id: deviceId, limit = SUMMARY_LIMIT_DEFAULT, cursor } = request.query
    const summary = await service.summary({ receiverUid, deviceId, limit, cursor })
    return {
      receiver_uid: receiverUid,
      total_pending: summary.totalPending,
      senders: summary.senders.map(presentSummaryRow),
      next_cursor: summary.nextCursor
    }
  })

  app.get('/receivers/:receiver_uid/messages', {
    config: { scope: 'read' },
    schema: {
      operationId: 'listMessages',
      tags: ['fetch'],
      summary: 'One page of pending messages, from one sender or from all, seq ascending',
      description: 'Fetching never deletes. next_cursor is always a cursor to resume from; has_more says whether more was pending when the page was read. ' +
        'With wait_seconds, a page that would be empty is held until a matching message commits (on any instance), then read from the same cursor; when the time is up it answers the empty page. ' +
        "For a receiver with devices, device_id is required and the page holds that device's pending messages.",
      params: ReceiverParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: PageResponseSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async (request, reply) => {
    const { sender_uid: senderUid, device_id: deviceId, limit = PAGE_LIMIT_DEFAULT, cursor, wait_seconds: waitSeconds = 0 } = request.query
    const hangup = waitSeconds > 0 ? holdOpen(request, reply, waitSeconds) : undefined
    const page = await service.page({ receiverUid: request.params.receiver_uid, deviceId, senderUid, limit, cursor, waitSeconds, hangup })
    return { messages: page.messages.map(presentMessage), next_cursor: page.nextCursor, has_more: page.hasMore }
  })

  app.get('/receivers/:receiver_uid/messages/:msg_id', {
    config: { scope: 'read' },
    schema: {
      operationId: 'getMessage',
      tags: ['fetch'],
      summary: 'One pending message',
      description: "For a receiver with devices, device_id is required: the message must be pending for that device.",
      params: MessageParamsSchema,
      querystring: MessageQuerySchema,
      response: { 200: MessageSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async (request) => presentMessage(await service.get(request.params.receiver_uid, request.params.msg_id, request.query.device_id)))

  app.post('/receivers/:receiver_uid/acks', {
    config: { scope: 'ack' },
    schema: {
      operationId: 'ackMessages',
      tags: ['ack'],
      summary: 'Acknowledge, then delete',
      description: 'Body {msg_ids} (1-1000 ids) or {up_to_seq, sender_uid?}. Idempotent: acking again answers deleted: 0. An acked message leaves a tombstone for DEDUP_WINDOW_SECONDS so that a late retry of its store is a duplicate. An up_to_seq ack also clears the lost_count of the senders whose lost messages it covers. ' +
        "For a receiver with devices, device_id is required: the ack takes the messages from that device's pending ones (deleted counts them), " +
        'and a message is deleted, leaving its tombstone, once every device it was pending for has acked it.',
      params: ReceiverParamsSchema,
      querystring: NoQuerySchema,
      body: AckBodySchema,
      response: { 200: AckResponseSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503, 507) }
    }
  }, async (request) => ({ deleted: await service.ack(request.params.receiver_uid, toAckSelector(request.body), request.body.device_id) }))

  app.delete('/receivers/:receiver_uid/messages/:msg_id', {
    config: { scope: 'ack' },
    schema: {
      operationId: 'deleteMessage',
      tags: ['ack'],
      summary: 'Acknowledge one message',
      description: 'Answers 204 also when the message was already gone. For a receiver with devices, device_id is required: it acknowledges the message for that device.',
      params: MessageParamsSchema,
      querystring: MessageQuerySchema,
      response: { 204: Type.Null({ description: 'acknowledged' }), ...errorResponses(400, 401, 403, 404, 429, 503, 507) }
    }
  }, async (request, reply) => {
    await service.ack(request.params.receiver_uid, { kind: 'ids', msgIds: [request.params.msg_id] }, request.query.device_id)
    return await reply.code(204).send(null)
  })
}
