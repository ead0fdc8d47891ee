// Shutting down: what is in flight finishes; a request that still arrives on an open connection is told to go
// elsewhere (503 SHUTTING_DOWN), and every answer closes its connection, so that keep-alive clients cannot hold the exit.
import fp from 'fastify-plugin'
import { httpErrors } from '../http/errors.js'

export interface ShutdownOptions {
  /** Run first when closing: answers what the instance holds (waiting page requests). */
  onClosing: () => void
}

export const shutdown = fp<ShutdownOptions>(async (app, { onClosing }) => {
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    onClosing()
  })
  // Callback style: these run on every request and do no I/O (an async hook costs a promise each time).
  app.addHook('onRequest', (_request, _reply, done) => {
    done(closing ? httpErrors.shuttingDown() : undefined)
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close')
    done(null, payload)
  })
}, { name: 'shutdown' })
