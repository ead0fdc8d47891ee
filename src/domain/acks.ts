// Acks: by ids or up to a seq, they delete pending messages and leave tombstones for late retries of their stores.
// Acks that arrive together share one transaction (group commit, as stores do), each answered after its commit.
import type { StoreTx } from '../store/types.js'
import { forgetPending } from './conversations.js'
import { lockAndPurge } from './expiry.js'
import { createGroupCommit } from './group-commit.js'
import type { AckSelector, MessageRules, ReceiverState } from './model.js'
import { secondsToMillis, type DomainContext, type Tally } from './writes.js'

// Acks in one transaction at most: each may delete up to 1,000 messages, which bounds how long a group holds the event loop.
const GROUP_COMMIT_MAX_ITEMS = 100

interface AckItem { receiverUid: string, selector: AckSelector }

/** Deletes what one ack selects of a locked receiver; answers how many messages it deleted. */
async function ackOne (tx: StoreTx, receiver: ReceiverState, selector: AckSelector, rules: MessageRules, now: number, tally: Tally): Promise<number> {
  const { receiverUid } = receiver
  const acked = await tx.selectForAck(receiverUid, selector, now)
  if (acked.length > 0) {
    const tombstoneUntil = rules.dedupWindowSeconds > 0 ? now + secondsToMillis(rules.dedupWindowSeconds) : null
    await tx.removePending(receiverUid, acked.map((key) => key.seq), tombstoneUntil, now)
    await forgetPending(tx, receiver, acked, 'ack')
  }
  // Acking up to a seq also dismisses the losses it covers: the client has been told of them.
  if (selector.kind === 'up-to') await tx.clearLostUpTo(receiverUid, selector.upToSeq, selector.senderUid)
  tally.acked += acked.length
  return acked.length
}

export function createAcks ({ store, rules, clock, write }: DomainContext) {
  /** Acks in one transaction, in input order (a later ack of the same message deletes nothing); receivers locked in one order. */
  async function commitAcks (items: readonly AckItem[]): Promise<number[]> {
    const now = clock()
    return await write(async (tx, tally) => {
      const receivers = await lockAndPurge(tx, items.map((item) => item.receiverUid), now, tally)
      const deleted: number[] = []
      for (const { receiverUid, selector } of items) {
        deleted.push(await ackOne(tx, receivers.get(receiverUid) as ReceiverState, selector, rules, now, tally))
      }
      await tx.saveReceivers([...receivers.values()])
      return deleted
    })
  }

  const submit = createGroupCommit(commitAcks, GROUP_COMMIT_MAX_ITEMS)

  /** Deletes the selected pending messages of one receiver; answers how many it deleted (0 when acked again). */
  return async function ack (receiverUid: string, selector: AckSelector): Promise<number> {
    // A receiver the store has never seen has nothing to ack: no row is made for it.
    if (await store.receiver(receiverUid) === undefined) return 0
    const [deleted] = await submit([{ receiverUid, selector }])
    return deleted ?? 0
  }
}
