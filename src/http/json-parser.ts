// Strict JSON bodies: application/json only, valid UTF-8, no prototype poisoning; an empty body is no body.
import type { FastifyInstance } from 'fastify'
import { errorCodes } from 'fastify'
import secureJson from 'secure-json-parse'

const utf8 = new TextDecoder('utf-8', { fatal: true })

export function registerJsonParser (app: FastifyInstance): void {
  // Without the default text/plain parser, any other content type answers 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    if (body.length === 0) {
      done(null, undefined)
      return
    }
    let text: string
    try {
      text = utf8.decode(body)
    } catch {
      done(Object.assign(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), { message: 'Body is not valid UTF-8' }), undefined)
      return
    }
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }))
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined)
    }
  })
}
