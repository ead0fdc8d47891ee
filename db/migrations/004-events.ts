// Events: what became of each message (stored, delivered, expired, dropped, unlinked, ...), recorded in the same
// transaction as the change, and the feed's own row (its signing key, and how far retention has deleted).
import { randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import type { MigrationParams } from '../../src/store/backends.js'

export const name = '004-events'

/**
 * The feed's order is commit order. On SQLite one writer commits at a time, so an AUTOINCREMENT key (never reused,
 * even after retention deleted the newest rows) is taken in commit order. On PostgreSQL a sequence is taken at insert,
 * not at commit, so each row carries its transaction's id (xid8, pg_current_xact_id()) and its position within it:
 * the feed serves only rows of transactions below the oldest one still running (pg_snapshot_xmin), in (xid, pos)
 * order, and nothing can appear below that horizon later (src/store/postgres/event-statements.ts).
 *
 * event_feed holds one row: the key that signs cursors (random per database, so that a cursor of another database
 * is refused) and the position of the newest event retention deleted (a cursor before it has missed events).
 */
export async function up (knex: Knex): Promise<void> {
  const { dialect } = knex.userParams as MigrationParams
  const common = 'type text NOT NULL, occurred_at bigint NOT NULL, recorded_at bigint NOT NULL, receiver_uid text NOT NULL, ' +
    'device_id text NULL, sender_uid text NULL, msg_id text NULL, seq bigint NULL, pending_count integer NOT NULL, ' +
    'msg_type integer NULL, content_preview text NULL, devices text NULL'
  if (dialect === 'postgres') {
    await knex.raw(`CREATE TABLE events (xid xid8 NOT NULL DEFAULT pg_current_xact_id(), pos integer NOT NULL, ${common}, PRIMARY KEY (xid, pos))`)
    await knex.raw('CREATE TABLE event_feed (id integer PRIMARY KEY CHECK (id = 1), cursor_key text NOT NULL, pruned_xid xid8 NULL, pruned_pos integer NULL)')
  } else {
    await knex.raw(`CREATE TABLE events (id integer PRIMARY KEY AUTOINCREMENT, ${common})`)
    await knex.raw('CREATE TABLE event_feed (id integer PRIMARY KEY CHECK (id = 1), cursor_key text NOT NULL, pruned_id integer NULL)')
  }
  // Retention deletes by age; an erasure deletes a receiver's.
  await knex.raw('CREATE INDEX events_recorded_at ON events (recorded_at)')
  await knex.raw('CREATE INDEX events_receiver ON events (receiver_uid)')
  await knex.raw('INSERT INTO event_feed (id, cursor_key) VALUES (1, ?)', [randomBytes(32).toString('base64url')])
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('event_feed')
  await knex.schema.dropTable('events')
}
