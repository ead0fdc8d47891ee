// The webhook's delivery row on PostgreSQL: its lease and its position, on the database's clock (now()), one row.
import { toNumber } from '../row-mapper.js'
import type { Store } from '../types.js'
import type { Queries } from './pool.js'
import { sql } from './sql-parts.js'

const NOW_MS = '(extract(epoch FROM now()) * 1000)::bigint'

export const WEBHOOK_SQL = {
  // Taken when free, run out or already ours; the position comes back only to its owner. One statement, so two
  // instances asking at once are ordered by the row's lock: the second sees the first's lease.
  leaseWebhook: sql('lease_webhook',
    `UPDATE webhook_delivery SET owner = $1, lease_until = ${NOW_MS} + $2 ` +
    `WHERE id = 1 AND (owner = $1 OR owner IS NULL OR lease_until <= ${NOW_MS}) RETURNING position`),
  saveWebhookPosition: sql('save_webhook_position',
    `UPDATE webhook_delivery SET position = $2, lease_until = ${NOW_MS} + $3 WHERE id = 1 AND owner = $1 RETURNING 1 AS saved`),
  releaseWebhook: sql('release_webhook', 'UPDATE webhook_delivery SET owner = NULL, lease_until = NULL WHERE id = 1 AND owner = $1'),
  // The first committed event after the saved position 'xid:pos' (from the start when none), by the primary key's order;
  // above the feed's horizon too: an event held back by an older transaction is not delivered yet either.
  webhookBacklogSince: sql('webhook_backlog_since',
    'SELECT e.recorded_at FROM webhook_delivery w CROSS JOIN LATERAL (SELECT recorded_at FROM events e ' +
    "WHERE (e.xid, e.pos) > (coalesce(split_part(w.position, ':', 1), '0')::xid8, coalesce(split_part(w.position, ':', 2), '0')::integer) " +
    'ORDER BY e.xid, e.pos LIMIT 1) e WHERE w.id = 1')
} as const

type Run = <T>(work: () => Promise<T>) => Promise<T>

/** The Store's webhook methods: each one statement on DATABASE_URL's pool (`run`: the store's guard and migrations). */
export function webhookMethods (pool: Queries, run: Run): Pick<Store, 'leaseWebhook' | 'saveWebhookPosition' | 'releaseWebhook' | 'webhookBacklogSince'> {
  return {
    leaseWebhook: (owner, leaseMs) => run(async () => {
      const [row] = await pool.rows(WEBHOOK_SQL.leaseWebhook, [owner, leaseMs])
      return row === undefined ? null : { position: row.position === null || row.position === undefined ? null : String(row.position) }
    }),
    saveWebhookPosition: (owner, position, leaseMs) => run(async () =>
      toNumber((await pool.rows(WEBHOOK_SQL.saveWebhookPosition, [owner, position, leaseMs]))[0]?.saved ?? 0) === 1),
    releaseWebhook: (owner) => run(async () => { await pool.rows(WEBHOOK_SQL.releaseWebhook, [owner]) }),
    webhookBacklogSince: () => run(async () => {
      const [row] = await pool.rows(WEBHOOK_SQL.webhookBacklogSince, [])
      return row === undefined ? null : toNumber(row.recorded_at)
    })
  }
}
