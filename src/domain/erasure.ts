// Erasure: everything the service holds about one receiver, gone in one transaction (its row locked first, so that
// a store, ack or recall of it runs wholly before or wholly after).
import type { Erased } from './model.js'
import type { DomainContext } from './context.js'

export function createErasure ({ write, clock }: DomainContext) {
  /**
   * Erases the receiver: pending messages, tombstones, summary rows, devices and its row (a store afterwards starts
   * from nothing, seq 1). Nothing is counted as lost. An unknown receiver answers zeros.
   */
  return async function erase (receiverUid: string): Promise<Erased> {
    const now = clock()
    return await write(async (tx, tally) => {
      // Locks the row when there is one; none is made. Without it there is nothing a store has committed either.
      await tx.lockReceivers([receiverUid], { create: false })
      const erased = await tx.erase(receiverUid)
      tally.erased += erased.messages + erased.tombstones
      // Its events go too, and the one that records the erasure is written after them (with EVENTS=off nothing is
      // recorded and nothing is deleted here: retention deletes what was recorded before; a store that cannot record
      // events has no feed to delete from).
      if (tally.events.recording) {
        await tx.eraseEvents(receiverUid)
        tally.events.erased(receiverUid, now)
      }
      return erased
    }, receiverUid)
  }
}
