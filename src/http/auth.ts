// API keys: `Authorization: Bearer <key>`, compared in constant time, each with its scopes; checked before anything else.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ApiKey, Scope } from '../config.js'
import { httpErrors } from './errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: Scope
  }
  interface FastifyRequest {
    apiKeyName?: string
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()
const BEARER = /^bearer[ \t]+([^\s]+)[ \t]*$/i

export function createAuthHook (keys: readonly ApiKey[]) {
  const known = keys.map((key) => ({ key, digest: digest(key.secret) }))
  return async function authenticate (request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization
    const token = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined
    if (token === undefined) throw httpErrors.unauthorized()
    // Hashing gives equal lengths; every key is compared, so the time does not tell which one matched.
    const presented = digest(token)
    let match: ApiKey | undefined
    for (const candidate of known) {
      if (timingSafeEqual(candidate.digest, presented)) match = candidate.key
    }
    if (match === undefined) throw httpErrors.unauthorized()
    request.apiKeyName = match.name
    const scope = request.routeOptions.config.scope
    if (scope !== undefined && !match.scopes.includes(scope)) throw httpErrors.forbidden(scope)
  }
}
