// Page reads on PostgreSQL: one in one statement on its node's pool, or, for requests that wait (wait_seconds), of any
// sender, several that arrive together in one statement (SQL.pages) on DATABASE_URL's pool (on Citus, of one shard, on
// its node), as summary reads do (summaries.ts).
import { createBatcher } from '../../lib/batcher.js'
import type { StoredMessage } from '../../domain/model.js'
import { toNumber, toReceiverMessageFromValues } from '../row-mapper.js'
import type { PageQuery } from '../types.js'
import type { Queries } from './pool.js'
import { SQL } from './statements.js'

// Page reads in one statement at most: up to 50 x (limit + 1) rows.
const PAGES_PER_STATEMENT = 50

/**
 * Page reads on `pool`, or alone as `readsOf` reads that receiver; `concurrency`: the read connections of the pool.
 * With `laneOf` (Citus: a receiver's shard), the reads that go together are of one lane, read as `readsOf` reads them.
 */
export function createPageReads (pool: Queries, readsOf: (receiverUid: string) => Queries, concurrency: number, laneOf?: (receiverUid: string) => string) {
  const alone = async (query: PageQuery): Promise<StoredMessage[]> => {
    const values: unknown[] = [query.receiverUid, query.afterSeq, query.now, query.limit]
    if (query.deviceId !== undefined) values.push(query.deviceId)
    if (query.senderUid !== undefined) values.push(query.senderUid)
    const statement = query.deviceId === undefined
      ? (query.senderUid === undefined ? SQL.page : SQL.pageOfSender)
      : (query.senderUid === undefined ? SQL.pageOfDevice : SQL.pageOfDeviceAndSender)
    return (await readsOf(query.receiverUid).arrays(statement, values)).map((row) => toReceiverMessageFromValues(query.receiverUid, row))
  }
  // Reads that arrive while the pool's read connections are all busy wait for the next free one and go together: the
  // held requests a commit wakes, and their callers' next requests, arrive in bursts, and read a message or none. The
  // batch reads at the latest of their times (a message that expired meanwhile is not shown, as it would not be a
  // moment later).
  const batched = createBatcher(async (queries: readonly PageQuery[]): Promise<StoredMessage[][]> => {
    const [first] = queries as [PageQuery]
    if (queries.length === 1) return [await alone(first)]
    const rows = await (laneOf === undefined ? pool : readsOf(first.receiverUid)).arrays(SQL.pages, [
      queries.map((query) => query.receiverUid), queries.map((query) => query.afterSeq), queries.map((query) => query.deviceId ?? null),
      queries.map((query) => query.limit), Math.max(...queries.map((query) => query.now))])
    const pages = queries.map((): StoredMessage[] => [])
    for (const row of rows) {
      const i = toNumber(row[0]) - 1
      pages[i]?.push(toReceiverMessageFromValues((queries[i] as PageQuery).receiverUid, row.slice(1)))
    }
    return pages
  }, PAGES_PER_STATEMENT, concurrency, undefined, laneOf === undefined ? undefined : (query) => laneOf(query.receiverUid))
  return {
    alone,
    /**
     * A read that may share a statement with the reads that arrive with it, when it is a waiting request's of any
     * sender; any other alone. Together, the wake-ups of a burst cost a statement for up to 50; pages of 100 for
     * callers that do not wait were slower together, as one backend then reads what eight would have read side by
     * side (both measured: bench/README.md, "Waiting pages read together").
     */
    together: async (query: PageQuery): Promise<StoredMessage[]> =>
      query.waiting === true && query.senderUid === undefined ? (await batched([query]))[0] as StoredMessage[] : await alone(query)
  }
}
