// Upgrading a database: one that holds messages under the first schema keeps its summary intact after the
// migrations that follow (002 fills each summary row's preview from its latest message).
import type { Knex } from 'knex'
import t from 'tap'
import * as initialSchema from '../../db/migrations/001-initial-schema.js'
import * as summaryPreview from '../../db/migrations/002-summary-preview.js'
import type { Migration } from '../../db/migrations/index.js'
import { createKnex } from '../../src/store/backends.js'
import { buildTestApp } from '../helpers/app.js'
import { createTestDatabase, TEST_STORE } from '../helpers/database.js'

const SENT = Date.parse('2026-11-20T10:00:00.000Z')
const EXPIRES = Date.parse('2027-11-20T10:00:00.000Z')
// 150 code points, 60 of them outside the BMP (two UTF-16 units each).
const LONG = '😀ab'.repeat(50)

const firstSchemaOnly: Knex.MigrationSource<Migration> = {
  getMigrations: async () => [initialSchema],
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration
}

/** The schema of v1.0, before devices. */
const beforeDevices: Knex.MigrationSource<Migration> = {
  getMigrations: async () => [initialSchema, summaryPreview],
  getMigrationName: (migration) => migration.name,
  getMigration: async (migration) => migration
}

const openKnex = (databaseUrl: string): Knex => createKnex({ databaseUrl, poolMax: 1, statementTimeoutMs: 5000, connectTimeoutMs: 5000 })

async function seedFirstSchema (databaseUrl: string, source: Knex.MigrationSource<Migration> = firstSchemaOnly): Promise<void> {
  const db: Knex = openKnex(databaseUrl)
  try {
    await db.migrate.latest({ tableName: 'schema_migrations', migrationSource: source })
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

/**
 * Where the messages table's rows live, and (PostgreSQL) which transaction wrote each: a rewrite of the table moves
 * it to new storage, and an UPDATE of its rows gives them a new xmin.
 */
async function messagesStorage (databaseUrl: string): Promise<unknown> {
  const db = openKnex(databaseUrl)
  try {
    if (TEST_STORE === 'postgres') {
      const file = await db.raw("SELECT pg_relation_filenode('messages') AS node")
      const rows = await db.raw('SELECT seq, xmin::text AS xmin FROM messages ORDER BY seq')
      return { node: file.rows[0].node, rows: rows.rows }
    }
    return await db.raw("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'messages'")
  } finally {
    await db.destroy()
  }
}

t.test('devices come to a v1.0 database without a rewrite of its messages; it serves as before, and its first device takes over', async (t) => {
  const databaseUrl = await createTestDatabase(t, { file: true })
  await seedFirstSchema(databaseUrl, beforeDevices)
  const before = await messagesStorage(databaseUrl)
  const { call } = await buildTestApp(t, { DATABASE_URL: databaseUrl })
  t.strictSame(await messagesStorage(databaseUrl), before, 'the messages table and its rows are where they were')

  const summary = await call({ method: 'GET', url: '/v1/receivers/bob/senders' })
  t.strictSame((summary.json() as { senders: Array<{ sender_uid: string, pending_count: number, lost_count: number }> }).senders
    .map((row) => [row.sender_uid, row.pending_count, row.lost_count]), [['alice', 2, 0], ['carol', 1, 0], ['dave', 0, 1]], 'v1 as before')
  const page = await call({ method: 'GET', url: '/v1/receivers/bob/messages' })
  t.strictSame((page.json() as { messages: Array<{ msg_id: string }> }).messages.map((m) => m.msg_id), ['m2', 'm3', 'm4'])

  const phone = await call({ method: 'PUT', url: '/v1/receivers/bob/devices/phone' })
  t.equal(phone.statusCode, 201)
  t.equal(phone.json().pending_count, 3, 'the first device takes over the old messages')
  const ofPhone = await call({ method: 'GET', url: '/v1/receivers/bob/senders?device_id=phone' })
  t.strictSame((ofPhone.json() as { senders: Array<{ sender_uid: string, pending_count: number, lost_count: number }> }).senders
    .map((row) => [row.sender_uid, row.pending_count, row.lost_count]), [['alice', 2, 0], ['carol', 1, 0], ['dave', 0, 1]], 'with their summary rows, losses included')
  t.equal((await call({ method: 'GET', url: '/v1/receivers/bob/senders' })).statusCode, 400, 'from then on bob needs a device_id')
})
