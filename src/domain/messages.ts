// The rules of the service: dedup, tombstones, quota and overflow, TTL and lost counts, seq, summary and pages.
import { v7 as uuidv7 } from 'uuid'
import { errors } from '../errors.js'
import type {
  AckSelector, Conversation, LastMessage, MessageKey, ReceiverKey, ReceiverState, Store, StoredMessage, StoreTx, SummaryRow, Tombstone
} from '../store/types.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { createGroupCommit } from './group-commit.js'
import { parseDateTime } from './time.js'

export interface MessageRules {
  messageTtlSeconds: number
  maxPendingPerReceiver: number
  overflowPolicy: 'reject' | 'drop_oldest'
  dedupWindowSeconds: number
  sweepBatchSize: number
}

/** Counts reported after each commit (for metrics); never called for work that rolled back. */
export interface MessageEvents {
  stored (count: number): void
  duplicates (count: number): void
  acked (count: number): void
  expired (count: number): void
  dropped (count: number): void
}

export interface NewMessageInput {
  receiver_uid: string
  sender_uid: string
  msg_id?: string | undefined
  msg_type: number
  content: string
  send_time?: string | undefined
  ttl_seconds?: number | undefined
}

export type StoreStatus = 'stored' | 'duplicate' | 'conflict' | 'inbox_full'

export interface StoreOutcome {
  status: StoreStatus
  msgId: string
  message: StoredMessage | null
}

export interface SummaryResult {
  receiverUid: string
  totalPending: number
  senders: SummaryRow[]
  nextCursor: string | null
}

export interface PageResult {
  messages: StoredMessage[]
  nextCursor: string
  hasMore: boolean
}

interface Prepared {
  receiverUid: string
  senderUid: string
  msgId: string
  msgType: number
  content: string
  sendTime: number | null
  ttlSeconds: number
}

interface Tally { stored: number, duplicates: number, acked: number, expired: number, dropped: number }

const newTally = (): Tally => ({ stored: 0, duplicates: 0, acked: 0, expired: 0, dropped: 0 })
// The store path purges a receiver's expired messages completely: its quota and summary must be exact.
const NO_LIMIT = 1_000_000_000
/** The summary shows this many Unicode code points of the latest message's content. */
export const PREVIEW_LENGTH = 100
// At most this many messages share one transaction (one full request of the batch endpoint), which bounds how long it holds the event loop.
const GROUP_COMMIT_MAX_ITEMS = 500
const FORBIDDEN_CHARACTERS = /[\u0000]|[\uD800-\uDFFF]/u // eslint-disable-line no-control-regex

/** Checks what a schema cannot say; `where` is the JSON path of the message in the request body. */
export function checkNewMessage (input: NewMessageInput, where: string): void {
  if (FORBIDDEN_CHARACTERS.test(input.content)) {
    throw errors.invalid(`${where}/content must be valid Unicode without U+0000 and without lone surrogates`)
  }
  if (input.send_time !== undefined && parseDateTime(input.send_time) === null) {
    throw errors.invalid(`${where}/send_time must be an RFC 3339 date-time with a zone, like 2026-11-27T04:36:55.123Z`)
  }
}

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

const samePayload = (a: StoredMessage, b: Prepared): boolean =>
  a.senderUid === b.senderUid && a.msgType === b.msgType && a.content === b.content

