// The first schema: receivers (seq and counts), pending messages, tombstones of acked ones, and the per-sender summary.
import type { Knex } from 'knex'
import type { MigrationParams } from '../../src/store/backends.js'

export const name = '001-initial-schema'

/**
 * Creates a table from one knex definition, with the table options of the backend (SQLite's WITHOUT ROWID stores
 * rows in primary-key order, receiver_uid first: a page of a receiver's messages is one contiguous read, not an
 * index walk plus lookups).
 */
export async function createTable (knex: Knex, table: string, define: (builder: Knex.CreateTableBuilder) => void): Promise<void> {
  const { tableOptions } = knex.userParams as MigrationParams
  if (tableOptions === undefined) {
    await knex.schema.createTable(table, define)
    return
  }
  const [create, ...indexes] = knex.schema.createTable(table, define).toSQL()
  if (create === undefined) throw new Error(`no CREATE TABLE for ${table}`)
  await knex.raw(`${create.sql} ${tableOptions}`, create.bindings ?? [])
  for (const statement of indexes) await knex.raw(statement.sql, statement.bindings ?? [])
}

/** The columns of a message, shared by pending messages and tombstones (times are epoch milliseconds). */
function messageColumns (table: Knex.CreateTableBuilder): void {
  table.string('receiver_uid', 50).notNullable()
  table.bigInteger('seq').notNullable()
  table.string('msg_id', 70).notNullable()
  table.string('sender_uid', 50).notNullable()
  table.integer('msg_type').notNullable()
  table.text('content').notNullable()
  table.bigInteger('send_time').notNullable()
  table.bigInteger('stored_at').notNullable()
  table.bigInteger('expires_at').notNullable()
}

export async function up (knex: Knex): Promise<void> {
  await createTable(knex, 'receivers', (table) => {
    table.string('receiver_uid', 50).primary()
    table.bigInteger('last_seq').notNullable().defaultTo(0)
    table.integer('pending_count').notNullable().defaultTo(0)
    table.bigInteger('next_expiry').nullable()
    table.index(['next_expiry'], 'receivers_next_expiry')
  })

  // Only the indexes a query needs: each one costs on the store path.
  await createTable(knex, 'messages', (table) => {
    messageColumns(table)
    table.primary(['receiver_uid', 'seq'])
    table.unique(['receiver_uid', 'msg_id'], { indexName: 'messages_receiver_msg_id' })
    table.index(['receiver_uid', 'sender_uid', 'seq'], 'messages_receiver_sender_seq')
  })

  // An acked message as it was stored, kept until purge_at so that a late retry is still a duplicate.
  await createTable(knex, 'tombstones', (table) => {
    messageColumns(table)
    table.bigInteger('acked_at').notNullable()
    table.bigInteger('purge_at').notNullable()
    table.primary(['receiver_uid', 'msg_id'])
    table.index(['purge_at'], 'tombstones_purge_at')
  })

  await createTable(knex, 'conversations', (table) => {
    table.string('receiver_uid', 50).notNullable()
    table.string('sender_uid', 50).notNullable()
    table.integer('pending_count').notNullable()
    table.bigInteger('last_seq').nullable()
    table.bigInteger('sort_seq').notNullable()
    table.integer('lost_count').notNullable()
    table.bigInteger('lost_seq').nullable()
    table.primary(['receiver_uid', 'sender_uid'])
    table.index(['receiver_uid', 'sort_seq'], 'conversations_receiver_sort_seq')
  })
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.dropTable('conversations')
  await knex.schema.dropTable('tombstones')
  await knex.schema.dropTable('messages')
  await knex.schema.dropTable('receivers')
}
