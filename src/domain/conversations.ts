// Conversation bookkeeping: the summary row of each (receiver, sender), its preview, its pending and lost counts.
import type { ConversationKey, ReceiverKey, StoreTx } from '../store/types.js'
import { keyOf } from './group-state.js'
import type { Conversation, LastMessage, MessageKey, ReceiverState, StoredMessage } from './model.js'
import { readerList } from './readers.js'

/** The summary shows this many Unicode code points of the latest message's content. */
export const PREVIEW_LENGTH = 100

/** The content cut to PREVIEW_LENGTH code points (never inside a surrogate pair). */
export function previewOf (content: string): string {
  if (content.length <= PREVIEW_LENGTH) return content
  let end = 0
  for (let points = 0; points < PREVIEW_LENGTH && end < content.length; points++) end += (content.codePointAt(end) ?? 0) > 0xffff ? 2 : 1
  return content.slice(0, end)
}

/** What a summary row keeps of its sender's latest pending message. */
const lastOf = (message: StoredMessage): LastMessage =>
  ({ seq: message.seq, sendTime: message.sendTime, msgType: message.msgType, preview: previewOf(message.content) })

/** The sender's row of a reader once `message` is stored: one more pending, and the new message is its latest. */
export function withStored (conversation: Conversation | undefined, message: StoredMessage, reader: number): Conversation {
  return {
    receiverUid: message.receiverUid,
    reader,
    senderUid: message.senderUid,
    pendingCount: (conversation?.pendingCount ?? 0) + 1,
    last: lastOf(message),
    sortSeq: message.seq,
    lostCount: conversation?.lostCount ?? 0,
    lostSeq: conversation?.lostSeq ?? null
  }
}

export type Removal = 'ack' | 'lost'

/** The row once `keys` (all of its sender) left it: acked ones reset the lost count, lost ones add to it. */
function withRemoved (conversation: Conversation, keys: readonly MessageKey[], reason: Removal): Conversation {
  const next: Conversation = { ...conversation, pendingCount: conversation.pendingCount - keys.length }
  if (reason === 'lost') {
    next.lostCount += keys.length
    next.lostSeq = Math.max(next.lostSeq ?? 0, ...keys.map((key) => key.seq))
  } else {
    next.lostCount = 0
    next.lostSeq = null
  }
  return next
}

/** The map key of a summary row. */
export const rowKey = (row: { receiverUid: string, reader: number, senderUid: string }): string => keyOf(row.receiverUid, row.reader, row.senderUid)

/** The keys grouped by the summary row they leave, (receiver, reader, sender) under rowKey: one row per reader they left. */
function byConversation (keys: readonly MessageKey[]): Map<string, { key: ConversationKey, keys: MessageKey[] }> {
  const groups = new Map<string, { key: ConversationKey, keys: MessageKey[] }>()
  for (const key of keys) {
    for (const reader of readerList(key.readers)) {
      const id = keyOf(key.receiverUid, reader, key.senderUid)
      const group = groups.get(id)
      if (group === undefined) groups.set(id, { key: [key.receiverUid, reader, key.senderUid], keys: [key] })
      else group.keys.push(key)
    }
  }
  return groups
}

const keyOfRow = (row: Conversation): ConversationKey => [row.receiverUid, row.reader, row.senderUid]

/**
 * Summary rows a caller has already read: `known`, every row of the removed messages' senders there is (none is read
 * again); `cleared`, rows whose lost count an ack dismisses.
 */
export interface KnownRows {
  known?: readonly Conversation[]
  cleared?: readonly Conversation[]
}

/**
 * Updates the summary rows and the receivers' counts after pending messages left: acked, or lost (expired or dropped).
 * However many receivers and senders, it reads the rows in one statement (none when they are known), the senders' new
 * latest messages in one more, and writes them back in one upsert and one delete.
 */
export async function forgetPending (
  tx: StoreTx, receivers: ReadonlyMap<string, ReceiverState>, removed: readonly MessageKey[], reason: Removal, { known, cleared = [] }: KnownRows = {}
): Promise<void> {
  const groups = byConversation(removed)
  const rows = new Map<string, Conversation>()
  for (const row of cleared) rows.set(rowKey(row), { ...row, lostCount: 0, lostSeq: null })
  const add = (row: Conversation): void => {
    const id = rowKey(row)
    // A cleared row is the same row, read in the same statement, with its losses already dismissed; a row of a reader
    // the messages did not leave stays as it is.
    if (!rows.has(id) && groups.has(id)) rows.set(id, row)
  }
  if (known !== undefined) {
    known.forEach(add)
  } else {
    const missing = new Map<string, ReceiverKey>()
    for (const [id, { key: [receiverUid, , senderUid] }] of groups) if (!rows.has(id)) missing.set(keyOf(receiverUid, senderUid), [receiverUid, senderUid])
    if (missing.size > 0) (await tx.findConversations([...missing.values()])).forEach(add)
  }

  const needLatest: Conversation[] = []
  for (const [id, { keys }] of groups) {
    const row = rows.get(id)
    if (row === undefined) continue
    const next = withRemoved(row, keys, reason)
    if (keys.some((key) => key.seq === row.last?.seq)) {
      next.last = null
      if (next.pendingCount > 0) needLatest.push(next)
    }
    rows.set(id, next)
  }
  if (needLatest.length > 0) {
    const found = await tx.lastPendingOfSenders(needLatest.map(keyOfRow))
    const latest = new Map(found.map(({ reader, message }) => [keyOf(message.receiverUid, reader, message.senderUid), message]))
    for (const row of needLatest) {
      const message = latest.get(rowKey(row))
      row.last = message === undefined ? null : lastOf(message)
    }
  }

  const keep: Conversation[] = []
  const drop: ConversationKey[] = []
  for (const row of rows.values()) {
    // With nothing pending, the row keeps its place in the summary at the seq of its last message.
    if (row.last !== null) row.sortSeq = row.last.seq
    if (row.pendingCount === 0 && row.lostCount === 0) drop.push(keyOfRow(row))
    else keep.push(row)
  }
  if (keep.length > 0) await tx.saveConversations(keep)
  if (drop.length > 0) await tx.deleteConversations(drop)
  // The quota counts stored messages: one leaves it only once no reader has it pending.
  for (const key of removed) {
    const receiver = receivers.get(key.receiverUid)
    if (receiver !== undefined && key.remaining === 0) receiver.pendingCount -= 1
  }
}
