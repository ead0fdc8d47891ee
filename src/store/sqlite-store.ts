// The embedded store: prepared better-sqlite3 statements on one connection, every operation run in turn.
import type { Database, Statement } from 'better-sqlite3'
import { createKnex, migrate, sqliteFilename, type DatabaseOptions } from './database.js'
import { isUnavailable, StoreUnavailableError } from './errors.js'
import {
  conversationValues, storedMessageValues, toConversationFromValues, toMessageKey, toNullableNumber, toReceiverState,
  toReceiverMessageFromValues, toStoredMessageFromValues, toTombstoneFromValues, CONVERSATION_FIELDS,
  CONVERSATION_STATE_FIELDS, MESSAGE_FIELDS, PAGE_FIELDS
} from './row-mapper.js'
import type { MessageKey, Store, StoreTx } from './types.js'
import { startWalCheckpointer, type WalCheckpointer } from './wal-checkpointer.js'
import { createWalSync } from './wal-sync.js'

type Row = Record<string, unknown>

const MESSAGE_COLUMNS = MESSAGE_FIELDS.join(', ')
// A page leaves out receiver_uid: turning a value into a JavaScript string is most of a page's cost in better-sqlite3.
const PAGE_COLUMNS = PAGE_FIELDS.join(', ')
const KEY_COLUMNS = 'seq, sender_uid, msg_id, expires_at'
const CONVERSATION_COLUMNS = CONVERSATION_FIELDS.join(', ')

const CHECKPOINT_INTERVAL_MS = 200

function guardSync<T> (work: () => T): T {
  try {
    return work()
  } catch (error) {
    throw isUnavailable(error) ? new StoreUnavailableError(error) : error
  }
}

