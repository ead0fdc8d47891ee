// Reads that arrive together in one statement (summaries.ts, pages.ts): the batching, the choice of connection and the
// demultiplexing of the rows are the same for every kind of read.
import { createBatcher } from '../../lib/batcher.js'
import { toNumber } from '../row-mapper.js'
import type { Queries } from './pool.js'
import type { Sql } from './statements.js'

/** Where reads run: DATABASE_URL's pool, or as `readsOf` reads a receiver (its node; on Citus its shard's tables). */
export interface ReadPools {
  pool: Queries
  readsOf: (receiverUid: string) => Queries
  /** How many reads run at once before the rest wait and go together: the read connections of the pool. */
  concurrency: number
  /**
   * With lanes (Citus: a receiver's node), only reads of one lane go together, read as `togetherOf` reads them (as
   * `readsOf` reads the first receiver's when absent).
   */
  laneOf?: ((receiverUid: string) => string) | undefined
  togetherOf?: ((receiverUid: string) => Pick<Queries, 'arrays'>) | undefined
}

/**
 * Reads that arrive while the read connections are all busy wait for the next free one and go together, up to `max`:
 * one alone as `alone` reads it, several in `statement`, whose rows each start with the ordinal of their read (from 1);
 * `answer` makes each read's answer from its rows without that ordinal.
 */
export function createReadBatches<Q extends { receiverUid: string }, R> (
  { pool, readsOf, concurrency, laneOf, togetherOf = readsOf }: ReadPools, max: number, alone: (query: Q) => Promise<R>,
  statement: (queries: readonly Q[]) => { sql: Sql, values: unknown[] }, answer: (query: Q, rows: unknown[][]) => R
): (query: Q) => Promise<R> {
  const batched = createBatcher(async (queries: readonly Q[]): Promise<R[]> => {
    const [first] = queries as [Q]
    if (queries.length === 1) return [await alone(first)]
    const { sql, values } = statement(queries)
    const rows = await (laneOf === undefined ? pool : togetherOf(first.receiverUid)).arrays(sql, values)
    const byQuery = queries.map((): unknown[][] => [])
    for (const row of rows) byQuery[toNumber(row[0]) - 1]?.push(row.slice(1))
    return queries.map((query, i) => answer(query, byQuery[i] ?? []))
  }, max, concurrency, undefined, laneOf === undefined ? undefined : (query) => laneOf(query.receiverUid))
  return async (query) => (await batched([query]))[0] as R
}
