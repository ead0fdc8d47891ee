// Request ids: a caller's x-request-id is kept when it is sane, so that its logs and ours line up; every answer
// carries the id in x-request-id.
import type { FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'

const REQUEST_ID = /^[A-Za-z0-9._:@+=\/-]{1,128}$/

/** Fastify's constructor options for request ids. */
export const requestIdOptions: Pick<FastifyServerOptions, 'requestIdHeader' | 'genReqId'> = {
  requestIdHeader: false,
  genReqId: (request) => {
    const incoming = request.headers['x-request-id']
    return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID()
  }
}

export const requestIdHeader = fp(async (app) => {
  // Callback style: it runs on every answer and does no I/O (an async hook costs a promise each time).
  app.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id)
    done(null, payload)
  })
}, { name: 'request-id' })