function prepareAll (db: Database) {
  const p = (sql: string): Statement => db.prepare(sql)
  return {
    begin: p('BEGIN IMMEDIATE'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),
    receiver: p('SELECT receiver_uid, last_seq, pending_count, next_expiry FROM receivers WHERE receiver_uid = ?'),
    insertReceiver: p('INSERT INTO receivers (receiver_uid, last_seq, pending_count, next_expiry) VALUES (?, 0, 0, NULL)'),
    saveReceiver: p('UPDATE receivers SET last_seq = ?, pending_count = ?, next_expiry = ? WHERE receiver_uid = ?'),
    findPending: p(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND msg_id = ?`).raw(true),
    findPendingLive: p(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND msg_id = ? AND expires_at > ?`).raw(true),
    findTombstone: p(`SELECT ${MESSAGE_COLUMNS}, purge_at FROM tombstones WHERE receiver_uid = ? AND msg_id = ?`).raw(true),
    deleteTombstone: p('DELETE FROM tombstones WHERE receiver_uid = ? AND msg_id = ?'),
    insertMessage: p(`INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (${MESSAGE_FIELDS.map(() => '?').join(', ')})`),
    oldestPending: p(`SELECT ${KEY_COLUMNS} FROM messages WHERE receiver_uid = ? ORDER BY seq ASC LIMIT 1`),
    expiredPending: p(`SELECT ${KEY_COLUMNS} FROM messages WHERE receiver_uid = ? AND expires_at <= ? ORDER BY seq ASC LIMIT ?`),
    earliestExpiry: p('SELECT min(expires_at) AS v FROM messages WHERE receiver_uid = ?'),
    ackById: p(`SELECT ${KEY_COLUMNS} FROM messages WHERE receiver_uid = ? AND msg_id = ? AND expires_at > ?`),
    ackUpTo: p(`SELECT ${KEY_COLUMNS} FROM messages WHERE receiver_uid = ? AND seq <= ? AND expires_at > ? ORDER BY seq`),
    ackUpToOfSender: p(`SELECT ${KEY_COLUMNS} FROM messages WHERE receiver_uid = ? AND sender_uid = ? AND seq <= ? AND expires_at > ? ORDER BY seq`),
    toTombstone: p(`INSERT INTO tombstones (${MESSAGE_COLUMNS}, acked_at, purge_at) SELECT ${MESSAGE_COLUMNS}, ?, ? FROM messages WHERE receiver_uid = ? AND seq = ?`),
    deleteMessage: p('DELETE FROM messages WHERE receiver_uid = ? AND seq = ?'),
    lastPendingOfSender: p(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND sender_uid = ? ORDER BY seq DESC LIMIT 1`).raw(true),
    findConversation: p(`SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE receiver_uid = ? AND sender_uid = ?`).raw(true),
    saveConversation: p(`INSERT INTO conversations (${CONVERSATION_COLUMNS}) VALUES (${CONVERSATION_FIELDS.map(() => '?').join(', ')}) ` +
      'ON CONFLICT (receiver_uid, sender_uid) DO UPDATE SET ' +
      CONVERSATION_STATE_FIELDS.map((column) => `${column} = excluded.${column}`).join(', ')),
    deleteConversation: p('DELETE FROM conversations WHERE receiver_uid = ? AND sender_uid = ?'),
    clearLost: p('UPDATE conversations SET lost_count = 0, lost_seq = NULL WHERE receiver_uid = ? AND lost_seq <= ?'),
    clearLostOfSender: p('UPDATE conversations SET lost_count = 0, lost_seq = NULL WHERE receiver_uid = ? AND sender_uid = ? AND lost_seq <= ?'),
    deleteEmptyConversations: p('DELETE FROM conversations WHERE receiver_uid = ? AND pending_count = 0 AND lost_count = 0'),
    summary: p(`SELECT ${CONVERSATION_COLUMNS} FROM conversations WHERE receiver_uid = ? AND sort_seq < ? ORDER BY sort_seq DESC LIMIT ?`).raw(true),
    page: p(`SELECT ${PAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND seq > ? AND expires_at > ? ORDER BY seq ASC LIMIT ?`).raw(true),
    pageOfSender: p(`SELECT ${PAGE_COLUMNS} FROM messages WHERE receiver_uid = ? AND sender_uid = ? AND seq > ? AND expires_at > ? ORDER BY seq ASC LIMIT ?`).raw(true),
    dueForExpiry: p('SELECT receiver_uid FROM receivers WHERE next_expiry <= ? ORDER BY next_expiry ASC LIMIT ?'),
    purgeTombstones: p('DELETE FROM tombstones WHERE (receiver_uid, msg_id) IN (SELECT receiver_uid, msg_id FROM tombstones WHERE purge_at <= ? LIMIT ?)'),
    sumPending: p('SELECT coalesce(sum(pending_count), 0) AS v FROM receivers'),
    expiredUnswept: p('SELECT count(*) AS v FROM messages m JOIN receivers r ON r.receiver_uid = m.receiver_uid WHERE r.next_expiry <= ? AND m.expires_at <= ?'),
    ping: p('SELECT 1 AS v')
  }
}

export async function createSqliteStore (options: DatabaseOptions): Promise<Store> {
  // knex runs the shared migrations; then its single pooled connection is held for the store's lifetime,
  // which is also what keeps an in-memory database alive.
  const knex = createKnex(options)
  let db: Database
  try {
    await migrate(knex)
    db = await knex.client.acquireConnection() as Database
  } catch (error) {
    await knex.destroy()
    throw error
  }
  const filename = sqliteFilename(options.databaseUrl)
  // A file database gets its durability from an fsync of the WAL before each answer (see wal-sync.ts),
  // so COMMIT itself need not block the event loop on the disk.
  const walSync = filename === ':memory:' ? null : createWalSync(filename)
  if (walSync !== null) db.pragma('synchronous = NORMAL')
  // A larger page cache than the 2 MiB default; no memory mapping, whose pages would count in the process's RSS.
  db.pragma('cache_size = -16384')
  // Checkpoints (copying the WAL into the database file, with an fsync) run mostly in a worker thread: when a COMMIT
  // reaches the auto-checkpoint size, the worker has usually copied everything already, so the serving connection
  // only resets the WAL (which it alone can do while it keeps writing) and does no copy and no fsync itself.
  let checkpointer: WalCheckpointer | null = null
  if (walSync !== null) {
    checkpointer = startWalCheckpointer(filename, CHECKPOINT_INTERVAL_MS, (message) => { options.log?.('warn', `WAL checkpoint: ${message}`) })
  }
  const durable = async (): Promise<void> => {
    if (walSync === null) return
    try {
      await walSync.durable()
    } catch (error) {
      throw new StoreUnavailableError(error)
    }
  }
  const s = prepareAll(db)
  const one = (statement: Statement, ...params: unknown[]) => statement.get(...params) as Row | undefined
  const all = (statement: Statement, ...params: unknown[]) => statement.all(...params) as Row[]
  const value = (statement: Statement, ...params: unknown[]) => toNullableNumber(one(statement, ...params)?.v)
  // For statements prepared with raw(true): the row as an array of column values.
  const values = (statement: Statement, ...params: unknown[]) => statement.get(...params) as unknown[] | undefined

  // One connection, one operation at a time: a read never sees a write transaction that has not committed.
  let queue: Promise<unknown> = Promise.resolve()
  function serial<T> (work: () => Promise<T> | T): Promise<T> {
    const run = async () => await work()
    const result = queue.then(run, run)
    queue = result.catch(() => undefined)
    return result
  }
  // A read waits until what it may have seen is on disk: no answer ever shows a message that a power loss could take back.
  const read = async <T>(work: () => T): Promise<T> => {
    const result = await serial(() => guardSync(work))
    await durable()
    return result
  }

  const tx: StoreTx = {
    // A single writer holds the database: "locking" a receiver only makes sure its row exists.
    async lockReceivers (receiverUids) {
      return receiverUids.map((receiverUid) => {
        let row = one(s.receiver, receiverUid)
        if (row === undefined) {
          s.insertReceiver.run(receiverUid)
          row = one(s.receiver, receiverUid) as Row
        }
        return toReceiverState(row)
      })
    },
    async saveReceivers (states) {
      for (const state of states) s.saveReceiver.run(state.lastSeq, state.pendingCount, state.nextExpiry, state.receiverUid)
    },
    // One prepared lookup per key: on an embedded database that is as cheap as any IN list.
    async findPendingByIds (keys) {
      return keys.map(([receiverUid, msgId]) => values(s.findPending, receiverUid, msgId)).filter((row) => row !== undefined).map(toStoredMessageFromValues)
    },
    async findTombstonesByIds (keys) {
      return keys.map(([receiverUid, msgId]) => values(s.findTombstone, receiverUid, msgId)).filter((row) => row !== undefined).map(toTombstoneFromValues)
    },
    async deleteTombstone (receiverUid, msgId) {
      s.deleteTombstone.run(receiverUid, msgId)
    },
    async insertMessages (messages) {
      for (const message of messages) s.insertMessage.run(storedMessageValues(message))
    },
    async oldestPending (receiverUid) {
      const row = one(s.oldestPending, receiverUid)
      return row === undefined ? undefined : toMessageKey(row)
    },
    async expiredPending (receiverUid, now, limit) {
      return all(s.expiredPending, receiverUid, now, limit).map(toMessageKey)
    },
    async earliestExpiry (receiverUid) {
      return value(s.earliestExpiry, receiverUid)
    },
    async selectForAck (receiverUid, selector, now) {
      if (selector.kind === 'ids') {
        const found: MessageKey[] = []
        for (const msgId of new Set(selector.msgIds)) {
          const row = one(s.ackById, receiverUid, msgId, now)
          if (row !== undefined) found.push(toMessageKey(row))
        }
        return found
      }
      const rows = selector.senderUid === undefined
        ? all(s.ackUpTo, receiverUid, selector.upToSeq, now)
        : all(s.ackUpToOfSender, receiverUid, selector.senderUid, selector.upToSeq, now)
      return rows.map(toMessageKey)
    },
    async removePending (receiverUid, seqs, tombstoneUntil, ackedAt) {
      for (const seq of seqs) {
        if (tombstoneUntil !== null) s.toTombstone.run(ackedAt, tombstoneUntil, receiverUid, seq)
        s.deleteMessage.run(receiverUid, seq)
      }
    },
    async lastPendingOfSender (receiverUid, senderUid) {
      const row = values(s.lastPendingOfSender, receiverUid, senderUid)
      return row === undefined ? undefined : toStoredMessageFromValues(row)
    },
    async findConversation (receiverUid, senderUid) {
      const row = values(s.findConversation, receiverUid, senderUid)
      return row === undefined ? undefined : toConversationFromValues(row)
    },
    async findConversations (keys) {
      return keys.map(([receiverUid, senderUid]) => values(s.findConversation, receiverUid, senderUid)).filter((row) => row !== undefined).map(toConversationFromValues)
    },
    async saveConversations (conversations) {
      for (const conversation of conversations) s.saveConversation.run(conversationValues(conversation))
    },
    async deleteConversation (receiverUid, senderUid) {
      s.deleteConversation.run(receiverUid, senderUid)
    },
    async clearLostUpTo (receiverUid, upToSeq, senderUid) {
      if (senderUid === undefined) s.clearLost.run(receiverUid, upToSeq)
      else s.clearLostOfSender.run(receiverUid, senderUid, upToSeq)
      s.deleteEmptyConversations.run(receiverUid)
    }
  }

  return {
    dialect: 'sqlite',

    transaction: async (fn) => {
      const result = await serial(async () => {
        guardSync(() => s.begin.run())
        try {
          const value = await fn(tx)
          guardSync(() => s.commit.run())
          walSync?.committed()
          return value
        } catch (error) {
          if (db.inTransaction) s.rollback.run()
          throw error
        }
      })
      // The answer waits for the fsync; the next transactions run meanwhile and share it.
      await durable()
      return result
    },

    receiver: (receiverUid) => read(() => {
      const row = one(s.receiver, receiverUid)
      return row === undefined ? undefined : toReceiverState(row)
    }),

    summary: (receiverUid, beforeSortSeq, limit) => read(() => {
      const receiver = one(s.receiver, receiverUid)
      const rows = s.summary.all(receiverUid, beforeSortSeq ?? Number.MAX_SAFE_INTEGER, limit) as unknown[][]
      return { receiver: receiver === undefined ? undefined : toReceiverState(receiver), rows: rows.map(toConversationFromValues) }
    }),

    page: (query) => read(() => ((query.senderUid === undefined
      ? s.page.all(query.receiverUid, query.afterSeq, query.now, query.limit)
      : s.pageOfSender.all(query.receiverUid, query.senderUid, query.afterSeq, query.now, query.limit)
    ) as unknown[][]).map((values) => toReceiverMessageFromValues(query.receiverUid, values))),

    findPendingLive: (receiverUid, msgId, now) => read(() => {
      const row = values(s.findPendingLive, receiverUid, msgId, now)
      return row === undefined ? undefined : toStoredMessageFromValues(row)
    }),

    receiversDueForExpiry: (now, limit) => read(() => all(s.dueForExpiry, now, limit).map((row) => String(row.receiver_uid))),

    purgeTombstones: (now, limit) => serial(() => guardSync(() => s.purgeTombstones.run(now, limit).changes)),

    totalPending: (now) => read(() => (value(s.sumPending) ?? 0) - (value(s.expiredUnswept, now, now) ?? 0)),

    ping: () => read(() => { one(s.ping) }),

    close: () => serial(async () => {
      await checkpointer?.close()
      await walSync?.close()
      await knex.client.releaseConnection(db)
      await knex.destroy()
    })
  }
}
