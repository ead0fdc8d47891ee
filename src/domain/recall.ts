// Recall: a sender takes back a message that is still pending; what was delivered stays delivered. The same answer
// serves a message replaced by a newer one of its collapse key (storing.ts), kept in its tombstone.
import { applyRemoval } from './summary-rows.js'
import { lockAndPurge, savePurged } from './expiry.js'
import { DomainError, domainErrors } from './errors.js'
import type { Device, PendingMessage, RecallResult, RecallState, RemovedMessage } from './model.js'
import { RECEIVER_READER, bitOf, readerList } from './readers.js'
import { createWriteQueue } from './write-queue.js'
import { groupBy } from '../lib/group-by.js'
import { mapKey } from '../lib/map-key.js'
import type { Withdrawal } from '../store/types.js'
import { tombstoneUntil, type DomainContext } from './context.js'

/** A recall's answer as its tombstone keeps it (tombstones.recall), so that recalling again answers the same. */
interface KeptAnswer { state: RecallState, recalled_from: Array<string | null>, delivered_to: Array<string | null> }

/**
 * The answer for a message still pending for `readers` (bits; 0 once every reader acknowledged it), stored at
 * `storedAt`, with the receiver's devices now. It was delivered to each device that had it and has it no longer: a device
 * registered when it was stored (or, when none was, the first device, which took over what was pending for the
 * receiver itself) whose bit it has lost. A receiver without devices is null.
 */
export function answerOf (msgId: string, readers: number, storedAt: number, devices: readonly Device[]): RecallResult {
  const slots = new Map(devices.map((device) => [device.slot, device.deviceId]))
  const recalledFrom = readerList(readers).flatMap((reader) => {
    if (reader === RECEIVER_READER) return [null]
    const deviceId = slots.get(reader)
    return deviceId === undefined ? [] : [deviceId]
  })
  let deliveredTo: Array<string | null>
  if (devices.length === 0) {
    deliveredTo = readers === 0 ? [null] : []
  } else {
    const byAge = [...devices].sort((a, b) => a.registeredAt - b.registeredAt || a.slot - b.slot)
    const there = byAge.filter((device) => device.registeredAt <= storedAt)
    deliveredTo = (there.length > 0 ? there : byAge.slice(0, 1))
      .filter((device) => (readers & bitOf(device.slot)) === 0).map((device) => device.deviceId)
  }
  const state: RecallState = recalledFrom.length === 0 ? 'delivered' : deliveredTo.length === 0 ? 'recalled' : 'partly_delivered'
  return { msgId, state, recalledFrom, deliveredTo }
}

/** A pending message withdrawn whole: it leaves every reader it had. */
export const withdrawnOf = ({ receiverUid, seq, senderUid, msgId, expiresAt, readers }: RemovedMessage | PendingMessage): RemovedMessage =>
  ({ receiverUid, seq, senderUid, msgId, expiresAt, readers, remaining: 0 })

/** The answer as a tombstone keeps it. */
export const keptAnswer = ({ state, recalledFrom, deliveredTo }: RecallResult): string =>
  JSON.stringify({ state, recalled_from: recalledFrom, delivered_to: deliveredTo } satisfies KeptAnswer)

function fromKept (msgId: string, kept: string): RecallResult {
  const { state, recalled_from: recalledFrom, delivered_to: deliveredTo } = JSON.parse(kept) as KeptAnswer
  return { msgId, state, recalledFrom, deliveredTo }
}

/** A recall as the queue takes it: the message of `receiverUid` with id `msgId`, recalled by `senderUid`. */
interface RecallRequest { receiverUid: string, msgId: string, senderUid: string }

// Recalls in one transaction at most, as acks.
const GROUP_COMMIT_MAX_ITEMS = 100

export function createRecall ({ store, rules, clock, write }: DomainContext) {
  /**
   * Recalls that arrive together, in one transaction (group commit, as acks): their receivers locked in one order,
   * their messages read in one statement and withdrawn in one. Each answers its message's state, or MESSAGE_NOT_FOUND;
   * a message recalled twice in a group answers the same twice.
   */
  async function commitRecalls (items: readonly RecallRequest[]): Promise<Array<RecallResult | DomainError>> {
    const now = clock()
    return await write(async (tx, tally) => {
      // The receivers' rows are locked before their messages are read: acks, stores and erasures of them wait, or went first.
      const locked = await lockAndPurge(tx, items.map((item) => item.receiverUid), now, tally, { create: false })
      const { receivers } = locked
      // An unknown receiver has nothing to recall; an expired message is gone (lockAndPurge removed it).
      const targets = [...new Map(items.filter((item) => receivers.has(item.receiverUid))
        .map(({ receiverUid, msgId }) => [mapKey(receiverUid, msgId), { receiverUid, msgId }])).values()]
      const found = await tx.findForRecalls(targets)
      const foundOf = new Map(targets.map((target, index) => [mapKey(target.receiverUid, target.msgId), found.targets[index] ?? {}]))
      const withDevices = [...new Set(targets.map((target) => target.receiverUid))].filter((uid) => receivers.get(uid)?.devices !== 0)
      const devicesOf = groupBy(withDevices.length === 0 ? [] : await tx.findDevices(withDevices), (device) => device.receiverUid)
      const answers = new Map<string, RecallResult>()
      const withdrawals: Withdrawal[] = []
      const results = items.map(({ receiverUid, msgId, senderUid }): RecallResult | DomainError => {
        const key = mapKey(receiverUid, msgId)
        const target = foundOf.get(key) ?? {}
        const message = target.pending ?? target.tombstone?.message
        // Another sender's message answers as no message at all: the caller learns nothing of it.
        if (message === undefined || message.senderUid !== senderUid) return domainErrors.messageNotFound(msgId)
        let answer = answers.get(key)
        if (answer !== undefined) return answer
        const devices = devicesOf.get(receiverUid) ?? []
        if (target.pending === undefined) {
          const kept = target.tombstone?.recall ?? null
          answer = kept === null ? answerOf(msgId, 0, message.storedAt, devices) : fromKept(msgId, kept)
        } else {
          answer = answerOf(msgId, target.pending.readers, message.storedAt, devices)
          withdrawals.push({ message: withdrawnOf(target.pending), recall: keptAnswer(answer) })
        }
        answers.set(key, answer)
        return answer
      })
      if (withdrawals.length === 0) {
        await savePurged(tx, locked)
        return results
      }
      await tx.withdraw(withdrawals, now, tombstoneUntil(rules, now))
      const removed = withdrawals.map(({ message }) => message)
      // Neither an ack nor a loss: the lost counts stay as they were.
      await applyRemoval(tx, receivers, removed, 'withdrawn', { known: found.summaryRows })
      await tx.saveReceivers([...receivers.values()])
      tally.recalled += removed.length
      tally.events.withdrawn('message.recalled', removed, now)
      return results
    }, items[0]?.receiverUid)
  }

  const submit = createWriteQueue(store, commitRecalls, GROUP_COMMIT_MAX_ITEMS)

  /**
   * Recalls a message of `senderUid`'s: removed for every reader that still has it, leaving a tombstone, its summary
   * rows corrected, nothing counted lost. MESSAGE_NOT_FOUND when there is neither message nor tombstone with that id,
   * or when it is another sender's (the same answer: the caller learns nothing of it).
   */
  return async function recall (receiverUid: string, msgId: string, senderUid: string): Promise<RecallResult> {
    const [answer] = await submit([{ receiverUid, msgId, senderUid }])
    if (answer instanceof DomainError) throw answer
    if (answer === undefined) throw new Error('the recall queue answered nothing for one recall')
    return answer
  }
}