export function createMessageService (store: Store, rules: MessageRules, events: MessageEvents, clock: () => number = Date.now) {
  const ttlMillis = (seconds: number) => seconds * 1000

  function report (tally: Tally): void {
    if (tally.stored > 0) events.stored(tally.stored)
    if (tally.duplicates > 0) events.duplicates(tally.duplicates)
    if (tally.acked > 0) events.acked(tally.acked)
    if (tally.expired > 0) events.expired(tally.expired)
    if (tally.dropped > 0) events.dropped(tally.dropped)
  }

  /** Runs a write transaction and reports its counts only once it has committed. */
  async function write<T> (fn: (tx: StoreTx, tally: Tally) => Promise<T>): Promise<T> {
    const tally = newTally()
    const result = await store.transaction((tx) => fn(tx, tally))
    report(tally)
    return result
  }

  /** Updates the summary rows after pending messages left: acked, or lost (expired or dropped). */
  async function forgetPending (tx: StoreTx, receiver: ReceiverState, removed: MessageKey[], reason: 'ack' | 'lost'): Promise<void> {
    const bySender = new Map<string, MessageKey[]>()
    for (const key of removed) bySender.set(key.senderUid, [...(bySender.get(key.senderUid) ?? []), key])
    for (const [senderUid, keys] of bySender) {
      const conversation = await tx.findConversation(receiver.receiverUid, senderUid)
      if (conversation === undefined) continue
      const next: Conversation = { ...conversation, pendingCount: conversation.pendingCount - keys.length }
      if (reason === 'lost') {
        next.lostCount += keys.length
        next.lostSeq = Math.max(next.lostSeq ?? 0, ...keys.map((key) => key.seq))
      } else {
        next.lostCount = 0
        next.lostSeq = null
      }
      if (keys.some((key) => key.seq === conversation.last?.seq)) {
        const latest = next.pendingCount > 0 ? await tx.lastPendingOfSender(receiver.receiverUid, senderUid) : undefined
        next.last = latest === undefined ? null : lastOf(latest)
      }
      // With nothing pending, the row keeps its place in the summary at the seq of its last message.
      if (next.last !== null) next.sortSeq = next.last.seq
      if (next.pendingCount === 0 && next.lostCount === 0) await tx.deleteConversation(receiver.receiverUid, senderUid)
      else await tx.saveConversations([next])
    }
    receiver.pendingCount -= removed.length
  }

  /** Whether a receiver may hold expired messages: nextExpiry is a lower bound of its earliest expiry. */
  const isDue = (receiver: ReceiverState | undefined, now: number): boolean =>
    receiver !== undefined && receiver.nextExpiry !== null && receiver.nextExpiry <= now

  /** Deletes a locked receiver's expired messages (no tombstone: their ids may be stored again) and counts them lost. */
  async function purgeExpired (tx: StoreTx, receiver: ReceiverState, now: number, tally: Tally, limit: number): Promise<void> {
    if (!isDue(receiver, now)) return
    const expired = await tx.expiredPending(receiver.receiverUid, now, limit)
    if (expired.length > 0) {
      await tx.removePending(receiver.receiverUid, expired.map((key) => key.seq), null, now)
      await forgetPending(tx, receiver, expired, 'lost')
      tally.expired += expired.length
    }
    // A full batch may have left more behind: keep the receiver due so the sweep comes back.
    if (expired.length < limit) receiver.nextExpiry = await tx.earliestExpiry(receiver.receiverUid)
  }

  /** Locks receivers in one global (sorted) order, so that writers never deadlock, and purges their expired messages. */
  async function lockAndPurge (tx: StoreTx, receiverUids: readonly string[], now: number, tally: Tally): Promise<Map<string, ReceiverState>> {
    const receivers = await tx.lockReceivers([...new Set(receiverUids)].sort())
    for (const receiver of receivers) await purgeExpired(tx, receiver, now, tally, NO_LIMIT)
    return new Map(receivers.map((receiver) => [receiver.receiverUid, receiver]))
  }

  async function lockAndPurgeOne (tx: StoreTx, receiverUid: string, now: number, tally: Tally): Promise<ReceiverState> {
    return (await lockAndPurge(tx, [receiverUid], now, tally)).get(receiverUid) as ReceiverState
  }

  /**
   * What a group's transaction reads of its receivers once, up front, and writes once, at the end: the pending
   * messages and tombstones with the group's msg_ids, and the summary rows of its senders. A group then costs a
   * few statements, not several per message.
   */
  interface GroupState {
    pending: Map<string, StoredMessage>
    tombstones: Map<string, Tombstone>
    conversations: Map<string, Conversation | undefined>
    changed: Set<string>
    inserts: StoredMessage[]
  }

  const key = (receiverUid: string, id: string) => `${receiverUid}\u0000${id}`

  async function readGroup (tx: StoreTx, items: readonly Prepared[]): Promise<GroupState> {
    const state: GroupState = { pending: new Map(), tombstones: new Map(), conversations: new Map(), changed: new Set(), inserts: [] }
    const unique = (pairs: ReceiverKey[]): ReceiverKey[] => [...new Map(pairs.map((pair) => [key(...pair), pair])).values()]
    const messageKeys = unique(items.map((item) => [item.receiverUid, item.msgId]))
    const conversationKeys = unique(items.map((item) => [item.receiverUid, item.senderUid]))
    for (const message of await tx.findPendingByIds(messageKeys)) state.pending.set(key(message.receiverUid, message.msgId), message)
    for (const tombstone of await tx.findTombstonesByIds(messageKeys)) {
      state.tombstones.set(key(tombstone.message.receiverUid, tombstone.message.msgId), tombstone)
    }
    for (const pair of conversationKeys) state.conversations.set(key(...pair), undefined)
    for (const conversation of await tx.findConversations(conversationKeys)) {
      state.conversations.set(key(conversation.receiverUid, conversation.senderUid), conversation)
    }
    return state
  }

  /** Writes what the group has stored so far. */
  async function flushGroup (tx: StoreTx, state: GroupState): Promise<void> {
    await tx.insertMessages(state.inserts)
    const changed = [...state.changed].map((id) => state.conversations.get(id)).filter((row) => row !== undefined)
    await tx.saveConversations(changed)
    state.inserts = []
    state.changed.clear()
  }

  async function storeOne (tx: StoreTx, state: GroupState, receiver: ReceiverState, item: Prepared, now: number, tally: Tally): Promise<StoreOutcome> {
    const messageKey = key(item.receiverUid, item.msgId)
    let existing = state.pending.get(messageKey)
    const tombstone = state.tombstones.get(messageKey)
    if (existing === undefined && tombstone !== undefined) {
      if (tombstone.purgeAt > now) {
        existing = tombstone.message
      } else {
        // Past the dedup window the id is free again.
        await tx.deleteTombstone(item.receiverUid, item.msgId)
        state.tombstones.delete(messageKey)
      }
    }
    if (existing !== undefined) {
      if (!samePayload(existing, item)) return { status: 'conflict', msgId: item.msgId, message: existing }
      tally.duplicates++
      return { status: 'duplicate', msgId: item.msgId, message: existing }
    }

    while (receiver.pendingCount >= rules.maxPendingPerReceiver) {
      if (rules.overflowPolicy === 'reject') return { status: 'inbox_full', msgId: item.msgId, message: null }
      // Dropping works on what is in the database: write the group's stores first, and read the rows again after.
      await flushGroup(tx, state)
      const oldest = await tx.oldestPending(item.receiverUid)
      if (oldest === undefined) break
      await tx.removePending(item.receiverUid, [oldest.seq], null, now)
      await forgetPending(tx, receiver, [oldest], 'lost')
      state.pending.delete(key(item.receiverUid, oldest.msgId))
      state.conversations.set(key(item.receiverUid, oldest.senderUid), await tx.findConversation(item.receiverUid, oldest.senderUid))
      tally.dropped++
    }

    receiver.lastSeq += 1
    const message: StoredMessage = {
      receiverUid: item.receiverUid,
      seq: receiver.lastSeq,
      msgId: item.msgId,
      senderUid: item.senderUid,
      msgType: item.msgType,
      content: item.content,
      sendTime: item.sendTime ?? now,
      storedAt: now,
      expiresAt: now + ttlMillis(item.ttlSeconds)
    }
    state.inserts.push(message)
    state.pending.set(messageKey, message)
    const conversationKey = key(item.receiverUid, item.senderUid)
    const conversation = state.conversations.get(conversationKey)
    state.conversations.set(conversationKey, {
      receiverUid: item.receiverUid,
      senderUid: item.senderUid,
      pendingCount: (conversation?.pendingCount ?? 0) + 1,
      last: lastOf(message),
      sortSeq: message.seq,
      lostCount: conversation?.lostCount ?? 0,
      lostSeq: conversation?.lostSeq ?? null
    })
    state.changed.add(conversationKey)
    receiver.pendingCount += 1
    receiver.nextExpiry = Math.min(receiver.nextExpiry ?? Infinity, message.expiresAt)
    tally.stored++
    return { status: 'stored', msgId: item.msgId, message }
  }

  function prepare (input: NewMessageInput): Prepared {
    return {
      receiverUid: input.receiver_uid,
      senderUid: input.sender_uid,
      msgId: input.msg_id ?? uuidv7(),
      msgType: input.msg_type,
      content: input.content,
      sendTime: input.send_time === undefined ? null : parseDateTime(input.send_time),
      ttlSeconds: Math.min(input.ttl_seconds ?? rules.messageTtlSeconds, rules.messageTtlSeconds)
    }
  }

  /** Stores messages in one transaction, in input order; receivers are locked in one global order so that writers never deadlock. */
  async function commitStores (items: readonly Prepared[]): Promise<StoreOutcome[]> {
    const now = clock()
    return await write(async (tx, tally) => {
      const receivers = await lockAndPurge(tx, items.map((item) => item.receiverUid), now, tally)
      const state = await readGroup(tx, items)
      const outcomes: StoreOutcome[] = []
      for (const item of items) {
        const receiver = receivers.get(item.receiverUid) as ReceiverState
        outcomes.push(await storeOne(tx, state, receiver, item, now, tally))
      }
      await flushGroup(tx, state)
      await tx.saveReceivers([...receivers.values()])
      return outcomes
    })
  }

  const submitStores = createGroupCommit(commitStores, GROUP_COMMIT_MAX_ITEMS)

  /** Stores messages atomically, in input order; concurrent calls share a transaction (group commit). */
  async function storeMany (inputs: readonly NewMessageInput[]): Promise<StoreOutcome[]> {
    return await submitStores(inputs.map(prepare))
  }

  /** Removes a receiver's expired messages now, so that what is read next counts them as lost. */
  async function purgeNow (receiverUid: string, now: number): Promise<void> {
    await write(async (tx, tally) => {
      const locked = await lockAndPurgeOne(tx, receiverUid, now, tally)
      await tx.saveReceivers([locked])
    })
  }

  return {
    storeMany,

    async storeOne (input: NewMessageInput): Promise<StoreOutcome> {
      const [outcome] = await storeMany([input])
      return outcome as StoreOutcome
    },

    async summary (receiverUid: string, limit: number, cursor: string | undefined): Promise<SummaryResult> {
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

    async page (receiverUid: string, senderUid: string | undefined, limit: number, cursor: string | undefined): Promise<PageResult> {
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
      if (message === undefined) throw errors.messageNotFound(msgId)
      return message
    },

    /** Deletes the selected pending messages, leaving tombstones for late retries; answers how many it deleted. */
    async ack (receiverUid: string, selector: AckSelector): Promise<number> {
      if (await store.receiver(receiverUid) === undefined) return 0
      const now = clock()
      return await write(async (tx, tally) => {
        const receiver = await lockAndPurgeOne(tx, receiverUid, now, tally)
        const acked = await tx.selectForAck(receiverUid, selector, now)
        if (acked.length > 0) {
          const tombstoneUntil = rules.dedupWindowSeconds > 0 ? now + ttlMillis(rules.dedupWindowSeconds) : null
          await tx.removePending(receiverUid, acked.map((key) => key.seq), tombstoneUntil, now)
          await forgetPending(tx, receiver, acked, 'ack')
        }
        // Acking up to a seq also dismisses the losses it covers: the client has been told of them.
        if (selector.kind === 'up-to') await tx.clearLostUpTo(receiverUid, selector.upToSeq, selector.senderUid)
        await tx.saveReceivers([receiver])
        tally.acked += acked.length
        return acked.length
      })
    },

    /** One round of the periodic sweep: stale tombstones, then receivers with expired messages, each in a bounded transaction. */
    async sweep (): Promise<{ tombstones: number, receivers: number }> {
      const now = clock()
      const tombstones = await store.purgeTombstones(now, rules.sweepBatchSize)
      const due = await store.receiversDueForExpiry(now, rules.sweepBatchSize)
      for (const receiverUid of due) {
        await write(async (tx, tally) => {
          const [receiver] = await tx.lockReceivers([receiverUid]) as [ReceiverState]
          await purgeExpired(tx, receiver, now, tally, rules.sweepBatchSize)
          await tx.saveReceivers([receiver])
        })
      }
      return { tombstones, receivers: due.length }
    },

    totalPending: () => store.totalPending(clock())
  }
}

export type MessageService = ReturnType<typeof createMessageService>
