// Conversation bookkeeping: the summary row of each (receiver, sender), its preview, its pending and lost counts.
import type { StoreTx } from '../store/types.js'
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

function bySender (keys: readonly MessageKey[]): Map<string, MessageKey[]> {
  const groups = new Map<string, MessageKey[]>()
  for (const key of keys) {
    const group = groups.get(key.senderUid)
    if (group === undefined) groups.set(key.senderUid, [key])
    else group.push(key)
  }
  return groups
}

/** Updates the summary rows and the receiver's count after pending messages left: acked, or lost (expired or dropped). */
export async function forgetPending (tx: StoreTx, receiver: ReceiverState, removed: readonly MessageKey[], reason: Removal): Promise<void> {
  const { receiverUid } = receiver
  for (const [senderUid, keys] of bySender(removed)) {
    const conversation = await tx.findConversation(receiverUid, senderUid)
    if (conversation === undefined) continue
    const next = withRemoved(conversation, keys, reason)
    if (keys.some((key) => key.seq === conversation.last?.seq)) {
      const latest = next.pendingCount > 0 ? await tx.lastPendingOfSender(receiverUid, senderUid) : undefined
      next.last = latest === undefined ? null : lastOf(latest)
    }
    // With nothing pending, the row keeps its place in the summary at the seq of its last message.
    if (next.last !== null) next.sortSeq = next.last.seq
    if (next.pendingCount === 0 && next.lostCount === 0) await tx.deleteConversation(receiverUid, senderUid)
    else await tx.saveConversations([next])
  }
  receiver.pendingCount -= removed.length
}
