// The write queue: calls to store or to ack that arrive together share one transaction (group commit), each answered
// after its commit; groups follow the store's write lanes (Store.writeLanes).
import { createBatcher } from '../lib/batcher.js'
import type { Store } from '../store/types.js'

/**
 * Wraps `commit` (one transaction over many items, outputs in input order) in the store's lanes: as many groups at
 * once as it allows, never two on one receiver, and each group of one lane when the store has lanes (a call whose
 * items span lanes is cut into one part per lane; stores are deduplicated by msg_id and acks take nothing twice, so
 * a retry of a call that failed in part is safe).
 */
export function createWriteQueue<I extends { receiverUid: string }, O> (
  store: Store, commit: (items: readonly I[]) => Promise<O[]>, maxItems: number
): (items: readonly I[]) => Promise<O[]> {
  const { concurrency, laneOf } = store.writeLanes
  return createBatcher(commit, maxItems, concurrency, (item) => item.receiverUid,
    laneOf === undefined ? undefined : (item) => laneOf(item.receiverUid))
}
