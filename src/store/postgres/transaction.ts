// PostgreSQL's write transaction: the StoreTx of the port as the named statements of statements.ts, each
// taking all the rows of a group at once (a group of stores or acks costs a few round trips, not a few per message),
// its writes sent together before its next statement.
import type { Ack, Conversation, PendingMessage, ReceiverState, StoredMessage } from '../../domain/model.js'
import { groupBy } from '../../domain/group-by.js'
import { bitOf } from '../../domain/readers.js'
import type { Queries, Row } from './pool.js'
import type { ShardAccess } from '../citus/shards.js'
import { CITUS, SQL, type Sql } from './statements.js'
import {
  conversationValues, deviceValues, pairKey, receiverValues, storedMessageValues, CONVERSATION_FIELDS, MESSAGE_FIELDS, RECEIVER_FIELDS, toConversation, toDevice,
  toMessageKey, toNumber, toReceiverState, toStoredMessage, toTombstone
} from '../row-mapper.js'
import type { AckRemoval, ConversationKey, ExpiredRemoval, ReceiverKey, StoreTx, StoredCopies } from '../types.js'

/** Rows as one array per column, for unnest: [[a1, b1], [a2, b2]] becomes [[a1, a2], [b1, b2]]. */
function columns (rows: ReadonlyArray<readonly unknown[]>, width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => [])
  for (const row of rows) for (let i = 0; i < width; i++) out[i]?.push(row[i])
  return out
}

const pairs = (keys: readonly ReceiverKey[]): unknown[][] => columns(keys, 2)

/**
 * The acks as the arrays of SQL.removeAcked: (receiver, msg_id, reader's bit), and (receiver, up_to_seq, sender or
 * NULL, reader's bit).
 */
