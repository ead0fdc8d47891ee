// Acks: by ids or up to a seq, they delete pending messages and leave tombstones for late retries of their stores.
// Acks that arrive together share one transaction (group commit, as stores do) and the same few statements: one
// delete of all their messages (which reads their summary rows too), and one write of the rows; each is answered
// after the commit. An ack up to a seq also dismisses the losses it covers: the client has been told of them.
import { applyRemoval } from './summary-rows.js'
import { lockAndPurge, savePurged } from './expiry.js'
import { mapKey } from '../lib/map-key.js'
import { DomainError, domainErrors } from './errors.js'
import type { Ack, AckRequest, AckSelector, Device, ReceiverState, RemovedMessage } from './model.js'
import { RECEIVER_READER, bitOf } from './readers.js'
import { createWriteQueue } from './write-queue.js'
import { tombstoneUntil, type DomainContext } from './context.js'

// Acks in one transaction at most: each may delete up to 1,000 messages, which bounds how long a group holds the event loop.
const GROUP_COMMIT_MAX_ITEMS = 100

/** Whether an ack selects a pending message of its receiver. */
function matcher (selector: AckSelector): (key: RemovedMessage) => boolean {
  if (selector.kind === 'ids') {
    const ids = new Set(selector.msgIds)
    return (key) => ids.has(key.msgId)
  }
  const { upToSeq, senderUid } = selector
  return (key) => key.seq <= upToSeq && (senderUid === undefined || key.senderUid === senderUid)
}

/**
 * How many of the removed messages each ack deleted for its reader: a message counts, for each reader it left, for the
 * first ack of that reader, in input order, that selects it, as if the acks had run one after the other (a later ack
 * of the same message by the same reader deletes nothing). Acks that resolved to an error count nothing.
 */
function deletedPerAck (acks: ReadonlyArray<Ack | DomainError>, removed: readonly RemovedMessage[]): number[] {
  const counts = acks.map(() => 0)
  const byReceiver = new Map<string, Array<{ index: number, bit: number, selects: (key: RemovedMessage) => boolean }>>()
  acks.forEach((ack, index) => {
    if (ack instanceof DomainError) return
    const list = byReceiver.get(ack.receiverUid) ?? []
    list.push({ index, bit: bitOf(ack.reader), selects: matcher(ack.selector) })
    byReceiver.set(ack.receiverUid, list)
  })
  for (const key of removed) {
    let uncounted = key.readers
    for (const ack of byReceiver.get(key.receiverUid) ?? []) {
      if ((uncounted & ack.bit) === 0 || !ack.selects(key)) continue
      counts[ack.index] = (counts[ack.index] ?? 0) + 1
      // Each reader's share of the message counts once.
      uncounted &= ~ack.bit
    }
  }
  return counts
}

/**
 * The reader of each ack, from its receiver's locked row: the receiver itself while it has no device, else the named
 * device, which must be registered (DEVICE_REQUIRED, DEVICE_NOT_FOUND otherwise). A receiver the store has never
 * seen has no device: an ack of one of its devices is DEVICE_NOT_FOUND, one without a device finds nothing.
 */
export function resolveReaders (
  requests: readonly AckRequest[], receivers: ReadonlyMap<string, ReceiverState>, devices: readonly Device[]
): Array<Ack | DomainError> {
  const slots = new Map(devices.map((device) => [mapKey(device.receiverUid, device.deviceId), device.slot]))
  return requests.map(({ receiverUid, deviceId, selector }) => {
    const receiver = receivers.get(receiverUid)
    const hasDevices = receiver !== undefined && receiver.devices !== 0
    if (deviceId === undefined) return hasDevices ? domainErrors.deviceRequired(receiverUid) : { receiverUid, reader: RECEIVER_READER, selector }
    const slot = slots.get(mapKey(receiverUid, deviceId))
    return slot === undefined ? domainErrors.deviceNotFound(receiverUid, deviceId) : { receiverUid, reader: slot, selector }
  })
}

export function createAcks ({ store, rules, clock, write }: DomainContext) {
  /** Acks in one transaction; receivers locked in one order. A receiver the store has never seen has nothing to ack: no row is made for it. */
  async function commitAcks (items: readonly AckRequest[]): Promise<Array<number | DomainError>> {
    const now = clock()
    return await write(async (tx, tally) => {
      const locked = await lockAndPurge(tx, items.map((item) => item.receiverUid), now, tally, { create: false })
      const { receivers } = locked
      // Devices are read only for receivers that have some and acks that name one: a v1 ack costs nothing more.
      const named = [...new Set(items.filter((item) => item.deviceId !== undefined && (receivers.get(item.receiverUid)?.devices ?? 0) !== 0).map((item) => item.receiverUid))]
      const resolved = resolveReaders(items, receivers, named.length === 0 ? [] : await tx.findDevices(named))
      const acks = resolved.filter((ack): ack is Ack => !(ack instanceof DomainError) && receivers.has(ack.receiverUid))
      if (acks.length === 0) {
        await savePurged(tx, locked)
        return resolved.map((ack) => ack instanceof DomainError ? ack : 0)
      }
      const { removed, summaryRows, cleared } = await tx.removeAcked(acks, now, tombstoneUntil(rules, now))
      await applyRemoval(tx, receivers, removed, 'ack', { known: summaryRows, cleared })
      tally.events.delivered(removed, now)
      await tx.saveReceivers([...receivers.values()])
      const touched = new Map(acks.filter((ack) => ack.reader !== RECEIVER_READER).map((ack) => [mapKey(ack.receiverUid, ack.reader), [ack.receiverUid, ack.reader] as const]))
      if (touched.size > 0) await tx.touchDevices([...touched.values()], now)
      const counts = deletedPerAck(resolved, removed)
      tally.acked += counts.reduce((sum, count) => sum + count, 0)
      return resolved.map((ack, index) => ack instanceof DomainError ? ack : counts[index] ?? 0)
    }, items[0]?.receiverUid)
  }

  const submit = createWriteQueue(store, commitAcks, GROUP_COMMIT_MAX_ITEMS)

  /**
   * Takes the selected messages from the pending ones of one receiver (of its device, when it has devices); answers
   * how many it took (0 when acked again). A message is deleted once no device has it pending.
   */
  return async function ack (receiverUid: string, selector: AckSelector, deviceId?: string): Promise<number> {
    const [deleted] = await submit([{ receiverUid, deviceId, selector }])
    if (deleted instanceof DomainError) throw deleted
    return deleted ?? 0
  }
}
