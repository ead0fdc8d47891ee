// The summary's preview columns: each summary row keeps its latest pending message's send time, type and preview.
import type { Knex } from 'knex'

export const name = '002-summary-preview'

/**
 * Each summary row keeps its latest pending message's send time, type and preview, written by the same statements
 * that already update the row on every store, ack and expiry. The summary then reads the conversations table alone
 * instead of joining one message per sender. Existing rows are filled from their messages.
 */
export async function up (knex: Knex): Promise<void> {
  await knex.schema.alterTable('conversations', (table) => {
    table.bigInteger('last_send_time').nullable()
    table.integer('last_msg_type').nullable()
    table.text('last_preview').nullable()
  })
  // substr counts characters on both databases (code points: UTF-8 text on PostgreSQL, TEXT on SQLite); 100 is the
  // preview length of the domain (PREVIEW_LENGTH), frozen here as it was when this migration was written.
  const latest = (column: string) =>
    `(SELECT ${column} FROM messages m WHERE m.receiver_uid = conversations.receiver_uid AND m.seq = conversations.last_seq)`
  await knex.raw(
    `UPDATE conversations SET last_send_time = ${latest('send_time')}, last_msg_type = ${latest('msg_type')}, ` +
    `last_preview = ${latest('substr(content, 1, 100)')} WHERE last_seq IS NOT NULL`
  )
}

export async function down (knex: Knex): Promise<void> {
  await knex.schema.alterTable('conversations', (table) => {
    table.dropColumn('last_send_time')
    table.dropColumn('last_msg_type')
    table.dropColumn('last_preview')
  })
}
