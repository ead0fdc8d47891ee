// PostgreSQL's write transaction: the StoreTx of the port as the named statements of statements.ts, each
// taking all the rows of a group at once (a group of stores or acks costs a few round trips, not a few per message),
// its writes sent together before its next statement.
import type { ReceiverState, StoredMessage } from '../../domain/model.js'
import { groupBy } from '../../lib/group-by.js'
import { bitOf } from '../../domain/readers.js'
import type { Queries, Row, Statement, TxQueries } from './pool.js'
import { SQL, type Sql } from './statements.js'
import { EVENT_SQL, eventArrays } from './event-statements.js'
import { columns, isEmpty, nothingUnsent, plainStatements, type TxStatements } from './tx-statements.js'
import { givesAll } from '../../domain/events.js'
import { mapKey } from '../../lib/map-key.js'
import { deviceValues, toDevice, toNumber, toRecallsFound, toReceiverState, toRemovedMessage, toStoredMessage, toSummaryRow, toTombstone } from '../row-mapper.js'
import { MESSAGE } from '../columns.js'
import type { AckRemoval, ExpiredRemoval, GroupKeys, ReceiverKey, StoreTx, StoredCopies } from '../types.js'

const pairs = (keys: readonly ReceiverKey[]): unknown[][] => columns(keys, 2)

