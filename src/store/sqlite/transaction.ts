// The embedded store's write transaction: the StoreTx of the port on prepared statements. One connection writes at a
// time (store.ts runs every operation in turn), so a transaction holds the whole database, not single rows.
import type { Statement } from 'better-sqlite3'
import type { ReceiverState, RemovedMessage } from '../../domain/model.js'
import { RECEIVER_READER, bitOf } from '../../domain/readers.js'
import { mapKey } from '../../lib/map-key.js'
import {
  deviceValues, pendingMessageValues, receiverUpdateValues, summaryRowValues, toDevice, toPendingMessage, toReceiverState, toRemovedMessage, toStoredMessage,
  toStoredMessageFromValues,
  toSummaryRowFromValues, toTombstoneFromValues
} from '../row-mapper.js'
import { all, one, value, values, type Statements } from './statements.js'
import { toNumber } from '../row-mapper.js'
import { eventLookupValues, eventValues } from './event-statements.js'
import { givesAll } from '../../domain/events.js'
import type { ExpiredRemoval, ReceiverKey, RecallTarget, StoreTx } from '../types.js'

/** The (receiver, sender) pairs of these keys, each once. */
const sendersOf = (keys: ReadonlyArray<{ receiverUid: string, senderUid: string }>): ReceiverKey[] =>
  [...new Map(keys.map((key) => [mapKey(key.receiverUid, key.senderUid), [key.receiverUid, key.senderUid] as const])).values()]

