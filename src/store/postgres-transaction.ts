// PostgreSQL's write transaction: the StoreTx of the port as knex queries, each keyed by receiver_uid; multi-row
// statements for what a group of stores reads and writes together.
import type { Knex } from 'knex'
import type { AckSelector, Conversation, MessageKey, ReceiverState, StoredMessage, Tombstone } from '../domain/model.js'
import {
  fromConversation, fromStoredMessage, toConversation, toMessageKey, toNumber, toReceiverState, toStoredMessage, toTombstone,
  CONVERSATION_FIELDS, CONVERSATION_STATE_FIELDS, MESSAGE_FIELDS
} from './row-mapper.js'
import { CHANNEL, commitPayloads } from './postgres-commit-feed.js'
import type { StoreTx } from './types.js'

const MESSAGE_COLUMNS = MESSAGE_FIELDS
const KEY_COLUMNS = ['seq', 'sender_uid', 'msg_id', 'expires_at']
// Keeps IN lists well under PostgreSQL's bound-parameter limit.
const CHUNK = 500

function chunks<T> (items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

/** The StoreTx of the port on one knex transaction. One piece: an object of small methods that share `trx`. */
export function createTx (trx: Knex.Transaction, instanceId: string): StoreTx {
  return {
    async lockReceivers (receiverUids) {
      // One upsert for all: it inserts missing rows and locks every row until COMMIT, in the order
      // of the VALUES list (callers sort it, so that two writers never wait for each other in a cycle).
      const states: ReceiverState[] = []
      for (const part of chunks(receiverUids)) {
        const result = await trx.raw(
          'INSERT INTO receivers (receiver_uid, last_seq, pending_count, next_expiry) VALUES ' +
          part.map(() => '(?, 0, 0, NULL)').join(', ') +
          ' ON CONFLICT (receiver_uid) DO UPDATE SET receiver_uid = excluded.receiver_uid ' +
          'RETURNING receiver_uid, last_seq, pending_count, next_expiry',
          part
        ) as { rows?: Record<string, unknown>[] } | Record<string, unknown>[]
        const rows = (Array.isArray(result) ? result : result.rows ?? []).map(toReceiverState)
        const byUid = new Map(rows.map((state) => [state.receiverUid, state]))
        for (const receiverUid of part) {
          const state = byUid.get(receiverUid)
          if (state === undefined) throw new Error(`receiver upsert returned no row for ${receiverUid}`)
          states.push(state)
        }
      }
      return states
    },

    async saveReceivers (states) {
      for (const part of chunks(states)) {
        await trx.raw(
          'UPDATE receivers AS r SET last_seq = v.last_seq, pending_count = v.pending_count, next_expiry = v.next_expiry FROM (VALUES ' +
          part.map(() => '(?, CAST(? AS bigint), CAST(? AS integer), CAST(? AS bigint))').join(', ') +
          ') AS v (receiver_uid, last_seq, pending_count, next_expiry) WHERE r.receiver_uid = v.receiver_uid',
          part.flatMap((state) => [state.receiverUid, state.lastSeq, state.pendingCount, state.nextExpiry])
        )
      }
    },

    async findPendingByIds (keys) {
      const found: StoredMessage[] = []
      for (const part of chunks(keys)) {
        const rows = await trx('messages').select(MESSAGE_COLUMNS).whereIn(['receiver_uid', 'msg_id'], part.map((pair) => [...pair]))
        found.push(...rows.map((row) => toStoredMessage(row)))
      }
      return found
    },

    async findTombstonesByIds (keys) {
      const found: Tombstone[] = []
      for (const part of chunks(keys)) {
        const rows = await trx('tombstones').select(...MESSAGE_COLUMNS, 'purge_at').whereIn(['receiver_uid', 'msg_id'], part.map((pair) => [...pair]))
        found.push(...rows.map(toTombstone))
      }
      return found
    },

    async deleteTombstone (receiverUid, msgId) {
      await trx('tombstones').where({ receiver_uid: receiverUid, msg_id: msgId }).delete()
    },

    async insertMessages (messages) {
      // One multi-row INSERT per chunk: a group of stores costs a few round trips, not one per message.
      for (const part of chunks(messages)) await trx('messages').insert(part.map(fromStoredMessage))
    },

    async oldestPending (receiverUid) {
      const row = await trx('messages').select(KEY_COLUMNS).where({ receiver_uid: receiverUid }).orderBy('seq', 'asc').first()
      return row === undefined ? undefined : toMessageKey(row)
    },

    async expiredPending (receiverUid, now, limit) {
      const rows = await trx('messages').select(KEY_COLUMNS)
        .where({ receiver_uid: receiverUid }).andWhere('expires_at', '<=', now).orderBy('seq', 'asc').limit(limit)
      return rows.map(toMessageKey)
    },

    async earliestExpiry (receiverUid) {
      const row = await trx('messages').min({ earliest: 'expires_at' }).where({ receiver_uid: receiverUid }).first() as { earliest: unknown } | undefined
      return row?.earliest === null || row?.earliest === undefined ? null : toNumber(row.earliest)
    },

    async selectForAck (receiverUid, selector: AckSelector, now) {
      if (selector.kind === 'ids') {
        const found: MessageKey[] = []
        for (const ids of chunks([...new Set(selector.msgIds)])) {
          const rows = await trx('messages').select(KEY_COLUMNS)
            .where({ receiver_uid: receiverUid }).whereIn('msg_id', ids).andWhere('expires_at', '>', now)
          found.push(...rows.map(toMessageKey))
        }
        return found
      }
      const query = trx('messages').select(KEY_COLUMNS)
        .where({ receiver_uid: receiverUid }).andWhere('seq', '<=', selector.upToSeq).andWhere('expires_at', '>', now)
      if (selector.senderUid !== undefined) query.andWhere({ sender_uid: selector.senderUid })
      return (await query).map(toMessageKey)
    },

    async removePending (receiverUid, seqs, tombstoneUntil, ackedAt) {
      for (const part of chunks(seqs)) {
        if (tombstoneUntil !== null) {
          await trx.raw(
            `INSERT INTO tombstones (${MESSAGE_COLUMNS.join(', ')}, acked_at, purge_at) ` +
            `SELECT ${MESSAGE_COLUMNS.join(', ')}, ?, ? FROM messages WHERE receiver_uid = ? AND seq IN (${part.map(() => '?').join(', ')})`,
            [ackedAt, tombstoneUntil, receiverUid, ...part]
          )
        }
        await trx('messages').where({ receiver_uid: receiverUid }).whereIn('seq', part).delete()
      }
    },

    async lastPendingOfSender (receiverUid, senderUid) {
      const row = await trx('messages').select(MESSAGE_COLUMNS).where({ receiver_uid: receiverUid, sender_uid: senderUid }).orderBy('seq', 'desc').first()
      return row === undefined ? undefined : toStoredMessage(row)
    },

    async findConversation (receiverUid, senderUid) {
      const row = await trx('conversations').select(CONVERSATION_FIELDS).where({ receiver_uid: receiverUid, sender_uid: senderUid }).first()
      return row === undefined ? undefined : toConversation(row)
    },

    async findConversations (keys) {
      const found: Conversation[] = []
      for (const part of chunks(keys)) {
        const rows = await trx('conversations').select(CONVERSATION_FIELDS).whereIn(['receiver_uid', 'sender_uid'], part.map((pair) => [...pair]))
        found.push(...rows.map(toConversation))
      }
      return found
    },

    async saveConversations (conversations) {
      for (const part of chunks(conversations)) {
        await trx('conversations').insert(part.map(fromConversation))
          .onConflict(['receiver_uid', 'sender_uid']).merge(CONVERSATION_STATE_FIELDS)
      }
    },

    async deleteConversation (receiverUid, senderUid) {
      await trx('conversations').where({ receiver_uid: receiverUid, sender_uid: senderUid }).delete()
    },

    async clearLostUpTo (receiverUid, upToSeq, senderUid) {
      const scope = (query: Knex.QueryBuilder) => {
        query.where({ receiver_uid: receiverUid })
        if (senderUid !== undefined) query.andWhere({ sender_uid: senderUid })
        return query
      }
      await scope(trx('conversations')).andWhere('lost_seq', '<=', upToSeq).update({ lost_count: 0, lost_seq: null })
      await scope(trx('conversations')).andWhere({ pending_count: 0, lost_count: 0 }).delete()
    },

    async announceStored (receiverUids) {
      if (receiverUids.length === 0) return
      // One statement, delivered by PostgreSQL only if and when this transaction commits.
      const payloads = commitPayloads(instanceId, receiverUids)
      await trx.raw(`SELECT ${payloads.map(() => 'pg_notify(?, ?)').join(', ')}`, payloads.flatMap((payload) => [CHANNEL, payload]))
    }
  }
}
