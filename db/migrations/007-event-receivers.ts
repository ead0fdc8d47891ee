// SQLite: a receiver's events found through event_receivers, which the sweep fills in batches, instead of an index on
// events.receiver_uid that every write transaction paid for.
import type { Knex } from 'knex'
import type { MigrationParams } from '../../src/store/backends.js'

export const name = '007-event-receivers'

/**
 * An index on events(receiver_uid) is written where each receiver's entries are: a write transaction of many receivers
 * dirtied one page of it per receiver, which SQLite then writes to the WAL in full (with EVENTS=on, the largest cost of
 * recording events on SQLite, src/store/sqlite/event-statements.ts). event_receivers holds the same (receiver, id)
 * pairs, added by the sweep for all the events recorded since it last ran, sorted: each page once per round. Events
 * after `event_feed.indexed_id` are not in it yet; an erasure looks those up by id, the few since the last round
 * (src/store/sqlite/transaction.ts). On PostgreSQL the index stays: there an insert's cost is the server's CPU, and
 * a page dirtied many times between checkpoints is written once.
 */
export async function up (knex: Knex): Promise<void> {
  const { dialect } = knex.userParams as MigrationParams
  if (dialect === 'postgres') return
  await knex.raw('CREATE TABLE event_receivers (receiver_uid text NOT NULL, id integer NOT NULL, PRIMARY KEY (receiver_uid, id)) WITHOUT ROWID')
  // Retention deletes by id, oldest first (the sweep adds ids in order: this index only grows at its end).
  await knex.raw('CREATE INDEX event_receivers_id ON event_receivers (id)')
  await knex.raw('ALTER TABLE event_feed ADD COLUMN indexed_id integer NOT NULL DEFAULT 0')
  await knex.raw('INSERT INTO event_receivers (receiver_uid, id) SELECT receiver_uid, id FROM events ORDER BY receiver_uid, id')
  await knex.raw('UPDATE event_feed SET indexed_id = (SELECT coalesce(max(id), 0) FROM events)')
  await knex.raw('DROP INDEX events_receiver')
}

export async function down (knex: Knex): Promise<void> {
  const { dialect } = knex.userParams as MigrationParams
  if (dialect === 'postgres') return
  await knex.raw('CREATE INDEX events_receiver ON events (receiver_uid)')
  await knex.raw('DROP TABLE event_receivers')
  await knex.schema.alterTable('event_feed', (table) => { table.dropColumn('indexed_id') })
}
