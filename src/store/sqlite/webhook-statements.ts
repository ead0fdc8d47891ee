// The webhook's delivery row on SQLite: its lease and its position, on the database's clock (unixepoch), one row.
import type { Statement } from 'better-sqlite3'
import type { Store } from '../types.js'
import { value, type Statements } from './statements.js'

const NOW_MS = "CAST(unixepoch('subsec') * 1000 AS INTEGER)"

export function webhookStatements (p: (sql: string) => Statement) {
  return {
    // Taken when free, run out or already ours; the position comes back only to its owner.
    leaseWebhook: p(`UPDATE webhook_delivery SET owner = ?, lease_until = ${NOW_MS} + ? ` +
      `WHERE id = 1 AND (owner = ? OR owner IS NULL OR lease_until <= ${NOW_MS}) RETURNING position`),
    saveWebhookPosition: p(`UPDATE webhook_delivery SET position = ?, lease_until = ${NOW_MS} + ? WHERE id = 1 AND owner = ? RETURNING 1 AS v`),
    releaseWebhook: p('UPDATE webhook_delivery SET owner = NULL, lease_until = NULL WHERE id = 1 AND owner = ?'),
    webhookBacklogSince: p('SELECT e.recorded_at AS v FROM webhook_delivery w JOIN events e ON e.id > coalesce(CAST(w.position AS INTEGER), 0) ' +
      'WHERE w.id = 1 ORDER BY e.id LIMIT 1')
  }
}

type Run = <T>(work: () => T) => Promise<T>

/**
 * The Store's webhook methods: the lease's and the position's each a write of its own (`write`: the store's
 * transaction, durable when it answers), the backlog a read (`read`).
 */
export function webhookMethods (s: Statements, write: Run, read: Run): Pick<Store, 'leaseWebhook' | 'saveWebhookPosition' | 'releaseWebhook' | 'webhookBacklogSince'> {
  return {
    leaseWebhook: (owner, leaseMs) => write(() => {
      const row = s.leaseWebhook.get(owner, leaseMs, owner) as { position: string | null } | undefined
      return row === undefined ? null : { position: row.position }
    }),
    saveWebhookPosition: (owner, position, leaseMs) => write(() => s.saveWebhookPosition.get(position, leaseMs, owner) !== undefined),
    releaseWebhook: (owner) => write(() => { s.releaseWebhook.run(owner) }),
    webhookBacklogSince: () => read(() => value(s.webhookBacklogSince))
  }
}
