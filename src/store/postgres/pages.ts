// Page reads on PostgreSQL: one in one statement on its node's pool, or, for requests that wait (wait_seconds), of any
// sender, several that arrive together in one statement (SQL.pages) on DATABASE_URL's pool (on Citus, of one node, as
// a statement per shard: nodeReads), as summary reads do (summaries.ts).
import type { StoredMessage } from '../../domain/model.js'
import { toReceiverMessageFromValues } from '../row-mapper.js'
import type { PageQuery } from '../types.js'
import { createReadBatches, type ReadPools } from './read-batches.js'
import { SQL } from './statements.js'

// Page reads in one statement at most: up to 50 x (limit + 1) rows.
const PAGES_PER_STATEMENT = 50

/** Page reads, alone as `reads.readsOf` reads the receiver, or together (read-batches.ts). */
export function createPageReads (reads: ReadPools) {
  const alone = async (query: PageQuery): Promise<StoredMessage[]> => {
    const values: unknown[] = [query.receiverUid, query.afterSeq, query.now, query.limit]
    if (query.deviceId !== undefined) values.push(query.deviceId)
    if (query.senderUid !== undefined) values.push(query.senderUid)
    const statement = query.deviceId === undefined
      ? (query.senderUid === undefined ? SQL.page : SQL.pageOfSender)
      : (query.senderUid === undefined ? SQL.pageOfDevice : SQL.pageOfDeviceAndSender)
    return (await reads.readsOf(query.receiverUid).arrays(statement, values)).map((row) => toReceiverMessageFromValues(query.receiverUid, row))
  }
  // Together: the held requests a commit wakes, and their callers' next requests, arrive in bursts, and read a message
  // or none. The batch reads at the latest of their times (a message that expired meanwhile is not shown, as it would
  // not be a moment later).
  const batched = createReadBatches(reads, PAGES_PER_STATEMENT, alone, (queries: readonly PageQuery[]) => ({
    sql: SQL.pages,
    values: [queries.map((query) => query.receiverUid), queries.map((query) => query.afterSeq), queries.map((query) => query.deviceId ?? null),
      queries.map((query) => query.limit), Math.max(...queries.map((query) => query.now))]
  }), (query, rows) => rows.map((row) => toReceiverMessageFromValues(query.receiverUid, row)))
  return {
    alone,
    /**
     * A read that may share a statement with the reads that arrive with it, when it is a waiting request's of any
     * sender; any other alone. Together, the wake-ups of a burst cost a statement for up to 50; pages of 100 for
     * callers that do not wait were slower together, as one backend then reads what eight would have read side by
     * side (both measured: bench/README.md, "Waiting pages read together").
     */
    together: async (query: PageQuery): Promise<StoredMessage[]> =>
      query.waiting === true && query.senderUid === undefined ? await batched(query) : await alone(query)
  }
}
