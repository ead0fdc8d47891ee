// The event feed's side of the PostgreSQL store: reading it below the horizon, its key and retention.
import type { Store } from '../types.js'
import { eventFromValues, toNumber } from '../row-mapper.js'
import type { Queries } from './pool.js'
import { EVENT_SQL, positionParams } from './event-statements.js'

type Run = <T>(work: () => Promise<T>) => Promise<T>

export function eventMethods (pool: Queries, run: Run): Pick<Store, 'events' | 'eventCursorKey' | 'purgeEvents' | 'indexEvents'> {
  return {
    events: (after, limit) => run(async () => {
      const found = await pool.arrays(EVENT_SQL.events, [...positionParams(after), limit])
      const events = found.filter((row) => row[2] !== null).map((row) => eventFromValues(row.slice(2), String(row[2])))
      return { events, end: after ?? '0:0', missed: after !== null && found[0]?.[0] === true, heldBack: found[0]?.[1] === true }
    }),

    eventCursorKey: () => run(async () => String((await pool.rows(EVENT_SQL.eventCursorKey, []))[0]?.cursor_key)),

    purgeEvents: (before, limit) => run(async () => toNumber((await pool.rows(EVENT_SQL.purgeEvents, [before, limit]))[0]?.purged ?? 0)),

    // events_receiver is an index on the table, kept by each insert.
    indexEvents: async () => 0
  }
}
