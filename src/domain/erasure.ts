// Erasure: everything the service holds about one receiver, gone in one transaction (its row locked first, so that
// a store, ack or recall of it runs wholly before or wholly after).
import type { Erased } from './model.js'
import type { DomainContext } from './context.js'

export function createErasure ({ write }: DomainContext) {
  /**
   * Erases the receiver: pending messages, tombstones, summary rows, devices and its row (a store afterwards starts
   * from nothing, seq 1). Nothing is counted as lost. An unknown receiver answers zeros. (An events feed records its one
   * receiver.erased here, and deletes the receiver's other events in the same transaction.)
   */
  return async function erase (receiverUid: string): Promise<Erased> {
    return await write(async (tx, tally) => {
      // Locks the row when there is one; none is made. Without it there is nothing a store has committed either.
      await tx.lockReceivers([receiverUid], { create: false })
      const erased = await tx.erase(receiverUid)
      tally.erased += erased.messages + erased.tombstones
      return erased
    }, receiverUid)
  }
}
