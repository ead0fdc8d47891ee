// The event feed's side of the SQLite store: reading it, its key, retention, and the sweep's listing of each event under
// its receiver (for erasure: migration 007).
import type { Store } from '../types.js'
import { eventFromValues } from '../row-mapper.js'
import { one, value, type Statements } from './statements.js'

type Run = <T>(work: () => T) => Promise<T>

/**
 * The fewest events the sweep lists in one transaction. A batch's entries go into event_receivers sorted by receiver,
 * and each page of it they touch is written to the WAL whole at the COMMIT: the more events a transaction lists, the
 * more entries share each page written. Measured with EVENTS=on against off, the batch scenario (100 receivers):
 * 0.71 of off with 500 a transaction (SWEEP_BATCH_SIZE's default), 0.90 with 5,000.
 */
const LISTING_BATCH = 5000

export function eventMethods (s: Statements, write: Run, read: Run): Pick<Store, 'events' | 'eventCursorKey' | 'purgeEvents' | 'indexEvents'> {
  return {
    events: (after, limit) => read(() => {
      const from = after === null ? 0 : Number(after)
      const events = (s.eventsAfter.all(from, limit) as unknown[][]).map((row) => eventFromValues(row, String(row[0])))
      return { events, end: String(from), missed: after !== null && from < (value(s.eventsPruned) ?? 0), heldBack: false }
    }),

    eventCursorKey: () => read(() => String(one(s.eventCursorKey)?.cursor_key)),

    // The deletion and the note of how far it went, in one transaction.
    purgeEvents: (before, limit) => write(() => {
      const ids = (s.purgeEvents.all(before, limit) as unknown[][]).map((row) => Number(row[0]))
      if (ids.length > 0) s.notePruned.run(Math.max(...ids))
      for (const id of ids) s.unlistEvent.run(id)
      return ids.length
    }),

    // Each batch in a transaction of its own, of at least LISTING_BATCH events.
    async indexEvents (limit) {
      const size = Math.max(limit, LISTING_BATCH)
      let listed = 0
      for (;;) {
        const batch = await write(() => {
          const upTo = value(s.nextToList, size)
          if (upTo === null) return 0
          const { changes } = s.listEvents.run(upTo)
          s.noteListed.run(upTo)
          return changes
        })
        listed += batch
        if (batch < size) return listed
      }
    }
  }
}
