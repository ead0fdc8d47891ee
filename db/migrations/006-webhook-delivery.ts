// The webhook's delivery row: how far the event feed has been delivered, and which instance holds the lease to deliver.
import type { Knex } from 'knex'

export const name = '006-webhook-delivery'

/**
 * One row, as event_feed: `position` is the feed position delivered up to (NULL: nothing yet, so delivery starts
 * at the oldest event kept), saved after each batch the receiver accepted, so that a restart, a crash or another
 * instance goes on from there. `owner` names the instance that delivers and `lease_until` (epoch milliseconds on the
 * database's clock, so the instances' own clocks do not matter) until when: another instance takes the lease only
 * once it has run out (src/domain/webhook-delivery.ts). The table is the same on every backend; on Citus it stays an
 * ordinary table on the coordinator, as the event feed's own (EVENTS=on does not start there).
 */
export async function up (knex: Knex): Promise<void> {
  await knex.raw('CREATE TABLE webhook_delivery (id integer PRIMARY KEY CHECK (id = 1), position text NULL, owner text NULL, lease_until bigint NULL)')
  await knex.raw('INSERT INTO webhook_delivery (id) VALUES (1)')
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_delivery')
}
