// Builds the app on a fresh database of the store under test, with a clock the test can move, and closes it afterwards.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp, type AppOptions } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import { createTestDatabase } from './database.js'

export const KEYS = {
  router: 'router:router-secret-1:write',
  gateway: 'gateway:gateway-secret-1:read+ack',
  reader: 'reader:reader-secret-1:read',
  /** Every scope: the tests' default key (call()). */
  admin: 'admin:admin-secret-1:write+read+ack+events+admin',
  /** The scope admin alone (v1.2's erasure): an operator's key. */
  operator: 'operator:operator-secret-1:admin'
}
export const API_KEYS = Object.values(KEYS).join(',')
export const bearer = (entry: string) => ({ authorization: `Bearer ${entry.split(':')[1] ?? ''}` })
export const AUTH = {
  router: bearer(KEYS.router),
  gateway: bearer(KEYS.gateway),
  reader: bearer(KEYS.reader),
  admin: bearer(KEYS.admin),
  operator: bearer(KEYS.operator)
}

export interface TestClock {
  (): number
  advance (milliseconds: number): void
  set (epochMillis: number): void
}

export function createTestClock (start = Date.parse('2026-11-27T04:36:55.123Z')): TestClock {
  let now = start
  const clock = (() => now) as TestClock
  clock.advance = (milliseconds) => { now += milliseconds }
  clock.set = (epochMillis) => { now = epochMillis }
  return clock
}

interface Tap { teardown (fn: () => unknown): void }

export interface TestApp {
  app: FastifyInstance
  config: Config
  clock: TestClock
  /** inject() with the admin key (all scopes) unless headers say otherwise. */
  call (options: InjectOptions): Promise<LightMyRequestResponse>
}

/**
 * `env` holds environment variables as the service would read them (API_KEYS defaults to the test keys); `openStore`,
 * a store variant that no variable selects (Citus's statement shapes on plain PostgreSQL: createCitusShapesStore);
 * `webhook`, the webhook delivery's test options (shorter delays).
 */
export async function buildTestApp (
  t: Tap, env: Record<string, string> = {}, clock = createTestClock(), openStore?: AppOptions['openStore'], webhook?: AppOptions['webhook']
): Promise<TestApp> {
  const databaseUrl = env.DATABASE_URL ?? await createTestDatabase(t, { migrated: true })
  const config = loadConfig({ API_KEYS, LOG_LEVEL: 'silent', ...env, DATABASE_URL: databaseUrl })
  const app = await buildApp(config, { clock, sweep: false, openStore, webhook })
  t.teardown(() => app.close())
  await app.ready()
  return {
    app,
    config,
    clock,
    call: (options) => app.inject({ ...options, headers: { ...AUTH.admin, ...(options.headers ?? {}) } })
  }
}

let counter = 0
/** A store body with unique ids unless the test names them. */
export function newMessage (overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter++
  return {
    receiver_uid: 'bob',
    sender_uid: 'alice',
    msg_id: `m-${counter}`,
    msg_type: 1,
    content: `hello ${counter}`,
    ...overrides
  }
}
