// Collapse keys and recall (v1.2): a message's collapse_key, the index that finds a sender's pending message of a key,
// and what a tombstone keeps of the recall or replacement that made it.
import type { Knex } from 'knex'

export const name = '005-collapse-keys'

/**
 * messages.collapse_key and tombstones.collapse_key: part of the payload, so a tombstone keeps it for the dedup of a late
 * retry. Both nullable without a default: neither database writes into existing rows (a v1.1 database gets them without
 * a rewrite). The index is partial: only messages with a key are in it, so a store without one pays nothing for it.
 * tombstones.recall: the answer of the recall (or the replacement by a newer message of the same key) that removed the
 * message, as JSON, so that recalling it again answers the same; NULL for a message that its readers acknowledged.
 * Numbered 005 with no dependency on 004 (the events work): knex runs whichever of the two a database lacks.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE messages ADD COLUMN collapse_key varchar(100)')
  await knex.raw('ALTER TABLE tombstones ADD COLUMN collapse_key varchar(100)')
  await knex.raw('ALTER TABLE tombstones ADD COLUMN recall text')
  await knex.raw('CREATE INDEX messages_collapse_key ON messages (receiver_uid, sender_uid, collapse_key) WHERE collapse_key IS NOT NULL')
}

export async function down (knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX messages_collapse_key')
  await knex.schema.alterTable('tombstones', (table) => { table.dropColumn('recall') })
  await knex.schema.alterTable('tombstones', (table) => { table.dropColumn('collapse_key') })
  await knex.schema.alterTable('messages', (table) => { table.dropColumn('collapse_key') })
}
