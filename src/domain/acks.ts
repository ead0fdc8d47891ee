// Acks: by ids or up to a seq, they delete pending messages and leave tombstones for late retries of their stores.
// Acks that arrive together share one transaction (group commit, as stores do) and the same few statements: one
// delete of all their messages (which reads their summary rows too), and one write of the rows; each is answered
// after the commit. An ack up to a seq also dismisses the losses it covers: the client has been told of them.
import { forgetPending } from './conversations.js'
import { lockAndPurge } from './expiry.js'
import { createGroupCommit } from './group-commit.js'
import type { Ack, AckSelector, MessageKey } from './model.js'
import { secondsToMillis, type DomainContext } from './writes.js'

// Acks in one transaction at most: each may delete up to 1,000 messages, which bounds how long a group holds the event loop.
const GROUP_COMMIT_MAX_ITEMS = 100

/** Whether an ack selects a pending message of its receiver. */
function matcher (selector: AckSelector): (key: MessageKey) => boolean {
  if (selector.kind === 'ids') {
    const ids = new Set(selector.msgIds)
    return (key) => ids.has(key.msgId)
  }
  const { upToSeq, senderUid } = selector
  return (key) => key.seq <= upToSeq && (senderUid === undefined || key.senderUid === senderUid)
}

/**
 * How many of the removed messages each ack deleted: a message counts for the first ack, in input order, that selects
 * it, as if the acks had run one after the other (a later ack of the same message deletes nothing).
 */
function deletedPerAck (acks: readonly Ack[], removed: readonly MessageKey[]): number[] {
  const counts = acks.map(() => 0)
  const byReceiver = new Map<string, Array<{ index: number, selects: (key: MessageKey) => boolean }>>()
  acks.forEach(({ receiverUid, selector }, index) => {
    const list = byReceiver.get(receiverUid) ?? []
    list.push({ index, selects: matcher(selector) })
    byReceiver.set(receiverUid, list)
  })
  for (const key of removed) {
    const first = byReceiver.get(key.receiverUid)?.find((ack) => ack.selects(key))
    if (first !== undefined) counts[first.index] = (counts[first.index] ?? 0) + 1
  }
  return counts
}

export function createAcks ({ store, rules, clock, write }: DomainContext) {
  /** Acks in one transaction; receivers locked in one order. A receiver the store has never seen has nothing to ack: no row is made for it. */
  async function commitAcks (items: readonly Ack[]): Promise<number[]> {
    const now = clock()
    return await write(async (tx, tally) => {
      const receivers = await lockAndPurge(tx, items.map((item) => item.receiverUid), now, tally, { create: false })
      const acks = items.filter((item) => receivers.has(item.receiverUid))
      if (acks.length === 0) return items.map(() => 0)
      const tombstoneUntil = rules.dedupWindowSeconds > 0 ? now + secondsToMillis(rules.dedupWindowSeconds) : null
      const { removed, conversations, cleared } = await tx.removeAcked(acks, now, tombstoneUntil)
      await forgetPending(tx, receivers, removed, 'ack', { known: conversations, cleared })
      await tx.saveReceivers([...receivers.values()])
      tally.acked += removed.length
      return deletedPerAck(items, removed)
    })
  }

  const submit = createGroupCommit(commitAcks, GROUP_COMMIT_MAX_ITEMS, store.writeConcurrency, (item) => item.receiverUid)

  /** Deletes the selected pending messages of one receiver; answers how many it deleted (0 when acked again). */
  return async function ack (receiverUid: string, selector: AckSelector): Promise<number> {
    const [deleted] = await submit([{ receiverUid, selector }])
    return deleted ?? 0
  }
}
