// Two ajv instances: bodies are strict (no coercion, no removal of unknown fields); query strings and paths are coerced.
import type { FastifyInstance } from 'fastify'
import { Ajv, type ErrorObject, type Options } from 'ajv'
import addFormatsPlugin from 'ajv-formats'
import { PATTERN_MESSAGES } from './schemas.js'
import { isDateTime } from './time.js'

// ajv-formats is published as CommonJS with a default export.
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv) => Ajv

function createAjv (options: Options): Ajv {
  const ajv = new Ajv({ allErrors: false, useDefaults: true, removeAdditional: false, strict: false, ...options })
  addFormats(ajv)
  // RFC 3339 with a zone, exactly as the domain parses it.
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime })
  return ajv
}

/** Names the offending field, so "body must NOT have additional properties" says which one. */
function describe (error: ErrorObject, dataVar: string): string {
  const path = `${dataVar}${error.instancePath}`
  const params = error.params as Record<string, unknown>
  if (error.keyword === 'additionalProperties') return `${path} must NOT have the unknown property "${String(params.additionalProperty)}"`
  if (error.keyword === 'required') return `${path} must have the property "${String(params.missingProperty)}"`
  if (error.keyword === 'pattern') {
    const meaning = PATTERN_MESSAGES[String(params.pattern)]
    if (meaning !== undefined) return `${path} ${meaning}`
  }
  if (error.keyword === 'enum') return `${path} must be one of ${JSON.stringify(params.allowedValues)}`
  return `${path} ${error.message ?? 'is invalid'}`
}

export function registerValidators (app: FastifyInstance): void {
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(errors.map((error) => describe(error as ErrorObject, dataVar)).join('; ')))
  const bodyAjv = createAjv({ coerceTypes: false })
  const queryAjv = createAjv({ coerceTypes: true })
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema))
}
