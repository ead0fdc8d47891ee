// Reads: the lazy-load summary, pages of pending messages, one message, and the pending total. Reads never delete,
// except that a summary first removes its receiver's expired messages, so that it counts them as lost.
import { decodeCursor, encodeCursor } from './cursor.js'
import { domainErrors } from './errors.js'
import { isDue } from './expiry.js'
import type { PageRequest, PageResult, StoredMessage, SummaryQuery, SummaryResult } from './model.js'
import type { DomainContext } from './writes.js'

export function createReads ({ store, clock }: DomainContext, purgeNow: (receiverUid: string, now: number) => Promise<void>) {
  return {
    async summary ({ receiverUid, limit, cursor }: SummaryQuery): Promise<SummaryResult> {
      const before = cursor === undefined ? null : decodeCursor('senders', cursor)
      const now = clock()
      let view = await store.summary(receiverUid, before, limit + 1)
      if (isDue(view.receiver, now)) {
        await purgeNow(receiverUid, now)
        view = await store.summary(receiverUid, before, limit + 1)
      }
      const { receiver, rows } = view
      if (receiver === undefined) return { receiverUid, totalPending: 0, senders: [], nextCursor: null }
      const senders = rows.slice(0, limit)
      const last = senders[senders.length - 1]
      return {
        receiverUid,
        totalPending: receiver.pendingCount,
        senders,
        nextCursor: rows.length > limit && last !== undefined ? encodeCursor('senders', last.sortSeq) : null
      }
    },

    async page ({ receiverUid, senderUid, limit, cursor }: PageRequest): Promise<PageResult> {
      const afterSeq = cursor === undefined ? 0 : decodeCursor('messages', cursor)
      const rows = await store.page({ receiverUid, senderUid, afterSeq, limit: limit + 1, now: clock() })
      const messages = rows.slice(0, limit)
      const last = messages[messages.length - 1]
      return {
        messages,
        nextCursor: encodeCursor('messages', last === undefined ? afterSeq : last.seq),
        hasMore: rows.length > limit
      }
    },

    async get (receiverUid: string, msgId: string): Promise<StoredMessage> {
      const message = await store.findPendingLive(receiverUid, msgId, clock())
      if (message === undefined) throw domainErrors.messageNotFound(msgId)
      return message
    },

    totalPending: (): Promise<number> => store.totalPending(clock())
  }
}
