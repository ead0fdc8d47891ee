// One access line per request, written when it completes, instead of Fastify's two (incoming, then completed).
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

class AccessLog extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // Fastify's serializers turn these into method, url, host, remoteAddress, remotePort and statusCode.
    const line = { req: request, res: reply, responseTime: reply.elapsedTime }
    if (error) reply.log.error({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}

/** Fastify's constructor options for the access log. */
export const accessLogOptions = () => ({ logController: new AccessLog() })
