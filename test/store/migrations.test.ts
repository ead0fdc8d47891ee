// Upgrading a database: one that holds messages under the first schema keeps its summary intact after the
// migrations that follow (002 fills each summary row's preview from its latest message).
import type { Knex } from 'knex'
import t from 'tap'
import * as initialSchema from '../../db/migrations/001-initial-schema.js'
import { createKnex } from '../../src/store/backends.js'
import { buildTestApp } from '../helpers/app.js'
import { createTestDatabase } from '../helpers/database.js'

const SENT = Date.parse('2026-11-20T10:00:00.000Z')
const EXPIRES = Date.parse('2027-11-20T10:00:00.000Z')
// 150 code points, 60 of them outside the BMP (two UTF-16 units each).
const LONG = '😀ab'.repeat(50)

const firstSchemaOnly: Knex.MigrationSource<typeof initialSchema> = {
  getMigrations: async () => [initialSchema],
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration
}

async function seedFirstSchema (databaseUrl: string): Promise<void> {
  const db: Knex = createKnex({ databaseUrl, poolMax: 1, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })
  try {
    await db.migrate.latest({ tableName: 'schema_migrations', migrationSource: firstSchemaOnly })
    await db('receivers').insert({ receiver_uid: 'bob', last_seq: 4, pending_count: 3, next_expiry: EXPIRES })
    const message = (seq: number, sender: string, msgType: number, content: string) => ({
      receiver_uid: 'bob', seq, msg_id: `m${seq}`, sender_uid: sender, msg_type: msgType, content, send_time: SENT + seq, stored_at: SENT + seq, expires_at: EXPIRES
    })
    await db('messages').insert([message(2, 'alice', 1, 'first from alice'), message(3, 'carol', 2, LONG), message(4, 'alice', 3, 'latest from alice')])
    await db('conversations').insert([
      { receiver_uid: 'bob', sender_uid: 'alice', pending_count: 2, last_seq: 4, sort_seq: 4, lost_count: 0, lost_seq: null },
      { receiver_uid: 'bob', sender_uid: 'carol', pending_count: 1, last_seq: 3, sort_seq: 3, lost_count: 0, lost_seq: null },
      // Only a lost message (seq 1, expired) left: no latest message to preview.
      { receiver_uid: 'bob', sender_uid: 'dave', pending_count: 0, last_seq: null, sort_seq: 1, lost_count: 1, lost_seq: 1 }
    ])
  } finally {
    await db.destroy()
  }
}

t.test('a database written under the first schema serves the same summary after migrating, and takes new stores', async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  await seedFirstSchema(databaseUrl)
  const { call } = await buildTestApp(t, { DATABASE_URL: databaseUrl })

  const summary = await call({ method: 'GET', url: '/v1/receivers/bob/senders' })
  t.equal(summary.statusCode, 200)
  t.same(summary.json(), {
    receiver_uid: 'bob',
    total_pending: 3,
    senders: [
      { sender_uid: 'alice', pending_count: 2, last_seq: 4, last_send_time: new Date(SENT + 4).toISOString(), last_msg_type: 3, last_content_preview: 'latest from alice', lost_count: 0 },
      { sender_uid: 'carol', pending_count: 1, last_seq: 3, last_send_time: new Date(SENT + 3).toISOString(), last_msg_type: 2, last_content_preview: Array.from(LONG).slice(0, 100).join(''), lost_count: 0 },
      { sender_uid: 'dave', pending_count: 0, last_seq: null, last_send_time: null, last_msg_type: null, last_content_preview: null, lost_count: 1 }
    ],
    next_cursor: null
  })

  // Acking alice's latest message brings her earlier one into the row; a new store from carol replaces hers.
  t.equal((await call({ method: 'POST', url: '/v1/receivers/bob/acks', payload: { msg_ids: ['m4'] } })).statusCode, 200)
  t.equal((await call({ method: 'POST', url: '/v1/messages', payload: { receiver_uid: 'bob', sender_uid: 'carol', msg_id: 'm5', msg_type: 1, content: 'new from carol' } })).statusCode, 201)
  const after = (await call({ method: 'GET', url: '/v1/receivers/bob/senders' })).json() as { senders: Array<{ sender_uid: string, last_seq: number | null, last_content_preview: string | null }> }
  t.same(after.senders.map((row) => [row.sender_uid, row.last_seq, row.last_content_preview]), [
    ['carol', 5, 'new from carol'],
    ['alice', 2, 'first from alice'],
    ['dave', null, null]
  ])
})
