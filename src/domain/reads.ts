// Reads: the lazy-load summary, pages of pending messages (held while empty, with waitSeconds), one message, and the
// pending total. Reads never delete,
// except that a summary first removes its receiver's expired messages, so that it counts them as lost.
import { decodeCursor, encodeCursor } from './cursor.js'
import { checkReader } from './devices.js'
import { domainErrors } from './errors.js'
import { isDue } from './expiry.js'
import type { PageRequest, PageResult, StoredMessage, SummaryQuery, SummaryResult } from './model.js'
import { readOrHold, type Waiters } from './waiting.js'
import type { DomainContext } from './context.js'

const emptyPage = (page: PageResult): boolean => page.messages.length === 0

export function createReads ({ store, clock }: DomainContext, waiters: Waiters, purgeNow: (receiverUid: string, now: number) => Promise<void>) {
  return {
    async summary ({ receiverUid, deviceId, limit, cursor }: SummaryQuery): Promise<SummaryResult> {
      const before = cursor === undefined ? null : decodeCursor('senders', cursor)
      const now = clock()
      let view = await store.summary(receiverUid, deviceId, before, limit + 1)
      if (isDue(view.receiver, now)) {
        await purgeNow(receiverUid, now)
        view = await store.summary(receiverUid, deviceId, before, limit + 1)
      }
      const { receiver, rows, device } = view
      if (deviceId !== undefined && (device?.slot ?? null) === null) throw domainErrors.deviceNotFound(receiverUid, deviceId)
      if (receiver === undefined) return { receiverUid, totalPending: 0, senders: [], nextCursor: null }
      if (deviceId === undefined && receiver.devices !== 0) throw domainErrors.deviceRequired(receiverUid)
      const senders = rows.slice(0, limit)
      const last = senders[senders.length - 1]
      return {
        receiverUid,
        totalPending: device?.pendingCount ?? receiver.pendingCount,
        senders,
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor('senders', last.sortSeq) : null
      }
    },

    async page ({ receiverUid, deviceId, senderUid, limit, cursor, waitSeconds = 0, hangup }: PageRequest): Promise<PageResult> {
      const afterSeq = cursor === undefined ? 0 : decodeCursor('messages', cursor)
      const waiting = waitSeconds > 0
      const read = async (): Promise<PageResult> => {
        const rows = await store.page({ receiverUid, deviceId, senderUid, afterSeq, limit: limit + 1, now: clock(), waiting })
        // An empty page may be a read of the wrong reader: only then are the receiver's devices looked at.
        if (rows.length === 0) await checkReader(store, receiverUid, deviceId)
        const messages = rows.slice(0, limit)
        const last = messages[messages.length - 1]
        return { messages, nextCursor: encodeCursor('messages', last === undefined ? afterSeq : last.seq), hasMore: rows.length > limit }
      }
      if (waitSeconds <= 0) return await read()
      // Woken by a commit for this receiver (maybe of another sender): read again. Returned, not awaited: this frame
      // ends here, and a held request keeps only readOrHold's (bench/README.md, "Where a held request's memory is").
      return readOrHold(read, emptyPage, () => waiters.watch(receiverUid, senderUid), waitSeconds, hangup)
    },

    async get (receiverUid: string, msgId: string, deviceId?: string): Promise<StoredMessage> {
      const message = await store.findPendingLive(receiverUid, msgId, clock(), deviceId)
      if (message !== undefined) return message
      await checkReader(store, receiverUid, deviceId)
      throw domainErrors.messageNotFound(msgId)
    },

    totalPending: (): Promise<number> => store.totalPending(clock())
  }
}
