// Acks: by ids or up to a seq, they delete pending messages and leave tombstones for late retries of their stores.
import { forgetPending } from './conversations.js'
import { lockAndPurgeOne } from './expiry.js'
import type { AckSelector } from './model.js'
import { secondsToMillis, type DomainContext } from './writes.js'

export function createAcks ({ store, rules, clock, write }: DomainContext) {
  /** Deletes the selected pending messages of one receiver; answers how many it deleted (0 when acked again). */
  return async function ack (receiverUid: string, selector: AckSelector): Promise<number> {
    if (await store.receiver(receiverUid) === undefined) return 0
    const now = clock()
    return await write(async (tx, tally) => {
      const receiver = await lockAndPurgeOne(tx, receiverUid, now, tally)
      const acked = await tx.selectForAck(receiverUid, selector, now)
      if (acked.length > 0) {
        const tombstoneUntil = rules.dedupWindowSeconds > 0 ? now + secondsToMillis(rules.dedupWindowSeconds) : null
        await tx.removePending(receiverUid, acked.map((key) => key.seq), tombstoneUntil, now)
        await forgetPending(tx, receiver, acked, 'ack')
      }
      // Acking up to a seq also dismisses the losses it covers: the client has been told of them.
      if (selector.kind === 'up-to') await tx.clearLostUpTo(receiverUid, selector.upToSeq, selector.senderUid)
      await tx.saveReceivers([receiver])
      tally.acked += acked.length
      return acked.length
    })
  }
}