function ackArrays (acks: readonly Ack[]): unknown[][] {
  const byIds: Array<[string, string, number]> = []
  const upTo: Array<[string, number, string | null, number]> = []
  for (const { receiverUid, reader, selector } of acks) {
    if (selector.kind === 'ids') for (const msgId of new Set(selector.msgIds)) byIds.push([receiverUid, msgId, bitOf(reader)])
    else upTo.push([receiverUid, selector.upToSeq, selector.senderUid ?? null, bitOf(reader)])
  }
  return [...columns(byIds, 3), ...columns(upTo, 4)]
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

/** What a transaction has written but not yet sent: the last write of each row. */
interface Unsent {
  messages: PendingMessage[]
  conversations: Map<string, { save: Conversation } | { delete: ConversationKey }>
  receivers: Map<string, ReceiverState>
  /** Devices that acked: (receiver, slot) under pairKey, and when. */
  touched: Map<string, readonly [receiverUid: string, slot: number, at: number]>
  /** On Citus only, the tombstones of what removeAckedOnCitus deleted (elsewhere that statement writes them itself). */
  tombstones: unknown[][]
}

const nothingUnsent = (): Unsent => ({ messages: [], conversations: new Map(), receivers: new Map(), touched: new Map(), tombstones: [] })

/** The receivers of what is unsent. */
function* receiversOf ({ messages, conversations, receivers, touched }: Unsent): Generator<string> {
  for (const message of messages) yield message.receiverUid
  for (const write of conversations.values()) yield 'save' in write ? write.save.receiverUid : write.delete[0]
  yield * receivers.keys()
  for (const [receiverUid] of touched.values()) yield receiverUid
}

/**
 * The write of what is unsent: SQL.writeBack (as `named` names it) and its arrays, or on Citus's shapes its parts as
 * statements of their own (CITUS.writeBack).
 */
function writeBack ({ messages, conversations, receivers, touched, tombstones }: Unsent, citus: boolean, named: (sql: Sql) => Sql): Array<{ sql: Sql, values: unknown[] }> {
  const saved: Conversation[] = []
  const deleted: ConversationKey[] = []
  for (const write of conversations.values()) {
    if ('save' in write) saved.push(write.save)
    else deleted.push(write.delete)
  }
  const messageRows = messages.map((message) => [...storedMessageValues(message), message.readers])
  const savedRows = saved.map(conversationValues)
  const receiverRows = [...receivers.values()].map(receiverValues)
  const deletedColumns = columns(deleted, 3)
  const touchedColumns = columns([...touched.values()], 3)
  if (citus) return CITUS.writeBack({ messages: messageRows, saved: savedRows, tombstones, receivers: receiverRows, deleted: deletedColumns, touched: touchedColumns })
  return [{
    sql: named(SQL.writeBack),
    values: [...columns(messageRows, MESSAGE_FIELDS.length + 1), ...columns(savedRows, CONVERSATION_FIELDS.length), ...deletedColumns,
      ...columns(receiverRows, RECEIVER_FIELDS.length), ...touchedColumns]
  }]
}

/**
 * On Citus: the shard of each receiver (citus/placement.ts), by which the transaction cuts the statements that must
 * be one task; and `direct`, the tables of the shard the transaction holds (citus/shards.ts), when it holds one.
 */
export interface CitusShards { shardOf (receiverUid: string): string, direct?: ShardAccess }

export interface PostgresTx {
  tx: StoreTx
  /** Sends what is still unsent: called before COMMIT. */
  flush (): Promise<void>
  /** The receivers to announce once the transaction has committed. */
  announced (): string[]
}

/**
 * The StoreTx of the port on one connection in a transaction. Writes (new messages, summary rows, receivers' rows,
 * devices' last acks) are kept until the transaction's next statement or its COMMIT and then sent together, in one
 * statement before it: a group of stores then costs 6 round trips, an ack 5 (a device's 6). With `citus`, the
 * statements that insert rows take Citus's shapes (CITUS, SQL.removeAckedOnCitus), so that a transaction whose
 * receivers share one shard sends each statement to that shard as one task, and the write goes as a statement per
 * part (Citus runs a CTE that writes as a subplan of its own): one to three round trips more. With `citus.direct`,
 * the plain statements on that shard's tables instead, as long as every receiver the transaction names is of that
 * shard. One piece: an object of small methods sharing `q` and what is unsent.
 */
export function createTx (q: Queries, citus?: CitusShards): PostgresTx {
  let unsent = nothingUnsent()
  const announced = new Set<string>()
  // The shard held, until a statement names a receiver of another: from then on Citus's shapes on the distributed
  // tables, for the rest of the transaction (what went to the shard's tables before stays right: its receivers are
  // the shard's, and the distributed tables are those same shards).
  let direct = citus?.direct
  /** The shapes of a statement naming these receivers: the plain ones (maybe on the shard's tables) or Citus's. */
  const shapesFor = (receiverUids: Iterable<string>): 'plain' | 'citus' => {
    if (citus === undefined) return 'plain'
    if (direct !== undefined) {
      for (const receiverUid of receiverUids) {
        if (citus.shardOf(receiverUid) !== direct.shardId) {
          direct = undefined
          break
        }
      }
    }
    return direct === undefined ? 'citus' : 'plain'
  }
  const named = (sql: Sql): Sql => direct === undefined ? sql : direct.on(sql)
  /** A statement of one shape whatever the store, naming these receivers: on the shard's tables while it may be. */
  const on = (sql: Sql, receiverUids: Iterable<string>): Sql => {
    shapesFor(receiverUids)
    return named(sql)
  }
  const flush = async (): Promise<void> => {
    if (unsent.messages.length === 0 && unsent.conversations.size === 0 && unsent.receivers.size === 0 && unsent.touched.size === 0 &&
      unsent.tombstones.length === 0) return
    const statements = writeBack(unsent, shapesFor(receiversOf(unsent)) === 'citus', named)
    unsent = nothingUnsent()
    for (const { sql, values } of statements) await q.rows(sql, values)
  }
  /** Every other statement goes after what is unsent, so that it sees it. */
  const rows = async (sql: Sql, values: readonly unknown[]): Promise<Array<Record<string, unknown>>> => {
    await flush()
    return await q.rows(sql, values)
  }

  const tx: StoreTx = {
    async lockReceivers (receiverUids, { create = true } = {}) {
      if (receiverUids.length === 0) return []
      const shapes = shapesFor(receiverUids)
      if (!create) return inOrder(receiverUids, await rows(named(SQL.lockExistingReceivers), [receiverUids]), false)
      if (shapes === 'plain') return inOrder(receiverUids, await rows(named(SQL.lockReceivers), [receiverUids]), true)
      const { sql, values } = CITUS.lockReceivers(receiverUids)
      return inOrder(receiverUids, await rows(sql, values), true)
    },

    async saveReceivers (states) {
      for (const state of states) unsent.receivers.set(state.receiverUid, { ...state })
    },

    async findForStores (messageKeys, conversationKeys) {
      const copies: StoredCopies = { pending: [], tombstones: [], conversations: [] }
      if (messageKeys.length === 0 && conversationKeys.length === 0) return copies
      const statement = on(SQL.findForStores, [...messageKeys, ...conversationKeys].map(([receiverUid]) => receiverUid))
      for (const row of await rows(statement, [...pairs(messageKeys), ...pairs(conversationKeys)])) {
        if (row.part === 'pending') copies.pending.push(toStoredMessage(row))
        else if (row.part === 'tombstone') copies.tombstones.push(toTombstone(row))
        else copies.conversations.push(toConversation(row))
      }
      return copies
    },

    async deleteTombstone (receiverUid, msgId) {
      await rows(on(SQL.deleteTombstone, [receiverUid]), [receiverUid, msgId])
    },

    async insertMessages (messages) {
      unsent.messages.push(...messages)
    },

    async oldestPending (receiverUid) {
      const [row] = await rows(on(SQL.oldestPending, [receiverUid]), [receiverUid])
      return row === undefined ? undefined : toMessageKey(row)
    },

    async removeExpired (receiverUids, now, limit) {
      const removal: ExpiredRemoval = { removed: [], conversations: [], nextExpiry: new Map() }
      if (receiverUids.length === 0) return removal
      const next = new Map<string, number>()
      const counts = new Map<string, number>()
      for (const row of await rows(on(SQL.removeExpired, receiverUids), [receiverUids, now, limit])) {
        if (row.part === 'removed') {
          const key = toMessageKey(row)
          removal.removed.push(key)
          counts.set(key.receiverUid, (counts.get(key.receiverUid) ?? 0) + 1)
        } else if (row.part === 'row') {
          removal.conversations.push(toConversation(row))
        } else {
          next.set(String(row.receiver_uid), toNumber(row.expires_at))
        }
      }
      for (const receiverUid of receiverUids) if ((counts.get(receiverUid) ?? 0) < limit) removal.nextExpiry.set(receiverUid, next.get(receiverUid) ?? null)
      return removal
    },

    async removeAcked (acks, now, tombstoneUntil) {
      const removal: AckRemoval = { removed: [], conversations: [], cleared: [] }
      if (acks.length === 0) return removal
      const found: Row[] = []
      const onCitus = citus !== undefined && shapesFor(acks.map((ack) => ack.receiverUid)) === 'citus'
      if (!onCitus) found.push(...await rows(named(SQL.removeAcked), [...ackArrays(acks), now, tombstoneUntil]))
      // On Citus one statement per shard: over one shard Citus runs it as one task, over several it plans its parts
      // one after the other through intermediate results (10 to 40 ms a group against about 1 ms).
      else for (const part of groupBy(acks, (ack) => citus.shardOf(ack.receiverUid)).values()) found.push(...await rows(SQL.removeAckedOnCitus, [...ackArrays(part), now]))
      for (const row of found) {
        if (row.part === 'removed') {
          removal.removed.push(toMessageKey(row))
          // A message deleted (none of its readers left) that removeAckedOnCitus answered whole.
          if (onCitus && tombstoneUntil !== null && toNumber(row.remaining) === 0) unsent.tombstones.push([...MESSAGE_FIELDS.map((column) => row[column]), now, tombstoneUntil])
        } else if (row.part === 'row') removal.conversations.push(toConversation(row))
        else removal.cleared.push(toConversation(row))
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

    async findConversations (keys) {
      if (keys.length === 0) return []
      return (await rows(on(SQL.findConversations, keys.map(([receiverUid]) => receiverUid)), pairs(keys))).map(toConversation)
    },

    async saveConversations (conversations) {
      for (const row of conversations) unsent.conversations.set(pairKey(row.receiverUid, row.reader, row.senderUid), { save: row })
    },

    async deleteConversations (keys) {
      for (const key of keys) unsent.conversations.set(pairKey(...key), { delete: key })
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
      for (const [receiverUid, slot] of devices) unsent.touched.set(pairKey(receiverUid, slot), [receiverUid, slot, now])
    },

    async announceStored (receiverUids) {
      for (const receiverUid of receiverUids) announced.add(receiverUid)
    }
  }
  return { tx, flush, announced: () => [...announced] }
}
