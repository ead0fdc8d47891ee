// Devices: a receiver's registered devices, and per message which of its readers still have it pending.
import type { Knex } from 'knex'
import type { MigrationParams } from '../../src/store/backends.js'
import { createTable } from './001-initial-schema.js'

export const name = '003-devices'

/**
 * A reader is what follows a receiver's pending messages: reader 0 is the receiver itself while it has no device,
 * readers 1 to 30 are its devices' slots. messages.readers holds one bit per reader that has the message pending
 * (bit 0 for reader 0), so a message is stored once whatever the number of devices; receivers.devices holds the bits of
 * the registered slots. Both columns come with a constant default, which neither database writes into existing rows
 * (PostgreSQL keeps it in the catalog, SQLite in the schema): the messages table is not rewritten. Every existing
 * message is pending for reader 0, as it was for its receiver.
 *
 * The summary rows get the reader into their key. That table holds one row per (receiver, sender), far fewer than the
 * messages: PostgreSQL swaps its primary key in place; SQLite, which cannot alter a primary key, copies it into a new
 * table.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE messages ADD COLUMN readers integer NOT NULL DEFAULT 1')
  await knex.raw('ALTER TABLE receivers ADD COLUMN devices integer NOT NULL DEFAULT 0')

  const { dialect } = knex.userParams as MigrationParams
  if (dialect === 'postgres') {
    await knex.raw('ALTER TABLE conversations ADD COLUMN reader integer NOT NULL DEFAULT 0')
    await knex.raw('ALTER TABLE conversations DROP CONSTRAINT conversations_pkey, ADD CONSTRAINT conversations_pkey PRIMARY KEY (receiver_uid, reader, sender_uid)')
    await knex.raw('DROP INDEX conversations_receiver_sort_seq')
  } else {
    await createTable(knex, 'conversations_by_reader', (table) => {
      table.string('receiver_uid', 50).notNullable()
      table.integer('reader').notNullable().defaultTo(0)
      table.string('sender_uid', 50).notNullable()
      table.integer('pending_count').notNullable()
      table.bigInteger('last_seq').nullable()
      table.bigInteger('sort_seq').notNullable()
      table.integer('lost_count').notNullable()
      table.bigInteger('lost_seq').nullable()
      table.bigInteger('last_send_time').nullable()
      table.integer('last_msg_type').nullable()
      table.text('last_preview').nullable()
      table.primary(['receiver_uid', 'reader', 'sender_uid'])
    })
    const columns = 'receiver_uid, sender_uid, pending_count, last_seq, sort_seq, lost_count, lost_seq, last_send_time, last_msg_type, last_preview'
    await knex.raw(`INSERT INTO conversations_by_reader (${columns}) SELECT ${columns} FROM conversations`)
    await knex.raw('DROP TABLE conversations')
    await knex.raw('ALTER TABLE conversations_by_reader RENAME TO conversations')
  }
  await knex.raw('CREATE INDEX conversations_receiver_reader_sort_seq ON conversations (receiver_uid, reader, sort_seq)')

  await createTable(knex, 'devices', (table) => {
    table.string('receiver_uid', 50).notNullable()
    table.string('device_id', 50).notNullable()
    table.integer('slot').notNullable()
    table.bigInteger('registered_at').notNullable()
    table.bigInteger('last_ack_at').nullable()
    table.primary(['receiver_uid', 'device_id'])
    table.unique(['receiver_uid', 'slot'], { indexName: 'devices_receiver_slot' })
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('devices')
  await knex.raw('DROP INDEX conversations_receiver_reader_sort_seq')
  await knex.raw('DELETE FROM conversations WHERE reader <> 0')
  await knex.schema.alterTable('conversations', (table) => { table.dropPrimary() })
  await knex.schema.alterTable('conversations', (table) => {
    table.dropColumn('reader')
    table.primary(['receiver_uid', 'sender_uid'])
    table.index(['receiver_uid', 'sort_seq'], 'conversations_receiver_sort_seq')
  })
  await knex.schema.alterTable('receivers', (table) => { table.dropColumn('devices') })
  await knex.schema.alterTable('messages', (table) => { table.dropColumn('readers') })
}
