// The floor for the benchmark: bare Fastify with the service's own parser, validators and schemas, answering canned data.
import Fastify from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { errorHandler } from '../src/http/errors.js'
import { registerJsonParser } from '../src/http/json-parser.js'
import { BatchResponseSchema, MessageSchema, StoredResponseSchema, batchSchema, newMessageSchema } from '../src/http/message-schemas.js'
import {
  AckBodySchema, AckResponseSchema, PageQuerySchema, PageResponseSchema, SummaryQuerySchema, SummaryResponseSchema
} from '../src/http/receiver-schemas.js'
import { MessageParamsSchema, ReceiverParamsSchema } from '../src/http/schemas.js'
import { registerValidators } from '../src/http/validation.js'

const limits = { maxContentLength: 4096, messageTtlSeconds: 2592000 }
const now = new Date().toISOString()
// The rows of a summary: 20, as many senders as the benchmark's receivers have, unless the bench asks for another count.
const SUMMARY_SENDERS = Number(process.env.BARE_SUMMARY_SENDERS ?? 20)

function message (receiverUid: string, seq: number) {
  return {
    msg_id: `m-${seq}`,
    receiver_uid: receiverUid,
    sender_uid: `s-${seq % 20}`,
    msg_type: 1,
    content: `bench message ${seq} `.padEnd(100, 'x'),
    send_time: now,
    collapse_key: null,
    seq,
    stored_at: now,
    expires_at: now
  }
}

const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>()
registerValidators(app)
registerJsonParser(app)
app.setErrorHandler(errorHandler)

let seq = 0
app.post('/v1/messages', { schema: { body: newMessageSchema(limits), response: { 201: StoredResponseSchema } } }, async (request, reply) => {
  seq++
  const body = request.body
  return await reply.code(201).send({
    msg_id: body.msg_id ?? `gen-${seq}`,
    receiver_uid: body.receiver_uid,
    sender_uid: body.sender_uid,
    msg_type: body.msg_type,
    content: body.content,
    send_time: now,
    collapse_key: body.collapse_key ?? null,
    seq,
    stored_at: now,
    expires_at: now,
    duplicate: false
  })
})
app.post('/v1/messages/batch', { schema: { body: batchSchema(limits), response: { 200: BatchResponseSchema } } }, async (request) => ({
  results: request.body.messages.map((item) => ({ status: 'stored' as const, msg_id: item.msg_id ?? 'x', seq: ++seq }))
}))
app.get('/v1/receivers/:receiver_uid/senders', { schema: { params: ReceiverParamsSchema, querystring: SummaryQuerySchema, response: { 200: SummaryResponseSchema } } }, async (request) => ({
  receiver_uid: request.params.receiver_uid,
  total_pending: 200,
  senders: Array.from({ length: SUMMARY_SENDERS }, (_, i) => ({
    sender_uid: `s-${i}`,
    pending_count: Math.ceil(200 / SUMMARY_SENDERS),
    last_seq: 200 - i,
    last_send_time: now,
    last_msg_type: 1,
    last_content_preview: 'bench message '.padEnd(100, 'x'),
    lost_count: 0
  })),
  next_cursor: null
}))
app.get('/v1/receivers/:receiver_uid/messages', { schema: { params: ReceiverParamsSchema, querystring: PageQuerySchema, response: { 200: PageResponseSchema } } }, async (request) => ({
  messages: Array.from({ length: request.query.limit ?? 100 }, (_, i) => message(request.params.receiver_uid, i + 1)),
  next_cursor: 'bTEuMTAw',
  has_more: true
}))
app.get('/v1/receivers/:receiver_uid/messages/:msg_id', { schema: { params: MessageParamsSchema, response: { 200: MessageSchema } } }, async (request) =>
  message(request.params.receiver_uid, 1))
app.post('/v1/receivers/:receiver_uid/acks', { schema: { params: ReceiverParamsSchema, body: AckBodySchema, response: { 200: AckResponseSchema } } }, async () => ({ deleted: 1 }))

const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.stdout.write(`Server listening at ${address}\n`)
const close = () => { void app.close().then(() => process.exit(0)) }
process.on('SIGTERM', close)
process.on('SIGINT', close)
