// Conversation bookkeeping: the summary row of each (receiver, sender), its preview, its pending and lost counts.
import type { ReceiverKey, StoreTx } from '../store/types.js'
import { keyOf } from './group-state.js'
import type { Conversation, LastMessage, MessageKey, ReceiverState, StoredMessage } from './model.js'

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

/** The sender's row once `message` is stored: one more pending, and the new message is its latest. */
export function withStored (conversation: Conversation | undefined, message: StoredMessage): Conversation {
  return {
    receiverUid: message.receiverUid,
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

/** The keys grouped by (receiver, sender), under keyOf. */
function byConversation (keys: readonly MessageKey[]): Map<string, MessageKey[]> {
  const groups = new Map<string, MessageKey[]>()
  for (const key of keys) {
    const id = keyOf(key.receiverUid, key.senderUid)
    const group = groups.get(id)
    if (group === undefined) groups.set(id, [key])
    else group.push(key)
  }
  return groups
}

const pairOf = (row: Conversation): ReceiverKey => [row.receiverUid, row.senderUid]

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
  for (const row of cleared) rows.set(keyOf(row.receiverUid, row.senderUid), { ...row, lostCount: 0, lostSeq: null })
  const add = (row: Conversation): void => {
    const id = keyOf(row.receiverUid, row.senderUid)
    // A cleared row is the same row, read in the same statement, with its losses already dismissed.
    if (!rows.has(id)) rows.set(id, row)
  }
  if (known !== undefined) {
    known.forEach(add)
  } else {
    const missing = [...groups.values()].map(([key]) => [key?.receiverUid, key?.senderUid] as ReceiverKey).filter((pair) => !rows.has(keyOf(...pair)))
    if (missing.length > 0) (await tx.findConversations(missing)).forEach(add)
  }

  const needLatest: Conversation[] = []
  for (const [id, keys] of groups) {
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
    const latest = new Map((await tx.lastPendingOfSenders(needLatest.map(pairOf))).map((message) => [keyOf(message.receiverUid, message.senderUid), message]))
    for (const row of needLatest) {
      const message = latest.get(keyOf(row.receiverUid, row.senderUid))
      row.last = message === undefined ? null : lastOf(message)
    }
  }

  const keep: Conversation[] = []
  const drop: ReceiverKey[] = []
  for (const row of rows.values()) {
    // With nothing pending, the row keeps its place in the summary at the seq of its last message.
    if (row.last !== null) row.sortSeq = row.last.seq
    if (row.pendingCount === 0 && row.lostCount === 0) drop.push(pairOf(row))
    else keep.push(row)
  }
  if (keep.length > 0) await tx.saveConversations(keep)
  if (drop.length > 0) await tx.deleteConversations(drop)
  for (const key of removed) {
    const receiver = receivers.get(key.receiverUid)
    if (receiver !== undefined) receiver.pendingCount -= 1
  }
}
