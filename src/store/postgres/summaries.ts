// Summary reads on PostgreSQL: one in one statement on its node's pool, or several that arrive together in one
// statement (SQL.summaries) on DATABASE_URL's pool (on Citus, of one shard, on its node).
import { createBatcher } from '../../lib/batcher.js'
import { RECEIVER } from '../columns.js'
import { toNullableNumber, toNumber, toReceiverStateFromValues, toSummaryRowFromValuesAt } from '../row-mapper.js'
import type { SummaryView } from '../types.js'
import type { Queries } from './pool.js'
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

/**
 * Summary reads on `pool`, or alone as `readsOf` reads that receiver; `concurrency`: the read connections of the pool.
 * With `laneOf` (Citus: a receiver's shard), the reads that go together are of one lane, read as `readsOf` reads them.
 */
export function createSummaryReads (pool: Queries, readsOf: (receiverUid: string) => Queries, concurrency: number, laneOf?: (receiverUid: string) => string) {
  /** One summary read in one statement (summaryOfDevice's rows have a device's slot and count after the receiver's). */
  const alone = async (read: SummaryRead): Promise<SummaryView> => {
    const values = [read.receiverUid, read.beforeSortSeq ?? Number.MAX_SAFE_INTEGER, read.limit]
    const receiverPool = readsOf(read.receiverUid)
    const rows = read.deviceId === undefined ? await receiverPool.arrays(SQL.summary, values) : await receiverPool.arrays(SQL.summaryOfDevice, [...values, read.deviceId])
    return toSummaryView(rows, read.deviceId, read.deviceId !== undefined)
  }
  // Summary reads that arrive while the pool's read connections are all busy wait for the next free one and go
  // together, in one statement (SQL.summaries): under load a read costs a fraction of a round trip, as a store does in
  // its group. A read alone goes at once, in its own statement. With lanes (Citus), only reads of one lane go together.
  const batched = createBatcher(async (reads: readonly SummaryRead[]): Promise<SummaryView[]> => {
    const [first] = reads as [SummaryRead]
    if (reads.length === 1) return [await alone(first)]
    const rows = await (laneOf === undefined ? pool : readsOf(first.receiverUid)).arrays(SQL.summaries, [
      reads.map((read) => read.receiverUid), reads.map((read) => read.deviceId ?? null),
      reads.map((read) => read.beforeSortSeq ?? Number.MAX_SAFE_INTEGER), reads.map((read) => read.limit)])
    const byRead = reads.map((): unknown[][] => [])
    for (const row of rows) byRead[toNumber(row[0]) - 1]?.push(row.slice(1))
    return reads.map((read, i) => toSummaryView(byRead[i] ?? [], read.deviceId, true))
  }, SUMMARIES_PER_STATEMENT, concurrency, undefined, laneOf === undefined ? undefined : (read) => laneOf(read.receiverUid))
  return {
    alone,
    /** A read that may share a statement with the reads that arrive with it. */
    together: async (read: SummaryRead): Promise<SummaryView> => (await batched([read]))[0] as SummaryView
  }
}
