// Storing: group commit (write-queue.ts), dedup against pending messages and tombstones, the quota and its overflow policy, seq.
import { v7 as uuidv7 } from 'uuid'
import type { Collapsible, StoreTx } from '../store/types.js'
import { applyRemoval, withStored } from './summary-rows.js'
import { lockAndPurge } from './expiry.js'
import { mapKey } from '../lib/map-key.js'
import { flushGroup, groupKeys, readGroup, setSummaryRows, type GroupState, type MessageToStore } from './group-state.js'
import type { MessageRules, NewMessage, PendingMessage, ReceiverState, StoreOutcome, StoredMessage } from './model.js'
import { readerList, readersOf } from './readers.js'
import type { Waiters } from './waiting.js'
import { createWriteQueue } from './write-queue.js'
import { secondsToMillis, tombstoneUntil, type DomainContext, type Tally } from './context.js'
import { answerOf, keptAnswer, withdrawnOf } from './recall.js'

// At most this many messages share one transaction (one full request of the batch endpoint), which bounds how long it holds the event loop.
const GROUP_COMMIT_MAX_ITEMS = 500

const samePayload = (a: StoredMessage, b: MessageToStore): boolean =>
  a.senderUid === b.senderUid && a.msgType === b.msgType && a.content === b.content && a.collapseKey === b.collapseKey

/** The stored copy a retry of `item` would duplicate: pending, or a tombstone still in its dedup window. */
async function existingCopy (tx: StoreTx, state: GroupState, item: MessageToStore, now: number): Promise<StoredMessage | undefined> {
  const messageKey = mapKey(item.receiverUid, item.msgId)
  const pending = state.pending.get(messageKey)
  if (pending !== undefined) return pending
  const tombstone = state.tombstones.get(messageKey)
  if (tombstone === undefined) return undefined
  if (tombstone.purgeAt > now) return tombstone.message
  // Past the dedup window the id is free again.
  await tx.deleteTombstone(item.receiverUid, item.msgId)
  state.tombstones.delete(messageKey)
  return undefined
}

/** Frees a place for one more message: false under the reject policy, else drops the receiver's oldest as lost. */
async function makeRoom (tx: StoreTx, state: GroupState, receiver: ReceiverState, rules: MessageRules, tally: Tally, now: number): Promise<boolean> {
  const { receiverUid } = receiver
  while (receiver.pendingCount >= rules.maxPendingPerReceiver) {
    if (rules.overflowPolicy === 'reject') return false
    // Dropping works on what is in the database: write the group's stores first, and read the rows again after.
    await flushGroup(tx, state, now, tombstoneUntil(rules, now))
    const oldest = await tx.oldestPending(receiverUid)
    if (oldest === undefined) break
    await tx.removePending(receiverUid, [oldest.seq])
    await applyRemoval(tx, new Map([[receiverUid, receiver]]), [oldest], 'lost')
    state.pending.delete(mapKey(receiverUid, oldest.msgId))
    for (const [key, list] of state.collapsible) state.collapsible.set(key, list.filter((message) => message.receiverUid !== receiverUid || message.seq !== oldest.seq))
    setSummaryRows(state, receiver, oldest.senderUid, await tx.findSummaryRows([[receiverUid, oldest.senderUid]]))
    tally.dropped++
    tally.events.lost('message.dropped', [oldest], now)
  }
  return true
}

/**
 * Replaces the pending messages of a new message's receiver, sender and collapse key: each leaves its readers (its
 * summary rows count one less; the new message, of the same sender, becomes their latest next) and the quota, without
 * counting as lost, and is deleted at the group's next flush, leaving a tombstone that a recall of it answers from as
 * it would have then; one message.superseded event each.
 */
async function supersede (
  tx: StoreTx, state: GroupState, receiver: ReceiverState, replaced: readonly Collapsible[], now: number, purgeAt: number | null, tally: Tally
): Promise<void> {
  const { receiverUid } = receiver
  let devices = state.devices.get(receiverUid)
  if (devices === undefined) {
    devices = receiver.devices === 0 ? [] : await tx.findDevices([receiverUid])
    state.devices.set(receiverUid, devices)
  }
  for (const message of replaced) {
    for (const reader of readerList(message.readers)) {
      const summaryKey = mapKey(receiverUid, reader, message.senderUid)
      const row = state.summaryRows.get(summaryKey)
      if (row === undefined) continue
      state.summaryRows.set(summaryKey, { ...row, pendingCount: row.pendingCount - 1 })
      state.changed.add(summaryKey)
    }
    receiver.pendingCount -= 1
    const messageKey = mapKey(receiverUid, message.msgId)
    const stored = state.pending.get(messageKey)
    state.pending.delete(messageKey)
    if (stored !== undefined && purgeAt !== null) state.tombstones.set(messageKey, { message: stored, purgeAt })
    state.withdrawals.push({ message: withdrawnOf(message), recall: keptAnswer(answerOf(message.msgId, message.readers, message.storedAt, devices)) })
    tally.superseded++
  }
  tally.events.withdrawn('message.superseded', replaced, now)
}

