// Summary rows: the row of each (receiver, reader, sender), its preview, its pending and lost counts.
import { mapKey } from '../lib/map-key.js'
import type { ReceiverKey, StoreTx, SummaryRowKey } from '../store/types.js'
import type { LastMessage, ReceiverState, RemovedMessage, StoredMessage, SummaryRow } from './model.js'
import { readerList } from './readers.js'

/** The summary shows this many Unicode code points of the latest message's content. */
export const PREVIEW_LENGTH = 100

/** The content cut to PREVIEW_LENGTH code points (never inside a surrogate pair). */
export function previewOf (content: string): string {
  if (content.length <= PREVIEW_LENGTH) return content
  let end = 0
  for (let points = 0; points < PREVIEW_LENGTH && end < content.length; points++) end += (content.codePointAt(end) ?? 0) > 0xffff ? 2 : 1
  return content.slice(0, end)
}

/** What a summary row keeps of its sender's latest pending message. */
const lastOf = (message: StoredMessage): LastMessage =>
  ({ seq: message.seq, sendTime: message.sendTime, msgType: message.msgType, preview: previewOf(message.content) })

/** The sender's row of a reader once `message` is stored: one more pending, and the new message is its latest. */
export function withStored (row: SummaryRow | undefined, message: StoredMessage, reader: number): SummaryRow {
  return {
    receiverUid: message.receiverUid,
    reader,
    senderUid: message.senderUid,
    pendingCount: (row?.pendingCount ?? 0) + 1,
    last: lastOf(message),
    sortSeq: message.seq,
    lostCount: row?.lostCount ?? 0,
    lostSeq: row?.lostSeq ?? null
  }
}

/** Why messages left: acked (the lost count resets), lost (it grows), or withdrawn by their sender or a newer message of their collapse key (it stays). */
export type Removal = 'ack' | 'lost' | 'withdrawn'

/** The row once `removed` (all of its sender) left it: acked ones reset the lost count, lost ones add to it. */
function withRemoved (row: SummaryRow, removed: readonly RemovedMessage[], reason: Removal): SummaryRow {
  const next: SummaryRow = { ...row, pendingCount: row.pendingCount - removed.length }
  if (reason === 'lost') {
    next.lostCount += removed.length
    next.lostSeq = Math.max(next.lostSeq ?? 0, ...removed.map((message) => message.seq))
  } else if (reason === 'ack') {
    next.lostCount = 0
    next.lostSeq = null
  }
  return next
}

/** The removed messages grouped by the summary row they leave, under its map key: one row per reader they left. */
function bySummaryRow (removed: readonly RemovedMessage[]): Map<string, { key: SummaryRowKey, removed: RemovedMessage[] }> {
  const groups = new Map<string, { key: SummaryRowKey, removed: RemovedMessage[] }>()
  for (const message of removed) {
    for (const reader of readerList(message.readers)) {
      const id = mapKey(message.receiverUid, reader, message.senderUid)
      const group = groups.get(id)
      if (group === undefined) groups.set(id, { key: [message.receiverUid, reader, message.senderUid], removed: [message] })
      else group.removed.push(message)
    }
  }
  return groups
}

/** A summary row's key: (receiver, reader, sender). */
const summaryRowKeyOf = (row: SummaryRow): SummaryRowKey => [row.receiverUid, row.reader, row.senderUid]

/**
 * Summary rows a caller has already read: `known`, every row of the removed messages' senders there is (none is read
 * again); `cleared`, rows whose lost count an ack dismisses.
 */
export interface KnownRows {
  known?: readonly SummaryRow[]
  cleared?: readonly SummaryRow[]
}

/**
 * Updates the summary rows and the receivers' counts after pending messages left: acked, or lost (expired or dropped).
 * However many receivers and senders, it reads the rows in one statement (none when they are known), the senders' new
 * latest messages in one more, and writes them back in one upsert and one delete.
 */
export async function applyRemoval (
  tx: StoreTx, receivers: ReadonlyMap<string, ReceiverState>, removed: readonly RemovedMessage[], reason: Removal, { known, cleared = [] }: KnownRows = {}
): Promise<void> {
  const groups = bySummaryRow(removed)
  const rows = new Map<string, SummaryRow>()
  for (const row of cleared) rows.set(mapKey(...summaryRowKeyOf(row)), { ...row, lostCount: 0, lostSeq: null })
  const add = (row: SummaryRow): void => {
    const id = mapKey(...summaryRowKeyOf(row))
    // A cleared row is the same row, read in the same statement, with its losses already dismissed; a row of a reader
    // the messages did not leave stays as it is.
    if (!rows.has(id) && groups.has(id)) rows.set(id, row)
  }
  if (known !== undefined) {
    known.forEach(add)
  } else {
    const missing = new Map<string, ReceiverKey>()
    for (const [id, { key: [receiverUid, , senderUid] }] of groups) if (!rows.has(id)) missing.set(mapKey(receiverUid, senderUid), [receiverUid, senderUid])
    if (missing.size > 0) (await tx.findSummaryRows([...missing.values()])).forEach(add)
  }

  const needLatest: SummaryRow[] = []
  for (const [id, group] of groups) {
    const row = rows.get(id)
    if (row === undefined) continue
    const next = withRemoved(row, group.removed, reason)
    if (group.removed.some((message) => message.seq === row.last?.seq)) {
      next.last = null
      if (next.pendingCount > 0) needLatest.push(next)
    }
    rows.set(id, next)
  }
  if (needLatest.length > 0) {
    const found = await tx.lastPendingOfSenders(needLatest.map(summaryRowKeyOf))
    const latest = new Map(found.map(({ reader, message }) => [mapKey(message.receiverUid, reader, message.senderUid), message]))
    for (const row of needLatest) {
      const message = latest.get(mapKey(...summaryRowKeyOf(row)))
      row.last = message === undefined ? null : lastOf(message)
    }
  }

  const keep: SummaryRow[] = []
  const drop: SummaryRowKey[] = []
  for (const row of rows.values()) {
    // With nothing pending, the row keeps its place in the summary at the seq of its last message.
    if (row.last !== null) row.sortSeq = row.last.seq
    if (row.pendingCount === 0 && row.lostCount === 0) drop.push(summaryRowKeyOf(row))
    else keep.push(row)
  }
  if (keep.length > 0) await tx.saveSummaryRows(keep)
  if (drop.length > 0) await tx.deleteSummaryRows(drop)
  // The quota counts stored messages: one leaves it only once no reader has it pending.
  for (const message of removed) {
    const receiver = receivers.get(message.receiverUid)
    if (receiver !== undefined && message.remaining === 0) receiver.pendingCount -= 1
  }
}