/** SQL.findForStores' rows as the copies and summary rows they are. */
function toCopies (rows: readonly Row[]): StoredCopies {
  const copies: StoredCopies = { pending: [], tombstones: [], summaryRows: [] }
  for (const row of rows) {
    if (row.part === 'pending') copies.pending.push(toStoredMessage(row))
    else if (row.part === 'tombstone') copies.tombstones.push(toTombstone(row))
    else copies.summaryRows.push(toSummaryRow(row))
  }
  return copies
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

export interface PostgresTx {
  tx: StoreTx
  /** Sends what is still unsent. */
  flush (): Promise<void>
  /** Hands what is still unsent to go with the COMMIT (TxQueries.closing; sent now on queries without it): called last. */
  close (): void | Promise<void>
  /** The receivers to announce once the transaction has committed: at once, and those that may wait (deferrable). */
  announced (): { now: string[], deferrable: string[] }
}

/**
 * The StoreTx of the port on one connection in a transaction. Writes (new messages, summary rows, receivers' rows,
 * devices' last acks) are kept until the transaction's next statement or its COMMIT and then sent together, in one
 * statement before it (with the COMMIT, in its round trip, on a pipelining transaction's queries: `close`). A group of
 * stores sends its lookups right behind the receivers' lock (lockReceivers' `find`): with BEGIN in one round trip,
 * the write-back with COMMIT in another, 5 statements (docs/postgresql-and-citus.md counts each request's). `statements`
 * words each statement: the plain ones unless another backend gives its own (tx-statements.ts). One piece: an object
 * of small methods sharing `q` and what is unsent.
 */
export function createTx (q: Queries | TxQueries, statements: TxStatements = plainStatements()): PostgresTx {
  let unsent = nothingUnsent()
  const announced = new Set<string>()
  const deferrable = new Set<string>()
  /** What findCopiesAndSummaryRows would answer for these keys, read with the receivers' lock (lockReceivers' `find`). */
  let prefetched: { keys: GroupKeys, copies: StoredCopies } | undefined
  const writeBack = (): Statement[] => {
    if (isEmpty(unsent)) return []
    const writes = statements.writeBack(unsent)
    unsent = nothingUnsent()
    return writes
  }
  const flush = async (): Promise<void> => {
    for (const { sql, values } of writeBack()) await q.rows(sql, values)
  }
  /** Every other statement goes after what is unsent, so that it sees it. */
  const rows = async (sql: Sql, values: readonly unknown[]): Promise<Array<Record<string, unknown>>> => {
    prefetched = undefined
    await flush()
    return await q.rows(sql, values)
  }
  const on = (sql: Sql, receiverUids: Iterable<string>): Sql => statements.on(sql, receiverUids)
  /** The statement of findCopiesAndSummaryRows. */
  const findStatement = ({ messageKeys, senderKeys }: GroupKeys): Statement =>
    ({ sql: on(SQL.findForStores, [...messageKeys, ...senderKeys].map(([receiverUid]) => receiverUid)), values: [...pairs(messageKeys), ...pairs(senderKeys)] })

  const tx: StoreTx = {
    async lockReceivers (receiverUids, { create = true, find } = {}) {
      if (receiverUids.length === 0) return []
      if (!create) return inOrder(receiverUids, await rows(on(SQL.lockExistingReceivers, receiverUids), [receiverUids]), false)
      const lock = statements.lockReceivers(receiverUids)
      // The read right behind the lock, in its round trip: a statement of its own, so with a snapshot taken once the
      // lock is held (it sees what the last holder committed), as a read sent after the lock's answer would be.
      if (find !== undefined && 'pipelineRows' in q && isEmpty(unsent) && find.messageKeys.length + find.senderKeys.length > 0) {
        const [locked = [], found = []] = await q.pipelineRows([lock, findStatement(find)])
        prefetched = { keys: find, copies: toCopies(found) }
        return inOrder(receiverUids, locked, true)
      }
      return inOrder(receiverUids, await rows(lock.sql, lock.values), true)
    },

    async saveReceivers (states) {
      for (const state of states) unsent.receivers.set(state.receiverUid, { ...state })
    },

    async findCopiesAndSummaryRows (messageKeys, senderKeys) {
      if (messageKeys.length === 0 && senderKeys.length === 0) return toCopies([])
      // Read with the lock when nothing was sent or written since (the same keys, the same arrays).
      const ahead = prefetched
      prefetched = undefined
      if (ahead !== undefined && ahead.keys.messageKeys === messageKeys && ahead.keys.senderKeys === senderKeys && isEmpty(unsent)) return ahead.copies
      const { sql, values } = findStatement({ messageKeys, senderKeys })
      return toCopies(await rows(sql, values))
    },

    async deleteTombstone (receiverUid, msgId) {
      await rows(on(SQL.deleteTombstone, [receiverUid]), [receiverUid, msgId])
    },

    async insertMessages (messages) {
      unsent.messages.push(...messages)
    },

    async oldestPending (receiverUid) {
      const [row] = await rows(on(SQL.oldestPending, [receiverUid]), [receiverUid])
      return row === undefined ? undefined : toRemovedMessage(row)
    },

    async removeExpired (receiverUids, now, limit) {
      const removal: ExpiredRemoval = { removed: [], summaryRows: [], nextExpiry: new Map() }
      if (receiverUids.length === 0) return removal
      const next = new Map<string, number>()
      const counts = new Map<string, number>()
      for (const row of await rows(on(SQL.removeExpired, receiverUids), [receiverUids, now, limit])) {
        if (row.part === 'removed') {
          const key = toRemovedMessage(row)
          removal.removed.push(key)
          counts.set(key.receiverUid, (counts.get(key.receiverUid) ?? 0) + 1)
        } else if (row.part === 'row') {
          removal.summaryRows.push(toSummaryRow(row))
        } else {
          next.set(String(row.receiver_uid), toNumber(row.expires_at))
        }
      }
      for (const receiverUid of receiverUids) if ((counts.get(receiverUid) ?? 0) < limit) removal.nextExpiry.set(receiverUid, next.get(receiverUid) ?? null)
      return removal
    },

    async removeAcked (acks, now, tombstoneUntil) {
      const removal: AckRemoval = { removed: [], summaryRows: [], cleared: [] }
      if (acks.length === 0) return removal
      const found: Row[] = []
      const { statements: removals, returnsTombstones } = statements.removeAcked(acks, now, tombstoneUntil)
      for (const { sql, values } of removals) found.push(...await rows(sql, values))
      for (const row of found) {
        if (row.part === 'removed') {
          removal.removed.push(toRemovedMessage(row))
          // A message deleted (none of its readers left) that the removal answered whole.
          if (returnsTombstones && tombstoneUntil !== null && toNumber(row.remaining) === 0) unsent.tombstones.push([...MESSAGE.map(({ name }) => row[name]), now, tombstoneUntil])
        } else if (row.part === 'row') removal.summaryRows.push(toSummaryRow(row))
        else removal.cleared.push(toSummaryRow(row))
      }
      return removal
    },

    async removePending (receiverUid, seqs) {
      if (seqs.length > 0) await rows(on(SQL.removePending, [receiverUid]), [receiverUid, seqs])
    },

    async lastPendingOfSenders (keys) {
      if (keys.length === 0) return []
      const found: Array<{ reader: number, message: StoredMessage }> = []
      for (const [receiverUid, ofReceiver] of groupBy(keys, ([receiverUid]) => receiverUid)) {
        const senders = ofReceiver.map(([, reader, senderUid]) => [reader, senderUid])
        for (const row of await rows(on(SQL.lastPendingOfSenders, [receiverUid]), [receiverUid, ...columns(senders, 2)])) found.push({ reader: toNumber(row.reader), message: toStoredMessage(row) })
      }
      return found
    },

    async findSummaryRows (keys) {
      if (keys.length === 0) return []
      return (await rows(on(SQL.findConversations, keys.map(([receiverUid]) => receiverUid)), pairs(keys))).map(toSummaryRow)
    },

    async saveSummaryRows (summaryRows) {
      for (const row of summaryRows) unsent.summaryRows.set(mapKey(row.receiverUid, row.reader, row.senderUid), { save: row })
    },

    async deleteSummaryRows (keys) {
      for (const key of keys) unsent.summaryRows.set(mapKey(...key), { delete: key })
    },

    async findDevices (receiverUids) {
      if (receiverUids.length === 0) return []
      return (await rows(on(SQL.findDevices, receiverUids), [receiverUids])).map(toDevice)
    },

    async insertDevice (device) {
      await rows(on(SQL.insertDevice, [device.receiverUid]), deviceValues(device))
    },

    async removeDevice (receiverUid, deviceId, slot) {
      await rows(on(SQL.removeDevice, [receiverUid]), [receiverUid, deviceId, slot])
    },

    async takeOver (receiverUid, slot) {
      await rows(on(SQL.takeOver, [receiverUid]), [receiverUid, bitOf(slot), slot])
    },

    async touchDevices (devices, now) {
      for (const [receiverUid, slot] of devices) unsent.touched.set(mapKey(receiverUid, slot), [receiverUid, slot, now])
    },

    async findCollapsible (keys) {
      if (keys.length === 0) return []
      const found = await rows(on(SQL.findCollapsible, keys.map(([receiverUid]) => receiverUid)), columns(keys, 3))
      return found.map((row) => ({ ...toRemovedMessage(row), collapseKey: String(row.collapse_key), storedAt: toNumber(row.stored_at) }))
    },

    // Sent with the write-back where the statements allow it and none of the messages is still unsent (a group that
    // replaces a message it has just stored deletes it after its insert); else at once.
    async withdraw (withdrawals, now, tombstoneUntil) {
      if (withdrawals.length === 0) return
      const unsentSeqs = new Set(unsent.messages.map((message) => mapKey(message.receiverUid, message.seq)))
      if (statements.defersWithdrawals && !withdrawals.some(({ message }) => unsentSeqs.has(mapKey(message.receiverUid, message.seq)))) {
        for (const withdrawal of withdrawals) unsent.withdrawals.push({ withdrawal, now, tombstoneUntil })
        return
      }
      const { statement, tombstones } = statements.withdraw(withdrawals, now, tombstoneUntil)
      const deleted = await rows(statement.sql, statement.values)
      const write = tombstones?.(deleted)
      if (write !== undefined) await rows(write.sql, write.values)
    },

    async findForRecalls (targets) {
      if (targets.length === 0) return { targets: [], summaryRows: [] }
      const receiverUids = targets.map((target) => target.receiverUid)
      return toRecallsFound(targets, await rows(on(SQL.findForRecalls, receiverUids), [receiverUids, targets.map((target) => target.msgId)]))
    },

    async erase (receiverUid) {
      const [row] = await rows(on(SQL.erase, [receiverUid]), [receiverUid])
      return { messages: toNumber(row?.messages ?? 0), tombstones: toNumber(row?.tombstones ?? 0), devices: toNumber(row?.devices ?? 0) }
    },

    async insertEvents (records, now) {
      // Each giving all, they go with the write-back before the COMMIT (one round trip less); else read what they lack now.
      if (statements.carriesEvents && unsent.events === null && records.every(givesAll)) unsent.events = { records, now }
      else await rows(EVENT_SQL.insertEvents, eventArrays(records, now))
    },

    async eraseEvents (receiverUid) {
      await rows(EVENT_SQL.eraseEvents, [receiverUid])
    },

    async announceStored (receiverUids, options) {
      for (const receiverUid of receiverUids) (options?.deferrable === true ? deferrable : announced).add(receiverUid)
    }
  }
  return {
    tx,
    flush,
    close: () => 'closing' in q ? q.closing(writeBack()) : flush(),
    announced: () => ({ now: [...announced], deferrable: [...deferrable] })
  }
}
