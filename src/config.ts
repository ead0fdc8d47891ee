// The only reader of process.env: parses, validates and freezes the service's configuration.
import { isIP } from 'node:net'
import { envSchema } from 'env-schema'
import { Type, type Static } from 'typebox'
import type { MessageRules } from './domain/model.js'
import { BACKENDS, backendFor } from './store/backends.js'
import type { DatabaseOptions } from './store/database.js'
import { ConfigError } from './config-error.js'
import { webhookConfig, type WebhookConfig } from './webhook-config.js'

export type Scope = 'write' | 'read' | 'ack' | 'events' | 'admin'
export const SCOPES: readonly Scope[] = ['write', 'read', 'ack', 'events', 'admin']

export interface ApiKey {
  readonly name: string
  readonly secret: string
  readonly scopes: readonly Scope[]
}

export { ConfigError }

export const DEFAULT_DATABASE_URL = 'sqlite:./data/offline-messages.db'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

const integer = (def: number, minimum: number, maximum: number) => Type.Integer({ default: def, minimum, maximum })

// Every variable, grouped by the part of the service that takes it; the defaults are the contract's.
const LISTEN = {
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  PORT: integer(3000, 0, 65535)
}
const DATABASE = {
  DATABASE_URL: Type.String({ default: DEFAULT_DATABASE_URL }),
  DB_POOL_MAX: integer(10, 1, 1000),
  DB_STATEMENT_TIMEOUT_MS: integer(5000, 100, 600_000),
  DB_CONNECT_TIMEOUT_MS: integer(3000, 100, 600_000),
  SQLITE_RESERVE_BYTES: integer(8 * 1048576, 0, 1024 * 1048576)
}
const RULES = {
  MESSAGE_TTL_SECONDS: integer(2592000, 1, 10 * 365 * 86400),
  MAX_PENDING_PER_RECEIVER: integer(10000, 1, 10_000_000),
  OVERFLOW_POLICY: Type.Enum(['reject', 'drop_oldest'], { default: 'reject' }),
  DEDUP_WINDOW_SECONDS: integer(86400, 0, 10 * 365 * 86400),
  SWEEP_BATCH_SIZE: integer(500, 1, 100_000),
  MAX_WAITERS: integer(10000, 1, 1_000_000),
  // A device's slot is a bit of a 32-bit integer column, bit 0 being the receiver's own: at most 30.
  MAX_DEVICES_PER_RECEIVER: integer(10, 1, 30),
  EVENTS: Type.Enum(['off', 'on'], { default: 'off' }),
  EVENT_RETENTION_SECONDS: integer(604800, 1, 10 * 365 * 86400)
}
const HTTP = {
  BODY_LIMIT_BYTES: integer(1048576, 1024, 100 * 1048576),
  MAX_CONTENT_LENGTH: integer(4096, 1, 1_000_000),
  REQUEST_TIMEOUT_MS: integer(30_000, 1000, 600_000),
  RATE_LIMIT_PER_MINUTE: integer(0, 0, 100_000_000)
}
const PROCESS = {
  API_KEYS: Type.String({ default: '' }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info' }),
  SWEEP_INTERVAL_SECONDS: integer(60, 1, 86400),
  SHUTDOWN_TIMEOUT_MS: integer(10_000, 100, 600_000)
}
// Checked together (webhook-config.ts): WEBHOOK_URL needs EVENTS=on and WEBHOOK_SECRET.
const WEBHOOK = {
  WEBHOOK_URL: Type.String({ default: '' }),
  WEBHOOK_SECRET: Type.String({ default: '' }),
  WEBHOOK_BATCH_SIZE: integer(100, 1, 1000),
  WEBHOOK_TIMEOUT_MS: integer(5000, 100, 60_000)
}

const EnvSchema = Type.Object({ ...LISTEN, ...DATABASE, ...RULES, ...HTTP, ...PROCESS, ...WEBHOOK })
type RawEnv = Static<typeof EnvSchema>

/** What the HTTP layer enforces on each request. */
export interface HttpLimits {
  readonly bodyLimitBytes: number
  readonly maxContentLength: number
  readonly requestTimeoutMs: number
  readonly rateLimitPerMinute: number
}

export interface Config {
  readonly listen: { readonly host: string, readonly port: number }
  readonly database: Readonly<Omit<DatabaseOptions, 'log'>>
  readonly rules: Readonly<MessageRules>
  readonly http: HttpLimits
  readonly apiKeys: readonly ApiKey[]
  readonly logLevel: string
  readonly sweepIntervalSeconds: number
  readonly shutdownTimeoutMs: number
  /** Where the event feed is delivered; null without WEBHOOK_URL. */
  readonly webhook: WebhookConfig | null
}

/** The variables as the parts of the service take them. */
function toConfig (raw: RawEnv, apiKeys: readonly ApiKey[], webhook: WebhookConfig | null): Config {
  const freeze = Object.freeze
  return freeze({
    listen: freeze({ host: raw.HOST, port: raw.PORT }),
    database: freeze({
      databaseUrl: raw.DATABASE_URL,
      poolMax: raw.DB_POOL_MAX,
      statementTimeoutMs: raw.DB_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: raw.DB_CONNECT_TIMEOUT_MS,
      reserveBytes: raw.SQLITE_RESERVE_BYTES
    }),
    rules: freeze({
      messageTtlSeconds: raw.MESSAGE_TTL_SECONDS,
      maxPendingPerReceiver: raw.MAX_PENDING_PER_RECEIVER,
      overflowPolicy: raw.OVERFLOW_POLICY,
      dedupWindowSeconds: raw.DEDUP_WINDOW_SECONDS,
      sweepBatchSize: raw.SWEEP_BATCH_SIZE,
      maxWaiters: raw.MAX_WAITERS,
      maxDevicesPerReceiver: raw.MAX_DEVICES_PER_RECEIVER,
      events: raw.EVENTS === 'on',
      eventRetentionSeconds: raw.EVENT_RETENTION_SECONDS
    }),
    http: freeze({
      bodyLimitBytes: raw.BODY_LIMIT_BYTES,
      maxContentLength: raw.MAX_CONTENT_LENGTH,
      requestTimeoutMs: raw.REQUEST_TIMEOUT_MS,
      rateLimitPerMinute: raw.RATE_LIMIT_PER_MINUTE
    }),
    apiKeys: freeze(apiKeys),
    logLevel: raw.LOG_LEVEL,
    sweepIntervalSeconds: raw.SWEEP_INTERVAL_SECONDS,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    webhook
  })
}

const KEY_PART = /^[A-Za-z0-9._~-]+$/

export function parseApiKeys (value: string): ApiKey[] {
  const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  const keys = entries.map((entry, index) => {
    const parts = entry.split(':')
    const where = `entry ${index + 1}`
    if (parts.length !== 3) {
      throw new ConfigError('API_KEYS', `${where} must look like name:secret:scope+scope`)
    }
    const [name, secret, scopeList] = parts as [string, string, string]
    if (!KEY_PART.test(name)) throw new ConfigError('API_KEYS', `${where} has an invalid name`)
    if (!KEY_PART.test(secret) || secret.length < 8) {
      throw new ConfigError('API_KEYS', `${where} (${name}) needs a secret of at least 8 characters from A-Z a-z 0-9 . _ ~ -`)
    }
    const scopes = scopeList.split('+')
    for (const scope of scopes) {
      if (!(SCOPES as readonly string[]).includes(scope)) {
        throw new ConfigError('API_KEYS', `${where} (${name}) has unknown scope "${scope}"; scopes are ${SCOPES.join(', ')}`)
      }
    }
    return Object.freeze({ name, secret, scopes: Object.freeze([...new Set(scopes)] as Scope[]) })
  })
  const names = new Set<string>()
  const secrets = new Set<string>()
  for (const key of keys) {
    if (names.has(key.name)) throw new ConfigError('API_KEYS', `key name "${key.name}" appears twice`)
    if (secrets.has(key.secret)) throw new ConfigError('API_KEYS', `key "${key.name}" reuses another key's secret`)
    names.add(key.name)
    secrets.add(key.secret)
  }
  return keys
}

export function isLoopbackHost (host: string): boolean {
  if (host === 'localhost') return true
  const bare = host.replace(/^\[|\]$/g, '')
  if (isIP(bare) === 4) return bare.startsWith('127.')
  if (isIP(bare) === 6) return bare === '::1' || bare.toLowerCase().startsWith('::ffff:127.')
  return false
}

export function checkDatabaseUrl (url: string): void {
  const backend = backendFor(url)
  if (backend === undefined) throw new ConfigError('DATABASE_URL', `must start with ${BACKENDS.map((b) => b.urlForm).join(' or ')}`)
  const problem = backend.problemWith(url)
  if (problem !== null) throw new ConfigError('DATABASE_URL', problem)
}

interface AjvError { instancePath?: string, keyword?: string, message?: string, params?: { allowedValues?: unknown[], missingProperty?: string } }

/** The one place a schema failure becomes a ConfigError: the variable it names, and what is wrong in the variable's terms. */
function schemaFailure (error: unknown): ConfigError {
  const [first] = ((error as { errors?: AjvError[] } | null)?.errors ?? [])
  if (first === undefined) return new ConfigError('environment', error instanceof Error ? error.message : String(error))
  const variable = /^\/([A-Z_]+)/.exec(first.instancePath ?? '')?.[1] ?? first.params?.missingProperty ?? 'environment'
  const allowed = first.params?.allowedValues
  if (first.keyword === 'enum' && allowed !== undefined) return new ConfigError(variable, `must be one of ${allowed.map(String).join(', ')}`)
  return new ConfigError(variable, first.message ?? 'is invalid')
}

/** Reads the configuration from an environment (process.env in the service, plain data in tests). */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "use the default", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(
    Object.entries(env).filter(([name, value]) => name in EnvSchema.properties && value !== undefined && value.trim() !== '')
  )
  let raw: RawEnv
  try {
    raw = envSchema<RawEnv>({ schema: EnvSchema, data: present, env: false, dotenv: false })
  } catch (error) {
    throw schemaFailure(error)
  }
  checkDatabaseUrl(raw.DATABASE_URL)
  const apiKeys = parseApiKeys(raw.API_KEYS)
  if (apiKeys.length === 0 && !isLoopbackHost(raw.HOST)) {
    throw new ConfigError('API_KEYS',
      `is empty, so authentication is off, and HOST=${raw.HOST} is not a loopback address; ` +
      'set API_KEYS, or listen on 127.0.0.1 only')
  }
  return toConfig(raw, apiKeys, webhookConfig(raw))
}
