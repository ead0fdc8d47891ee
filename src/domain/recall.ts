// Recall: a sender takes back a message that is still pending; what was delivered stays delivered. The same answer
// serves a message replaced by a newer one of its collapse key (storing.ts), kept in its tombstone.
import { applyRemoval } from './summary-rows.js'
import { lockAndPurge, savePurged } from './expiry.js'
import { domainErrors } from './errors.js'
import type { Device, RecallResult, RecallState } from './model.js'
import { RECEIVER_READER, bitOf, readerList } from './readers.js'
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

/** The answer as a tombstone keeps it. */
export const keptAnswer = ({ state, recalledFrom, deliveredTo }: RecallResult): string =>
  JSON.stringify({ state, recalled_from: recalledFrom, delivered_to: deliveredTo } satisfies KeptAnswer)

function fromKept (msgId: string, kept: string): RecallResult {
  const { state, recalled_from: recalledFrom, delivered_to: deliveredTo } = JSON.parse(kept) as KeptAnswer
  return { msgId, state, recalledFrom, deliveredTo }
}

export function createRecall ({ rules, clock, write }: DomainContext) {
  /**
   * Recalls a message of `senderUid`'s: removed for every reader that still has it, leaving a tombstone, its summary
   * rows corrected, nothing counted lost. MESSAGE_NOT_FOUND when there is neither message nor tombstone with that id,
   * or when it is another sender's (the same answer: the caller learns nothing of it).
   */
  return async function recall (receiverUid: string, msgId: string, senderUid: string): Promise<RecallResult> {
    const now = clock()
    return await write(async (tx, tally) => {
      // The receiver's row is locked before the message is read: acks, stores and erasures of it wait, or went first.
      const locked = await lockAndPurge(tx, [receiverUid], now, tally, { create: false })
      const receiver = locked.receivers.get(receiverUid)
      const found = receiver === undefined ? {} : await tx.findForRecall(receiverUid, msgId)
      const message = found.pending ?? found.tombstone?.message
      // An expired message is gone (lockAndPurge removed it): a tombstone is answered whatever its window.
      if (receiver === undefined || message === undefined || message.senderUid !== senderUid) throw domainErrors.messageNotFound(msgId)
      const devices = receiver.devices === 0 ? [] : await tx.findDevices([receiverUid])
      if (found.pending === undefined) {
        await savePurged(tx, locked)
        const kept = found.tombstone?.recall ?? null
        return kept === null ? answerOf(msgId, 0, message.storedAt, devices) : fromKept(msgId, kept)
      }
      const answer = answerOf(msgId, found.pending.readers, message.storedAt, devices)
      const removed = await tx.withdraw([{ receiverUid, seq: message.seq, recall: keptAnswer(answer) }], now, tombstoneUntil(rules, now))
      // Neither an ack nor a loss: the lost counts stay as they were.
      await applyRemoval(tx, locked.receivers, removed, 'withdrawn')
      await tx.saveReceivers([receiver])
      tally.recalled += removed.length
      tally.events.withdrawn('message.recalled', removed, now)
      return answer
    }, receiverUid)
  }
}
