// HTTP calls to a service process (helpers/process.ts) that never hang a test: what the reliability tests send.
import { AUTH } from './app.js'
import type { ServiceProcess } from './process.js'

/** A hang detector, not a speed target. */
export const ANSWER_BOUND_MS = 10_000

export interface Answer { status: number | string, body: any, ms: number }

/**
 * One HTTP call with the admin key: the status, the body (parsed when it is JSON, else its text) and how long it took;
 * a missing answer within ANSWER_BOUND_MS is reported as 'hung', a failed connection as its error.
 */
export async function call (service: ServiceProcess, method: string, path: string, body?: unknown): Promise<Answer> {
  const started = Date.now()
  try {
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers: { ...AUTH.admin, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(ANSWER_BOUND_MS)
    })
    const text = await response.text()
    let parsed: unknown = text
    try {
      parsed = JSON.parse(text)
    } catch { /* not JSON: kept as text for the assertion message */ }
    return { status: response.status, body: parsed, ms: Date.now() - started }
  } catch (error) {
    return { status: (error as Error).name === 'TimeoutError' ? 'hung' : `connection error: ${String((error as Error).cause ?? error)}`, body: null, ms: Date.now() - started }
  }
}
