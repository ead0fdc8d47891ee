// Reads: the lazy-load summary, pages of pending messages (held while empty, with waitSeconds), one message, and the
// pending total. Reads never delete,
// except that a summary first removes its receiver's expired messages, so that it counts them as lost.
import { decodeCursor, encodeCursor } from './cursor.js'
import { checkReader } from './devices.js'
import { domainErrors } from './errors.js'
import { isDue } from './expiry.js'
import type { PageRequest, PageResult, StoredMessage, SummaryQuery, SummaryResult } from './model.js'
import type { Waiters } from './waiting.js'
import type { DomainContext } from './context.js'

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
      const read = async (): Promise<PageResult> => {
        const rows = await store.page({ receiverUid, deviceId, senderUid, afterSeq, limit: limit + 1, now: clock() })
        // An empty page may be a read of the wrong reader: only then are the receiver's devices looked at.
        if (rows.length === 0) await checkReader(store, receiverUid, deviceId)
        const messages = rows.slice(0, limit)
        const last = messages[messages.length - 1]
        return { messages, nextCursor: encodeCursor('messages', last === undefined ? afterSeq : last.seq), hasMore: rows.length > limit }
      }
      if (waitSeconds <= 0) return await read()
      // Real time, not the service's clock: it bounds how long a caller is held.
      const deadline = Date.now() + waitSeconds * 1000
      for (;;) {
        // Watched before the read, so that a commit between the read and the wait is not missed.
        const watch = waiters.watch(receiverUid, senderUid)
        let page: PageResult
        try {
          page = await read()
        } catch (error) {
          watch.cancel()
          throw error
        }
        const remaining = deadline - Date.now()
        if (page.messages.length > 0 || remaining <= 0) {
          watch.cancel()
          return page
        }
        // Woken by a commit for this receiver (maybe of another sender): read again; otherwise the empty page.
        if (await watch.wait(remaining, hangup) !== 'notified') return page
      }
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
