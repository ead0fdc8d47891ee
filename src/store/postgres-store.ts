// The production store on PostgreSQL, through knex and pg: a pool of connections, rows locked per receiver
// (postgres-transaction.ts), and the migrations run at start or, while the database is down, at its first use.
import { randomUUID } from 'node:crypto'
import { createKnex } from './backends.js'
import { migrate, type DatabaseOptions } from './database.js'
import { StoreUnavailableError } from '../domain/errors.js'
import { storeFailure } from './errors.js'
import { listenForCommits, type CommitListener } from './postgres-commit-feed.js'
import { createTx } from './postgres-transaction.js'
import { CONVERSATION_FIELDS, MESSAGE_FIELDS, toConversation, toNumber, toReceiverState, toStoredMessage } from './row-mapper.js'
import type { PageQuery, Store } from './types.js'

async function guard<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw storeFailure(error)
  }
}

/** The Store of the port. One piece: its methods share the pool and the migration state; each is a few lines. */
export async function createPostgresStore (options: DatabaseOptions): Promise<Store> {
  const db = createKnex(options)
  // A database that is down at start does not stop the service: it answers 503 until the database is back,
  // and the first operation after that runs the migrations.
  let migrated: Promise<void> | null = null
  const ensureSchema = (): Promise<void> => {
    migrated ??= guard(() => migrate(db)).then(() => undefined, (error: unknown) => {
      migrated = null
      throw error
    })
    return migrated
  }
  try {
    await ensureSchema()
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) {
      await db.destroy()
      throw error
    }
  }
  // Names this instance in its NOTIFY payloads, so that its own commits (woken in process) are not heard twice.
  const instanceId = randomUUID()
  const listeners: CommitListener[] = []
  const run = <T>(work: () => Promise<T>): Promise<T> => guard(async () => {
    await ensureSchema()
    return await work()
  })

  return {
    transaction: (fn) => run(() => db.transaction((trx) => fn(createTx(trx, instanceId)))),

    receiver: (receiverUid) => run(async () => {
      const row = await db('receivers').where({ receiver_uid: receiverUid }).first()
      return row === undefined ? undefined : toReceiverState(row)
    }),

    summary: (receiverUid, beforeSortSeq, limit) => run(async () => {
      const query = db('conversations').select(CONVERSATION_FIELDS).where({ receiver_uid: receiverUid }).orderBy('sort_seq', 'desc').limit(limit)
      if (beforeSortSeq !== null) query.andWhere('sort_seq', '<', beforeSortSeq)
      const [receiver, rows] = await Promise.all([
        db('receivers').where({ receiver_uid: receiverUid }).first() as Promise<Record<string, unknown> | undefined>,
        query as Promise<Record<string, unknown>[]>
      ])
      return { receiver: receiver === undefined ? undefined : toReceiverState(receiver), rows: rows.map(toConversation) }
    }),

    page: (query: PageQuery) => run(async () => {
      const select = db('messages').select(MESSAGE_FIELDS)
        .where({ receiver_uid: query.receiverUid })
        .andWhere('seq', '>', query.afterSeq)
        .andWhere('expires_at', '>', query.now)
        .orderBy('seq', 'asc')
        .limit(query.limit)
      if (query.senderUid !== undefined) select.andWhere({ sender_uid: query.senderUid })
      return (await select).map((row) => toStoredMessage(row))
    }),

    findPendingLive: (receiverUid, msgId, now) => run(async () => {
      const row = await db('messages').select(MESSAGE_FIELDS)
        .where({ receiver_uid: receiverUid, msg_id: msgId }).andWhere('expires_at', '>', now).first()
      return row === undefined ? undefined : toStoredMessage(row)
    }),

    receiversDueForExpiry: (now, limit) => run(async () => {
      const rows = await db('receivers').select('receiver_uid').where('next_expiry', '<=', now).orderBy('next_expiry', 'asc').limit(limit)
      return rows.map((row: { receiver_uid: string }) => row.receiver_uid)
    }),

    purgeTombstones: (now, limit) => run(async () => {
      const due = db('tombstones').select('receiver_uid', 'msg_id').where('purge_at', '<=', now).limit(limit)
      return await db('tombstones').whereIn(['receiver_uid', 'msg_id'], due).delete()
    }),

    totalPending: (now) => run(async () => {
      const total = await db('receivers').sum({ n: 'pending_count' }).first() as { n: unknown } | undefined
      // Expired messages still waiting for the sweep are not pending; only receivers due for expiry can hold them.
      const expired = await db('messages as m')
        .join('receivers as r', 'r.receiver_uid', 'm.receiver_uid')
        .where('r.next_expiry', '<=', now).andWhere('m.expires_at', '<=', now)
        .count({ n: '*' }).first() as { n: unknown } | undefined
      const sum = total?.n === null || total?.n === undefined ? 0 : toNumber(total.n)
      return sum - (expired?.n === undefined ? 0 : toNumber(expired.n))
    }),

    ping: () => run(async () => { await db.raw('SELECT 1') }),

    followCommits (feed) {
      listeners.push(listenForCommits(options, instanceId, feed))
    },

    close: async () => {
      await Promise.all(listeners.map((listener) => listener.close()))
      await db.destroy()
    }
  }
}
