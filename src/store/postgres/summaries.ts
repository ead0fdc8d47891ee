// Summary reads on PostgreSQL: one in one statement on its node's pool, or several that arrive together in one
// statement (SQL.summaries) on DATABASE_URL's pool (on Citus, of one node, as a statement per shard: nodeReads).
import { RECEIVER } from '../columns.js'
import { toNullableNumber, toNumber, toReceiverStateFromValues, toSummaryRowFromValuesAt } from '../row-mapper.js'
import type { SummaryView } from '../types.js'
import { createReadBatches, type ReadPools } from './read-batches.js'
import { SQL } from './statements.js'

export interface SummaryRead { receiverUid: string, deviceId: string | undefined, beforeSortSeq: number | null, limit: number }

// Summary reads in one statement at most.
const SUMMARIES_PER_STATEMENT = 50

/**
 * A summary read from its statement's rows: the receiver's columns, then (with `deviceColumns`) a device's slot and
 * pending count, then the row's, NULL when the reader has no summary rows. No rows: an unknown receiver.
 */
function toSummaryView (rows: readonly unknown[][], deviceId: string | undefined, deviceColumns: boolean): SummaryView {
  const [first] = rows
  if (first === undefined) return { receiver: undefined, rows: [] }
  const receiver = toReceiverStateFromValues(first)
  const at = RECEIVER.length + (deviceColumns ? 2 : 0)
  const summaryRows = rows.filter((row) => row[at] !== null).map((row) => toSummaryRowFromValuesAt(row, at))
  if (deviceId === undefined) return { receiver, rows: summaryRows }
  const slot = toNullableNumber(first[RECEIVER.length])
  return { receiver, rows: summaryRows, device: { slot, pendingCount: toNumber(first[RECEIVER.length + 1]) } }
}

/** Summary reads, alone as `reads.readsOf` reads the receiver, or together (read-batches.ts). */
export function createSummaryReads (reads: ReadPools) {
  /** One summary read in one statement (summaryOfDevice's rows have a device's slot and count after the receiver's). */
  const alone = async (read: SummaryRead): Promise<SummaryView> => {
    const values = [read.receiverUid, read.beforeSortSeq ?? Number.MAX_SAFE_INTEGER, read.limit]
    const receiverPool = reads.readsOf(read.receiverUid)
    const rows = read.deviceId === undefined ? await receiverPool.arrays(SQL.summary, values) : await receiverPool.arrays(SQL.summaryOfDevice, [...values, read.deviceId])
    return toSummaryView(rows, read.deviceId, read.deviceId !== undefined)
  }
  // Together, in one statement (SQL.summaries): under load a read costs a fraction of a round trip, as a store does in
  // its group. A read alone goes at once, in its own statement.
  const together = createReadBatches(reads, SUMMARIES_PER_STATEMENT, alone, (batch: readonly SummaryRead[]) => ({
    sql: SQL.summaries,
    values: [batch.map((read) => read.receiverUid), batch.map((read) => read.deviceId ?? null),
      batch.map((read) => read.beforeSortSeq ?? Number.MAX_SAFE_INTEGER), batch.map((read) => read.limit)]
  }), (read, rows) => toSummaryView(rows, read.deviceId, true))
  return {
    alone,
    /** A read that may share a statement with the reads that arrive with it. */
    together
  }
}