/** The receivers that got a new message. */
function storedFor (outcomes: readonly StoreOutcome[]): string[] {
  return [...new Set(outcomes.flatMap((outcome) => outcome.status === 'stored' ? [outcome.message.receiverUid] : []))]
}

/** Adds the message to the group, pending for every reader of its receiver: its next seq, and its sender's summary rows. */
function addMessage (state: GroupState, receiver: ReceiverState, item: MessageToStore, now: number): PendingMessage {
  receiver.lastSeq += 1
  // The receiver, msg_id and payload as they came (a new payload field follows); the rest is the server's.
  const { sendTime, ttlSeconds, ...given } = item
  const message: PendingMessage = {
    ...given,
    seq: receiver.lastSeq,
    sendTime: sendTime ?? now,
    storedAt: now,
    expiresAt: now + secondsToMillis(ttlSeconds),
    readers: readersOf(receiver)
  }
  state.inserts.push(message)
  state.pending.set(mapKey(item.receiverUid, item.msgId), message)
  if (message.collapseKey !== null) {
    state.collapsible.set(mapKey(message.receiverUid, message.senderUid, message.collapseKey), [{ ...message, remaining: 0, collapseKey: message.collapseKey }])
  }
  for (const reader of readerList(message.readers)) {
    const summaryKey = mapKey(item.receiverUid, reader, item.senderUid)
    state.summaryRows.set(summaryKey, withStored(state.summaryRows.get(summaryKey), message, reader))
    state.changed.add(summaryKey)
  }
  receiver.pendingCount += 1
  receiver.nextExpiry = Math.min(receiver.nextExpiry ?? Infinity, message.expiresAt)
  return message
}

export function createStoring ({ store, rules, clock, write }: DomainContext, waiters: Waiters) {
  async function storeOne (tx: StoreTx, state: GroupState, receiver: ReceiverState, item: MessageToStore, now: number, tally: Tally): Promise<StoreOutcome> {
    const existing = await existingCopy(tx, state, item, now)
    if (existing !== undefined) {
      if (!samePayload(existing, item)) return { status: 'conflict', msgId: item.msgId, message: existing }
      tally.duplicates++
      return { status: 'duplicate', msgId: item.msgId, message: existing }
    }
    const collapsing = item.collapseKey === null ? undefined : mapKey(item.receiverUid, item.senderUid, item.collapseKey)
    const replaced = collapsing === undefined ? [] : state.collapsible.get(collapsing) ?? []
    // The quota counts what is left once the replaced messages go: a store that replaces one never lacks room for it.
    if (rules.overflowPolicy === 'reject' && receiver.pendingCount - replaced.length >= rules.maxPendingPerReceiver) {
      return { status: 'inbox_full', msgId: item.msgId, message: null }
    }
    if (collapsing !== undefined && replaced.length > 0) {
      await supersede(tx, state, receiver, replaced, now, tombstoneUntil(rules, now), tally)
      // Replaced: the message stored below takes their place (addMessage).
      state.collapsible.delete(collapsing)
    }
    if (!await makeRoom(tx, state, receiver, rules, tally, now)) return { status: 'inbox_full', msgId: item.msgId, message: null }
    tally.stored++
    const message = addMessage(state, receiver, item, now)
    tally.events.stored(message, now)
    return { status: 'stored', msgId: item.msgId, message }
  }

  /** Stores messages in one transaction, in input order; receivers are locked in one global order so that writers never deadlock. */
  async function commitStores (items: readonly MessageToStore[]): Promise<StoreOutcome[]> {
    const now = clock()
    const stored = await write(async (tx, tally) => {
      // The group's lookups may go with the lock (StoreTx.lockReceivers' `find`).
      const keys = groupKeys(items)
      const { receivers } = await lockAndPurge(tx, items.map((item) => item.receiverUid), now, tally, { find: keys })
      const state = await readGroup(tx, items, receivers, keys)
      const outcomes: StoreOutcome[] = []
      for (const item of items) {
        const receiver = receivers.get(item.receiverUid) as ReceiverState
        outcomes.push(await storeOne(tx, state, receiver, item, now, tally))
      }
      await flushGroup(tx, state, now, tombstoneUntil(rules, now))
      await tx.saveReceivers([...receivers.values()])
      await tx.announceStored(storedFor(outcomes))
      return outcomes
    }, items[0]?.receiverUid)
    // Committed: wake whoever here waits for these messages (other instances hear the announcement).
    for (const outcome of stored) if (outcome.status === 'stored') waiters.wake([outcome.message.receiverUid], outcome.message.senderUid)
    return stored
  }

  const submit = createWriteQueue(store, commitStores, GROUP_COMMIT_MAX_ITEMS)

  const prepare = (message: NewMessage): MessageToStore => ({
    ...message,
    msgId: message.msgId ?? uuidv7(),
    collapseKey: message.collapseKey ?? null,
    sendTime: message.sendTime ?? null,
    ttlSeconds: message.ttlSeconds ?? rules.messageTtlSeconds
  })

  /** Stores messages atomically, in input order; concurrent calls share a transaction (group commit). */
  return async function storeMany (messages: readonly NewMessage[]): Promise<StoreOutcome[]> {
    return await submit(messages.map(prepare))
  }
}
