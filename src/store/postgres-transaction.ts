// PostgreSQL's write transaction: the StoreTx of the port as the named statements of postgres-statements.ts, each
// taking all the rows of a group at once (a group of stores or acks costs a few round trips, not a few per message).
import type { Ack, Conversation, ReceiverState } from '../domain/model.js'
import { CHANNEL, commitPayloads } from './postgres-commit-feed.js'
import type { Queries } from './postgres-pool.js'
import { SQL } from './postgres-statements.js'
import {
  conversationValues, storedMessageValues, CONVERSATION_FIELDS, MESSAGE_FIELDS, toConversation, toMessageKey, toNullableNumber, toReceiverState, toStoredMessage, toTombstone
} from './row-mapper.js'
import type { ReceiverKey, StoreTx } from './types.js'

/** Rows as one array per column, for unnest: [[a1, b1], [a2, b2]] becomes [[a1, a2], [b1, b2]]. */
function columns (rows: ReadonlyArray<readonly unknown[]>, width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => [])
  for (const row of rows) for (let i = 0; i < width; i++) out[i]?.push(row[i])
  return out
}

const pairs = (keys: readonly ReceiverKey[]): unknown[][] => columns(keys, 2)

/** The acks as the arrays of SQL.removeAcked: (receiver, msg_id) pairs, and (receiver, up_to_seq, sender or NULL). */
function ackArrays (acks: readonly Ack[]): unknown[][] {
  const byIds: Array<[string, string]> = []
  const upTo: Array<[string, number, string | null]> = []
  for (const { receiverUid, selector } of acks) {
    if (selector.kind === 'ids') for (const msgId of new Set(selector.msgIds)) byIds.push([receiverUid, msgId])
    else upTo.push([receiverUid, selector.upToSeq, selector.senderUid ?? null])
  }
  return [...columns(byIds, 2), ...columns(upTo, 3)]
}

/** The receivers' states in the order asked for (a statement's rows come in no promised order). */
function inOrder (receiverUids: readonly string[], rows: Array<Record<string, unknown>>, create: boolean): ReceiverState[] {
  const byUid = new Map(rows.map((row) => [String(row.receiver_uid), toReceiverState(row)]))
  return receiverUids.flatMap((receiverUid) => {
    const state = byUid.get(receiverUid)
    if (state === undefined && create) throw new Error(`receiver upsert returned no row for ${receiverUid}`)
    return state === undefined ? [] : [state]
  })
}

/** The StoreTx of the port on one connection in a transaction. One piece: an object of small methods sharing `q`. */
export function createTx (q: Queries, instanceId: string): StoreTx {
  return {
    async lockReceivers (receiverUids, { create = true } = {}) {
      if (receiverUids.length === 0) return []
      const rows = await q.rows(create ? SQL.lockReceivers : SQL.lockExistingReceivers, [receiverUids])
      return inOrder(receiverUids, rows, create)
    },

    async saveReceivers (states) {
      if (states.length === 0) return
      await q.rows(SQL.saveReceivers, columns(states.map((s) => [s.receiverUid, s.lastSeq, s.pendingCount, s.nextExpiry]), 4))
    },

    async findByIds (keys) {
      if (keys.length === 0) return { pending: [], tombstones: [] }
      const rows = await q.rows(SQL.findByIds, pairs(keys))
      return {
        pending: rows.filter((row) => row.purge_at === null).map((row) => toStoredMessage(row)),
        tombstones: rows.filter((row) => row.purge_at !== null).map(toTombstone)
      }
    },

    async deleteTombstone (receiverUid, msgId) {
      await q.rows(SQL.deleteTombstone, [receiverUid, msgId])
    },

    async insertMessages (messages) {
      if (messages.length === 0) return
      await q.rows(SQL.insertMessages, columns(messages.map(storedMessageValues), MESSAGE_FIELDS.length))
    },

    async oldestPending (receiverUid) {
      const [row] = await q.rows(SQL.oldestPending, [receiverUid])
      return row === undefined ? undefined : toMessageKey(row)
    },

    async expiredPending (receiverUid, now, limit) {
      return (await q.rows(SQL.expiredPending, [receiverUid, now, limit])).map(toMessageKey)
    },

    async earliestExpiry (receiverUid) {
      const [row] = await q.rows(SQL.earliestExpiry, [receiverUid])
      return toNullableNumber(row?.earliest)
    },

    async removeAcked (acks, now, tombstoneUntil) {
      if (acks.length === 0) return []
      return (await q.rows(SQL.removeAcked, [...ackArrays(acks), now, tombstoneUntil])).map(toMessageKey)
    },

    async removePending (receiverUid, seqs) {
      if (seqs.length > 0) await q.rows(SQL.removePending, [receiverUid, seqs])
    },

    async lastPendingOfSenders (keys) {
      if (keys.length === 0) return []
      return (await q.rows(SQL.lastPendingOfSenders, pairs(keys))).map((row) => toStoredMessage(row))
    },

    async findConversations (keys) {
      if (keys.length === 0) return []
      return (await q.rows(SQL.findConversations, pairs(keys))).map(toConversation)
    },

    async findLostConversations (clears) {
      if (clears.length === 0) return []
      const rows = await q.rows(SQL.findLostConversations, columns(clears.map((c) => [c.receiverUid, c.upToSeq, c.senderUid ?? null]), 3))
      return rows.map(toConversation)
    },

    async saveConversations (conversations: readonly Conversation[]) {
      if (conversations.length === 0) return
      await q.rows(SQL.saveConversations, columns(conversations.map(conversationValues), CONVERSATION_FIELDS.length))
    },

    async deleteConversations (keys) {
      if (keys.length > 0) await q.rows(SQL.deleteConversations, pairs(keys))
    },

    async announceStored (receiverUids) {
      if (receiverUids.length === 0) return
      await q.rows(SQL.announce, [CHANNEL, commitPayloads(instanceId, receiverUids)])
    }
  }
}
