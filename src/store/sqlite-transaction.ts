// The embedded store's write transaction: the StoreTx of the port on prepared statements. One connection writes at a
// time (sqlite-store.ts runs every operation in turn), so a transaction holds the whole database, not single rows.
import type { MessageKey } from '../domain/model.js'
import {
  conversationValues, storedMessageValues, toConversationFromValues, toMessageKey, toReceiverState, toStoredMessageFromValues,
  toTombstoneFromValues
} from './row-mapper.js'
import { all, one, value, values, type Row, type Statements } from './sqlite-statements.js'
import type { StoreTx } from './types.js'

/** The StoreTx of the port on the prepared statements. One piece: an object of small methods that share `s`. */
export function createSqliteTx (s: Statements): StoreTx {
  return {
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
    },
    // One process owns an SQLite database: the domain wakes its own waiters after the commit.
    async announceStored () {}
  }
}
