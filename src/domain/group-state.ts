// What a group of stores reads of its receivers once, up front, and writes once, at the end: a group then costs a
// few statements, not several per message.
import { mapKey } from '../lib/map-key.js'
import type { CollapseKey, Collapsible, GroupKeys, ReceiverKey, StoreTx, Withdrawal } from '../store/types.js'
import type { Device, MessagePayload, PendingMessage, ReceiverState, StoredMessage, SummaryRow, Tombstone } from './model.js'
import { readerList, readersOf } from './readers.js'

/** A message to store, with its defaults applied. */
export interface MessageToStore extends MessagePayload {
  receiverUid: string
  msgId: string
  sendTime: number | null
  ttlSeconds: number
}

/** The pending messages and tombstones with the group's msg_ids, and the summary rows of its senders, per reader. */
export interface GroupState {
  pending: Map<string, StoredMessage>
  tombstones: Map<string, Tombstone>
  summaryRows: Map<string, SummaryRow | undefined>
  /** Keys of the summary rows changed since the last flush. */
  changed: Set<string>
  /** Messages stored since the last flush. */
  inserts: PendingMessage[]
  /** Under mapKey(receiver, sender, collapse key): the pending messages with that key, found up front or stored by the group. */
  collapsible: Map<string, Collapsible[]>
  /** Pending messages replaced by newer ones of their collapse key since the last flush: deleted after its inserts. */
  withdrawals: Withdrawal[]
  /** The devices of the receivers whose messages the group replaced, read when first needed. */
  devices: Map<string, Device[]>
}


function unique (pairs: ReceiverKey[]): ReceiverKey[] {
  return [...new Map(pairs.map((pair) => [mapKey(...pair), pair])).values()]
}

/** Sets the summary rows of (receiver, sender) for each of the receiver's readers: those found, or none yet. */
export function setSummaryRows (state: GroupState, receiver: ReceiverState, senderUid: string, found: readonly SummaryRow[]): void {
  for (const reader of readerList(readersOf(receiver))) state.summaryRows.set(mapKey(receiver.receiverUid, reader, senderUid), undefined)
  for (const row of found) state.summaryRows.set(mapKey(row.receiverUid, row.reader, row.senderUid), row)
}

/** The keys a group of stores looks up (readGroup), each once. */
export function groupKeys (items: readonly MessageToStore[]): GroupKeys {
  return {
    messageKeys: unique(items.map((item) => [item.receiverUid, item.msgId])),
    senderKeys: unique(items.map((item) => [item.receiverUid, item.senderUid]))
  }
}

/** What the group's items find stored, under `keys` (groupKeys of the items, as the receivers' lock was given them). */
export async function readGroup (tx: StoreTx, items: readonly MessageToStore[], receivers: ReadonlyMap<string, ReceiverState>, keys: GroupKeys = groupKeys(items)): Promise<GroupState> {
  const state: GroupState = {
    pending: new Map(), tombstones: new Map(), summaryRows: new Map(), changed: new Set(), inserts: [], collapsible: new Map(), withdrawals: [], devices: new Map()
  }
  const { messageKeys, senderKeys } = keys
  const copies = await tx.findCopiesAndSummaryRows(messageKeys, senderKeys)
  for (const message of copies.pending) state.pending.set(mapKey(message.receiverUid, message.msgId), message)
  for (const tombstone of copies.tombstones) {
    state.tombstones.set(mapKey(tombstone.message.receiverUid, tombstone.message.msgId), tombstone)
  }
  for (const [receiverUid, senderUid] of senderKeys) {
    const receiver = receivers.get(receiverUid)
    if (receiver !== undefined) setSummaryRows(state, receiver, senderUid, [])
  }
  for (const row of copies.summaryRows) {
    state.summaryRows.set(mapKey(row.receiverUid, row.reader, row.senderUid), row)
  }
  // Only a group with collapse keys reads what they replace: a store without one sends what it always did.
  const collapseKeys = new Map<string, CollapseKey>()
  for (const item of items) if (item.collapseKey !== null) collapseKeys.set(mapKey(item.receiverUid, item.senderUid, item.collapseKey), [item.receiverUid, item.senderUid, item.collapseKey])
  if (collapseKeys.size > 0) {
    for (const message of await tx.findCollapsible([...collapseKeys.values()])) {
      const key = mapKey(message.receiverUid, message.senderUid, message.collapseKey)
      state.collapsible.set(key, [...state.collapsible.get(key) ?? [], message])
    }
  }
  return state
}

/** Writes what the group has stored so far, then deletes what it replaced (some of which it may just have inserted). */
export async function flushGroup (tx: StoreTx, state: GroupState, now: number, tombstoneUntil: number | null): Promise<void> {
  await tx.insertMessages(state.inserts)
  if (state.withdrawals.length > 0) await tx.withdraw(state.withdrawals, now, tombstoneUntil)
  state.withdrawals = []
  const changed = [...state.changed].map((id) => state.summaryRows.get(id)).filter((row) => row !== undefined)
  await tx.saveSummaryRows(changed)
  state.inserts = []
  state.changed.clear()
}