/** The StoreTx of the port on the prepared statements. One piece: an object of small methods that share `s`. */
export function createSqliteTx (s: Statements): StoreTx {
  const findSummaryRows = (keys: readonly ReceiverKey[]) =>
    keys.flatMap(([receiverUid, senderUid]) => s.findConversations.all(receiverUid, senderUid) as unknown[][]).map(toSummaryRowFromValues)
  return {
    // A single writer holds the database: "locking" a receiver only makes sure its row exists (or, without create, reads it).
    async lockReceivers (receiverUids, { create = true } = {}) {
      const states: ReceiverState[] = []
      for (const receiverUid of receiverUids) {
        let row = one(s.receiver, receiverUid)
        if (row === undefined && create) {
          s.insertReceiver.run(receiverUid)
          row = one(s.receiver, receiverUid)
        }
        if (row !== undefined) states.push(toReceiverState(row))
      }
      return states
    },
    async saveReceivers (states) {
      for (const state of states) s.saveReceiver.run(receiverUpdateValues(state))
    },
    // One prepared lookup per key: on an embedded database that is as cheap as any IN list.
    async findCopiesAndSummaryRows (messageKeys, senderKeys) {
      const found = (statement: Statement) => messageKeys.map(([receiverUid, msgId]) => values(statement, receiverUid, msgId)).filter((row) => row !== undefined)
      return {
        pending: found(s.findPending).map(toStoredMessageFromValues),
        tombstones: found(s.findTombstone).map(toTombstoneFromValues),
        summaryRows: findSummaryRows(senderKeys)
      }
    },
    async deleteTombstone (receiverUid, msgId) {
      s.deleteTombstone.run(receiverUid, msgId)
    },
    async insertMessages (messages) {
      for (const message of messages) s.insertMessage.run(pendingMessageValues(message))
    },
    async oldestPending (receiverUid) {
      const row = one(s.oldestPending, receiverUid)
      return row === undefined ? undefined : toRemovedMessage(row)
    },
    async removeExpired (receiverUids, now, limit) {
      const removal: ExpiredRemoval = { removed: [], summaryRows: [], nextExpiry: new Map() }
      for (const receiverUid of receiverUids) {
        const expired = all(s.expiredPending, receiverUid, now, limit).map(toRemovedMessage)
        for (const key of expired) s.deleteMessage.run(receiverUid, key.seq)
        removal.removed.push(...expired)
        if (expired.length < limit) removal.nextExpiry.set(receiverUid, value(s.earliestExpiry, receiverUid))
      }
      removal.summaryRows = findSummaryRows(sendersOf(removal.removed))
      return removal
    },
    // The acks one after the other, in input order: a later ack of the same message by the same reader finds nothing
    // left. The receiver's own acks (reader 0: every message is pending for it alone) delete what they select; a
    // device's takes its bit, and deletes only what no reader has left.
    async removeAcked (acks, now, tombstoneUntil) {
      const removed: RemovedMessage[] = []
      const take = (tombstone: Statement, remove: Statement, ...selection: unknown[]) => {
        if (tombstoneUntil !== null) tombstone.run(now, tombstoneUntil, ...selection)
        for (const row of all(remove, ...selection)) removed.push(toRemovedMessage(row))
      }
      const takeBit = (bit: number, statement: Statement, ...selection: unknown[]) => {
        for (const row of all(statement, bit, ...selection, bit)) {
          const key = toRemovedMessage({ ...row, readers: bit })
          removed.push(key)
          if (key.remaining !== 0) continue
          if (tombstoneUntil !== null) s.tombstoneBySeq.run(now, tombstoneUntil, key.receiverUid, key.seq)
          s.deleteMessage.run(key.receiverUid, key.seq)
        }
      }
      const lost: unknown[][] = []
      for (const { receiverUid, reader, selector } of acks) {
        const own = reader === RECEIVER_READER
        const bit = bitOf(reader)
        if (selector.kind === 'ids') {
          for (const msgId of new Set(selector.msgIds)) {
            if (own) take(s.tombstoneById, s.ackById, receiverUid, msgId, now)
            else takeBit(bit, s.takeById, receiverUid, msgId, now)
          }
        } else if (selector.senderUid === undefined) {
          if (own) take(s.tombstoneUpTo, s.ackUpTo, receiverUid, selector.upToSeq, now)
          else takeBit(bit, s.takeUpTo, receiverUid, selector.upToSeq, now)
          lost.push(...s.lostConversations.all(receiverUid, reader, selector.upToSeq) as unknown[][])
        } else {
          if (own) take(s.tombstoneUpToOfSender, s.ackUpToOfSender, receiverUid, selector.senderUid, selector.upToSeq, now)
          else takeBit(bit, s.takeUpToOfSender, receiverUid, selector.senderUid, selector.upToSeq, now)
          lost.push(...s.lostConversationOfSender.all(receiverUid, reader, selector.senderUid, selector.upToSeq) as unknown[][])
        }
      }
      // Two acks of one group may cover the same row: each row once.
      const cleared = new Map(lost.map((row) => [mapKey(String(row[0]), String(row[1]), String(row[2])), row]))
      return {
        removed,
        summaryRows: findSummaryRows(sendersOf(removed)),
        cleared: [...cleared.values()].map(toSummaryRowFromValues)
      }
    },
    async removePending (receiverUid, seqs) {
      for (const seq of seqs) s.deleteMessage.run(receiverUid, seq)
    },
    async lastPendingOfSenders (keys) {
      return keys.flatMap(([receiverUid, reader, senderUid]) => {
        const row = values(s.lastPendingOfSender, receiverUid, senderUid, bitOf(reader))
        return row === undefined ? [] : [{ reader, message: toStoredMessageFromValues(row) }]
      })
    },
    async findSummaryRows (keys) {
      return findSummaryRows(keys)
    },
    async saveSummaryRows (summaryRows) {
      for (const row of summaryRows) s.saveConversation.run(summaryRowValues(row))
    },
    async deleteSummaryRows (keys) {
      for (const [receiverUid, reader, senderUid] of keys) s.deleteConversation.run(receiverUid, reader, senderUid)
    },
    async findDevices (receiverUids) {
      return receiverUids.flatMap((receiverUid) => all(s.findDevices, receiverUid).map(toDevice))
    },
    async insertDevice (device) {
      s.insertDevice.run(deviceValues(device))
    },
    async removeDevice (receiverUid, deviceId, slot) {
      s.deleteDevice.run(receiverUid, deviceId)
      s.deleteReaderConversations.run(receiverUid, slot)
    },
    async takeOver (receiverUid, slot) {
      s.takeOverMessages.run(bitOf(slot), receiverUid)
      s.takeOverConversations.run(slot, receiverUid)
    },
    async touchDevices (devices, now) {
      for (const [receiverUid, slot] of devices) s.touchDevice.run(now, receiverUid, slot)
    },
    async findCollapsible (keys) {
      return keys.flatMap(([receiverUid, senderUid, collapseKey]) => all(s.findCollapsible, receiverUid, senderUid, collapseKey))
        .map((row) => ({ ...toRemovedMessage(row), collapseKey: String(row.collapse_key), storedAt: toNumber(row.stored_at) }))
    },
    async withdraw (withdrawals, now, tombstoneUntil) {
      for (const { message: { receiverUid, seq }, recall } of withdrawals) {
        if (tombstoneUntil !== null) s.tombstoneWithdrawn.run(now, tombstoneUntil, recall, receiverUid, seq)
        s.deleteMessage.run(receiverUid, seq)
      }
    },
    async findForRecalls (targets) {
      const found = targets.map(({ receiverUid, msgId }): RecallTarget => {
        const pending = one(s.findWithReaders, receiverUid, msgId)
        if (pending !== undefined) return { pending: toPendingMessage(pending) }
        const tombstone = one(s.findTombstoneForRecall, receiverUid, msgId)
        if (tombstone === undefined) return {}
        return { tombstone: { message: toStoredMessage(tombstone), recall: tombstone.recall === null ? null : String(tombstone.recall) } }
      })
      return { targets: found, summaryRows: findSummaryRows(sendersOf(found.flatMap((target) => target.pending ?? []))) }
    },
    async erase (receiverUid) {
      const erased = {
        messages: s.eraseMessages.run(receiverUid).changes,
        tombstones: s.eraseTombstones.run(receiverUid).changes,
        devices: s.eraseDevices.run(receiverUid).changes
      }
      s.eraseConversations.run(receiverUid)
      s.eraseReceiver.run(receiverUid)
      return erased
    },
    async insertEvents (records, now) {
      for (const record of records) {
        if (givesAll(record)) s.insertGivenEvent.run(eventValues(record, now))
        else s.insertEvent.run(eventLookupValues(record, now))
      }
    },
    async eraseEvents (receiverUid) {
      s.eraseListedEvents.run(receiverUid)
      s.eraseRecentEvents.run(receiverUid)
      s.eraseEventList.run(receiverUid)
    },
    // One process owns an SQLite database: the domain wakes its own waiters after the commit.
    async announceStored () {}
  }
}
