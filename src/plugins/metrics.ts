// Prometheus metrics through prom-client (a maintained library, not hand-written text): one registry per app instance.
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { MessageEvents } from '../domain/model.js'
import { DELIVERY_OUTCOMES, type DeliveryOutcome } from '../domain/webhook-delivery.js'
import type { StatementCounts } from '../store/types.js'

export interface Metrics {
  registry: Registry
  events: MessageEvents
  observeRequest (method: string, route: string, statusCode: number, seconds: number): void
  /** Where the pending gauge reads its value at scrape time. */
  setPendingSource (source: () => Promise<number>): void
  /** Where the waiters gauge reads its value at scrape time. */
  setWaitersSource (source: () => number): void
  /** Where the statement counters read the store's own counts at scrape time. */
  setStatementSource (source: () => StatementCounts): void
  /** Where the durability gauge reads whether the store's commits are durable, at scrape time. */
  setDurableSource (source: () => Promise<boolean>): void
  /** Counts one webhook request by its outcome. */
  webhookDelivery (outcome: DeliveryOutcome): void
  /** Where the webhook's lag gauge reads its value at scrape time. */
  setWebhookLagSource (source: () => Promise<number>): void
}

/** A counter whose value is read at scrape time from a running total kept elsewhere (it only ever grows). */
function followedCounter (registry: Registry, name: string, help: string, read: () => number): void {
  let seen = 0
  // eslint-disable-next-line no-new
  new Counter({
    name,
    help,
    registers: [registry],
    collect () {
      const total = read()
      if (total > seen) this.inc(total - seen)
      seen = total
    }
  })
}

export function createMetrics (): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry]
  })
  const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] })
  const stored = counter('offline_messages_stored_total', 'Messages stored (new, not duplicates)')
  const duplicates = counter('offline_messages_duplicates_total', 'Store requests answered as duplicates of a stored or acknowledged message')
  const acked = counter('offline_messages_acked_total', 'Messages deleted by an ack')
  const expired = counter('offline_messages_expired_total', 'Messages removed because their TTL ran out')
  const dropped = counter('offline_messages_dropped_total', 'Messages removed by the drop_oldest overflow policy')
  const superseded = counter('offline_messages_superseded_total', 'Pending messages replaced by a newer message of the same collapse key')
  const recalled = counter('offline_messages_recalled_total', 'Pending messages their sender recalled')
  const erased = counter('offline_messages_erased_total', 'Messages (pending, and tombstones) removed by erasures of their receivers')

  const wakeups = counter('offline_messages_wakeups_total', 'Held page requests (wait_seconds) woken by a commit')
  const recorded = new Counter({
    name: 'offline_messages_events_total',
    help: 'Events recorded (EVENTS=on), by type, counted once their transaction has committed',
    labelNames: ['type'] as const,
    registers: [registry]
  })
  let waitersSource: () => number = () => 0
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'offline_messages_waiters',
    help: 'Page requests held right now, waiting for a new message (wait_seconds)',
    registers: [registry],
    collect () {
      this.set(waitersSource())
    }
  })

  let statementSource: () => StatementCounts = () => ({ statements: 0, roundTrips: 0 })
  followedCounter(registry, 'offline_messages_store_statements_total', 'SQL statements sent to the database, BEGIN and COMMIT included',
    () => statementSource().statements)
  followedCounter(registry, 'offline_messages_store_round_trips_total', 'Statements that waited for a network round trip to the database (0 on SQLite)',
    () => statementSource().roundTrips)

  let pendingSource: () => Promise<number> = async () => 0
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'offline_messages_pending',
    help: 'Pending (stored, unacknowledged, unexpired) messages over all receivers',
    registers: [registry],
    async collect () {
      this.set(await pendingSource())
    }
  })

  let durableSource: () => Promise<boolean> = async () => true
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'offline_messages_store_durable',
    help: '1 when a stored message survives a crash of the database and of its machine; 0 when PostgreSQL has fsync, synchronous_commit or full_page_writes off for the service\'s role',
    registers: [registry],
    async collect () {
      this.set(await durableSource() ? 1 : 0)
    }
  })

  const deliveries = new Counter({
    name: 'offline_messages_webhook_deliveries_total',
    help: 'Webhook requests by outcome: delivered (a 2xx within WEBHOOK_TIMEOUT_MS), http_error (any other status, 3xx included), ' +
      'timeout (no answer in time), network_error (refused, reset, not HTTP); all but delivered are tried again',
    labelNames: ['outcome'] as const,
    registers: [registry]
  })
  for (const outcome of DELIVERY_OUTCOMES) deliveries.inc({ outcome }, 0)
  let webhookLagSource: () => Promise<number> = async () => 0
  // eslint-disable-next-line no-new
  new Gauge({
    name: 'offline_messages_webhook_lag_seconds',
    help: 'Age of the oldest event not yet delivered to WEBHOOK_URL (since it was recorded), read from the database: the same on every instance; 0 when caught up',
    registers: [registry],
    async collect () {
      this.set(await webhookLagSource())
    }
  })

  return {
    registry,
    events: {
      stored: (count) => stored.inc(count),
      duplicates: (count) => duplicates.inc(count),
      acked: (count) => acked.inc(count),
      expired: (count) => expired.inc(count),
      dropped: (count) => dropped.inc(count),
      superseded: (count) => superseded.inc(count),
      recalled: (count) => recalled.inc(count),
      erased: (count) => erased.inc(count),
      wakeups: (count) => wakeups.inc(count),
      recorded: (type, count) => recorded.inc({ type }, count)
    },
    observeRequest (method, route, statusCode, seconds) {
      requestDuration.observe({ method, route, status_code: String(statusCode) }, seconds)
    },
    setPendingSource (source) {
      pendingSource = source
    },
    setWaitersSource (source) {
      waitersSource = source
    },
    setStatementSource (source) {
      statementSource = source
    },
    setDurableSource (source) {
      durableSource = source
    },
    webhookDelivery (outcome) {
      deliveries.inc({ outcome })
    },
    setWebhookLagSource (source) {
      webhookLagSource = source
    }
  }
}

/** Observes every answer in http_request_duration_seconds, by method, route and status code. */
export const requestMetrics = fp<{ metrics: Metrics }>(async (app, { metrics }) => {
  // Callback style: it runs on every request and does no I/O.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}, { name: 'request-metrics' })
