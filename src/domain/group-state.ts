// What a group of stores reads of its receivers once, up front, and writes once, at the end: a group then costs a
// few statements, not several per message.
import type { ReceiverKey, StoreTx } from '../store/types.js'
import type { Conversation, MessagePayload, PendingMessage, ReceiverState, StoredMessage, Tombstone } from './model.js'
import { readerList, readersOf } from './readers.js'

/** A message to store, with its defaults applied. */
export interface Prepared extends MessagePayload {
  receiverUid: string
  msgId: string
  sendTime: number | null
  ttlSeconds: number
}

/** The pending messages and tombstones with the group's msg_ids, and the summary rows of its senders, per reader. */
export interface GroupState {
  pending: Map<string, StoredMessage>
  tombstones: Map<string, Tombstone>
  conversations: Map<string, Conversation | undefined>
  /** Keys of the conversations changed since the last flush. */
  changed: Set<string>
  /** Messages stored since the last flush. */
  inserts: PendingMessage[]
}

/** The map key of a msg_id under a receiver, or of a (receiver, reader, sender) summary row. */
export const keyOf = (...parts: ReadonlyArray<string | number>): string => parts.join('\u0000')

function unique (pairs: ReceiverKey[]): ReceiverKey[] {
  return [...new Map(pairs.map((pair) => [keyOf(...pair), pair])).values()]
}

/** Sets the summary rows of (receiver, sender) for each of the receiver's readers: those found, or none yet. */
export function setConversations (state: GroupState, receiver: ReceiverState, senderUid: string, found: readonly Conversation[]): void {
  for (const reader of readerList(readersOf(receiver))) state.conversations.set(keyOf(receiver.receiverUid, reader, senderUid), undefined)
  for (const row of found) state.conversations.set(keyOf(row.receiverUid, row.reader, row.senderUid), row)
}

export async function readGroup (tx: StoreTx, items: readonly Prepared[], receivers: ReadonlyMap<string, ReceiverState>): Promise<GroupState> {
  const state: GroupState = { pending: new Map(), tombstones: new Map(), conversations: new Map(), changed: new Set(), inserts: [] }
  const messageKeys = unique(items.map((item) => [item.receiverUid, item.msgId]))
  const conversationKeys = unique(items.map((item) => [item.receiverUid, item.senderUid]))
  const copies = await tx.findForStores(messageKeys, conversationKeys)
  for (const message of copies.pending) state.pending.set(keyOf(message.receiverUid, message.msgId), message)
  for (const tombstone of copies.tombstones) {
    state.tombstones.set(keyOf(tombstone.message.receiverUid, tombstone.message.msgId), tombstone)
  }
  for (const [receiverUid, senderUid] of conversationKeys) {
    const receiver = receivers.get(receiverUid)
    if (receiver !== undefined) setConversations(state, receiver, senderUid, [])
  }
  for (const conversation of copies.conversations) {
    state.conversations.set(keyOf(conversation.receiverUid, conversation.reader, conversation.senderUid), conversation)
  }
  return state
}

/** Writes what the group has stored so far. */
export async function flushGroup (tx: StoreTx, state: GroupState): Promise<void> {
  await tx.insertMessages(state.inserts)
  const changed = [...state.changed].map((id) => state.conversations.get(id)).filter((row) => row !== undefined)
  await tx.saveConversations(changed)
  state.inserts = []
  state.changed.clear()
}
