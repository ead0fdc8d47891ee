// Devices: a receiver's phone, laptop, browser, each a reader of its own. A message is stored once and stays pending
// for every device registered when it committed, until each of them has acked it.
import { domainErrors } from './errors.js'
import { isDue, lockAndPurge, savePurged } from './expiry.js'
import type { Device, DeviceView, ReceiverState } from './model.js'
import { MAX_SLOT, bitOf } from './readers.js'
import { tombstoneUntil, type DomainContext } from './context.js'

export interface Registration {
  device: DeviceView
  /** false when it was already registered. */
  created: boolean
}

/** The lowest slot no device of the receiver holds. */
function freeSlot (devices: readonly Device[]): number {
  const taken = new Set(devices.map((device) => device.slot))
  for (let slot = 1; slot <= MAX_SLOT; slot++) if (!taken.has(slot)) return slot
  throw new Error('every device slot is taken')
}

export function createDevices ({ store, rules, clock, write }: DomainContext, purgeNow: (receiverUid: string, now: number) => Promise<void>) {
  /** The receiver's devices with exact counts: expired messages are removed first, as for the summary. */
  async function list (receiverUid: string): Promise<DeviceView[]> {
    const now = clock()
    if (isDue(await store.receiver(receiverUid), now)) await purgeNow(receiverUid, now)
    return await store.devices(receiverUid)
  }

  async function viewOf (receiverUid: string, deviceId: string): Promise<DeviceView> {
    const device = (await list(receiverUid)).find((candidate) => candidate.deviceId === deviceId)
    // Unregistered between the two: report it as it was registered, with nothing pending.
    return device ?? { receiverUid, deviceId, slot: 0, registeredAt: clock(), lastAckAt: null, pendingCount: 0 }
  }

  return {
    list,

    /**
     * Registers a device (idempotent). The first device of a receiver takes over what was pending for the receiver
     * itself; a later one gets only the messages that commit after it.
     */
    async register (receiverUid: string, deviceId: string): Promise<Registration> {
      const now = clock()
      const created = await write(async (tx, tally) => {
        const locked = await lockAndPurge(tx, [receiverUid], now, tally)
        const receiver = locked.receivers.get(receiverUid) as ReceiverState
        const devices = await tx.findDevices([receiverUid])
        if (devices.some((device) => device.deviceId === deviceId)) {
          await savePurged(tx, locked)
          return false
        }
        if (devices.length >= rules.maxDevicesPerReceiver) throw domainErrors.tooManyDevices(receiverUid, rules.maxDevicesPerReceiver)
        const slot = freeSlot(devices)
        if (receiver.devices === 0) await tx.takeOver(receiverUid, slot)
        await tx.insertDevice({ receiverUid, deviceId, slot, registeredAt: now, lastAckAt: null })
        receiver.devices |= bitOf(slot)
        await tx.saveReceivers([receiver])
        return true
      }, receiverUid)
      return { device: await viewOf(receiverUid, deviceId), created }
    },

    /**
     * Unregisters a device (idempotent): what was pending only for it is deleted, leaving tombstones as an ack does,
     * and is not counted as lost; what other devices still have pending stays.
     */
    async unregister (receiverUid: string, deviceId: string): Promise<void> {
      const now = clock()
      await write(async (tx, tally) => {
        const locked = await lockAndPurge(tx, [receiverUid], now, tally, { create: false })
        const receiver = locked.receivers.get(receiverUid)
        if (receiver === undefined) return
        const device = (await tx.findDevices([receiverUid])).find((candidate) => candidate.deviceId === deviceId)
        if (device === undefined) {
          await savePurged(tx, locked)
          return
        }
        const { removed } = await tx.removeAcked([{ receiverUid, reader: device.slot, selector: { kind: 'up-to', upToSeq: receiver.lastSeq } }], now, tombstoneUntil(rules, now))
        receiver.pendingCount -= removed.filter((key) => key.remaining === 0).length
        tally.events.unlinked(removed, deviceId, now)
        await tx.removeDevice(receiverUid, deviceId, device.slot)
        receiver.devices &= ~bitOf(device.slot)
        await tx.saveReceivers([receiver])
      }, receiverUid)
    }
  }
}

/** Whether a read without a device, or of this device, is one the receiver's devices allow; the error when not. */
export async function checkReader (store: DomainContext['store'], receiverUid: string, deviceId: string | undefined): Promise<void> {
  const devices = await store.devices(receiverUid)
  if (deviceId === undefined) {
    if (devices.length > 0) throw domainErrors.deviceRequired(receiverUid)
  } else if (!devices.some((device) => device.deviceId === deviceId)) {
    throw domainErrors.deviceNotFound(receiverUid, deviceId)
  }
}

