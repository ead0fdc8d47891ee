// An in-memory fake of the store port (src/store/types.ts) for the domain's unit tests: plain arrays and maps, one
// transaction at a time, rolled back on a rejection. It does what each port method's comment says, the plain way, and
// nothing more; test/store/memory-store-fidelity.test.ts checks that it answers as the real stores do.
import type { Ack, Device, PendingMessage, ReceiverState, RemovedMessage, StoredMessage, SummaryRow, Tombstone } from '../../src/domain/model.js'
import { mapKey } from '../../src/lib/map-key.js'
import type { RecallTarget, Store, StoreTx, SummaryRowKey } from '../../src/store/types.js'

interface State {
  receivers: Map<string, ReceiverState>
  messages: PendingMessage[]
  tombstones: Tombstone[]
  /** tombstones.recall: under mapKey(receiver, msg_id), the recall a withdrawn message's tombstone keeps. */
  recalls: Map<string, string>
  summaryRows: SummaryRow[]
  devices: Device[]
}

const bit = (reader: number): number => 1 << reader
const copy = <T>(value: T): T => structuredClone(value)
const stored = ({ readers, ...message }: PendingMessage): StoredMessage => copy(message)
const removedOf = (message: PendingMessage, readers: number, remaining: number): RemovedMessage =>
  ({ receiverUid: message.receiverUid, seq: message.seq, senderUid: message.senderUid, msgId: message.msgId, expiresAt: message.expiresAt, readers, remaining })
const sameRow = (row: SummaryRow, [receiverUid, reader, senderUid]: SummaryRowKey): boolean =>
  row.receiverUid === receiverUid && row.reader === reader && row.senderUid === senderUid

export interface MemoryStore extends Store {
  /** What the store holds now, for assertions (read only). */
  readonly state: State
  /** Every ack the domain handed to removeAcked, in order. */
  readonly acksSeen: Ack[]
  /** Transactions committed so far. */
  commits: number
}

export function createMemoryStore (): MemoryStore {
  let state: State = { receivers: new Map(), messages: [], tombstones: [], recalls: new Map(), summaryRows: [], devices: [] }
  const acksSeen: Ack[] = []
  let queue: Promise<unknown> = Promise.resolve()

  const rowsOf = (receiverUid: string, senderUid: string): SummaryRow[] =>
    state.summaryRows.filter((row) => row.receiverUid === receiverUid && row.senderUid === senderUid)
  const slotOf = (receiverUid: string, deviceId: string | undefined): number | null =>
    deviceId === undefined ? 0 : state.devices.find((device) => device.receiverUid === receiverUid && device.deviceId === deviceId)?.slot ?? null
  const readerPending = (receiverUid: string, reader: number): number =>
    state.summaryRows.filter((row) => row.receiverUid === receiverUid && row.reader === reader).reduce((sum, row) => sum + row.pendingCount, 0)

  const tx: StoreTx = {
    async lockReceivers (receiverUids, { create = true } = {}) {
      const locked: ReceiverState[] = []
      for (const receiverUid of receiverUids) {
        if (!state.receivers.has(receiverUid) && create) state.receivers.set(receiverUid, { receiverUid, lastSeq: 0, pendingCount: 0, nextExpiry: null, devices: 0 })
        const receiver = state.receivers.get(receiverUid)
        if (receiver !== undefined) locked.push(copy(receiver))
      }
      return locked
    },
    async saveReceivers (states) {
      for (const receiver of states) state.receivers.set(receiver.receiverUid, copy(receiver))
    },
    async findCopiesAndSummaryRows (messageKeys, senderKeys) {
      const has = (receiverUid: string, msgId: string) => messageKeys.some(([r, m]) => r === receiverUid && m === msgId)
      return {
        pending: state.messages.filter((m) => has(m.receiverUid, m.msgId)).map(stored),
        tombstones: copy(state.tombstones.filter((t) => has(t.message.receiverUid, t.message.msgId))),
        summaryRows: copy(senderKeys.flatMap(([receiverUid, senderUid]) => rowsOf(receiverUid, senderUid)))
      }
    },
    async deleteTombstone (receiverUid, msgId) {
      state.tombstones = state.tombstones.filter((t) => !(t.message.receiverUid === receiverUid && t.message.msgId === msgId))
    },
    async insertMessages (messages) {
      state.messages.push(...copy(messages))
    },
    async oldestPending (receiverUid) {
      const oldest = state.messages.filter((m) => m.receiverUid === receiverUid).sort((a, b) => a.seq - b.seq)[0]
      return oldest === undefined ? undefined : removedOf(oldest, oldest.readers, 0)
    },
    async removeExpired (receiverUids, now, limit) {
      const removed: RemovedMessage[] = []
      const nextExpiry = new Map<string, number | null>()
      for (const receiverUid of receiverUids) {
        const expired = state.messages.filter((m) => m.receiverUid === receiverUid && m.expiresAt <= now).sort((a, b) => a.seq - b.seq).slice(0, limit)
        state.messages = state.messages.filter((m) => !expired.includes(m))
        removed.push(...expired.map((m) => removedOf(m, m.readers, 0)))
        if (expired.length < limit) {
          const left = state.messages.filter((m) => m.receiverUid === receiverUid).map((m) => m.expiresAt)
          nextExpiry.set(receiverUid, left.length === 0 ? null : Math.min(...left))
        }
      }
      const senders = new Set(removed.map((message) => mapKey(message.receiverUid, message.senderUid)))
      return { removed, summaryRows: copy(state.summaryRows.filter((row) => senders.has(mapKey(row.receiverUid, row.senderUid)))), nextExpiry }
    },
    async removeAcked (acks, now, tombstoneUntil) {
      acksSeen.push(...copy(acks))
      const removed: RemovedMessage[] = []
      const cleared = new Map<SummaryRow, SummaryRow>()
      for (const { receiverUid, reader, selector } of acks) {
        const selects = selector.kind === 'ids'
          ? (m: PendingMessage) => selector.msgIds.includes(m.msgId)
          : (m: PendingMessage) => m.seq <= selector.upToSeq && (selector.senderUid === undefined || m.senderUid === selector.senderUid)
        for (const message of state.messages.filter((m) => m.receiverUid === receiverUid && m.expiresAt > now && (m.readers & bit(reader)) !== 0 && selects(m))) {
          message.readers &= ~bit(reader)
          removed.push(removedOf(message, bit(reader), message.readers))
          if (message.readers !== 0) continue
          state.messages = state.messages.filter((m) => m !== message)
          if (tombstoneUntil !== null) state.tombstones.push({ message: stored(message), purgeAt: tombstoneUntil })
        }
        if (selector.kind === 'up-to') {
          for (const row of state.summaryRows) {
            if (row.receiverUid === receiverUid && row.reader === reader && (selector.senderUid === undefined || row.senderUid === selector.senderUid) &&
              row.lostCount > 0 && (row.lostSeq ?? 0) <= selector.upToSeq) cleared.set(row, copy(row))
          }
        }
      }
      const senders = new Set(removed.map((message) => mapKey(message.receiverUid, message.senderUid)))
      return {
        removed,
        summaryRows: copy(state.summaryRows.filter((row) => senders.has(mapKey(row.receiverUid, row.senderUid)))),
        cleared: [...cleared.values()]
      }
    },
    async removePending (receiverUid, seqs) {
      state.messages = state.messages.filter((m) => !(m.receiverUid === receiverUid && seqs.includes(m.seq)))
    },
    async lastPendingOfSenders (keys) {
      return keys.flatMap(([receiverUid, reader, senderUid]) => {
        const last = state.messages.filter((m) => m.receiverUid === receiverUid && m.senderUid === senderUid && (m.readers & bit(reader)) !== 0)
          .sort((a, b) => b.seq - a.seq)[0]
        return last === undefined ? [] : [{ reader, message: stored(last) }]
      })
    },
    async findSummaryRows (keys) {
      return copy(keys.flatMap(([receiverUid, senderUid]) => rowsOf(receiverUid, senderUid)))
    },
    async saveSummaryRows (summaryRows) {
      for (const row of summaryRows) {
        state.summaryRows = state.summaryRows.filter((other) => !sameRow(other, [row.receiverUid, row.reader, row.senderUid]))
        state.summaryRows.push(copy(row))
      }
    },
    async deleteSummaryRows (keys) {
      state.summaryRows = state.summaryRows.filter((row) => !keys.some((key) => sameRow(row, key)))
    },
    async findDevices (receiverUids) {
      return copy(state.devices.filter((device) => receiverUids.includes(device.receiverUid)))
    },
    async insertDevice (device) {
      state.devices.push(copy(device))
    },
    async removeDevice (receiverUid, deviceId, slot) {
      state.devices = state.devices.filter((device) => !(device.receiverUid === receiverUid && device.deviceId === deviceId))
      state.summaryRows = state.summaryRows.filter((row) => !(row.receiverUid === receiverUid && row.reader === slot))
    },
    async takeOver (receiverUid, slot) {
      for (const message of state.messages) if (message.receiverUid === receiverUid) message.readers = bit(slot)
      for (const row of state.summaryRows) if (row.receiverUid === receiverUid && row.reader === 0) row.reader = slot
    },
    async touchDevices (devices, now) {
      for (const [receiverUid, slot] of devices) {
        for (const device of state.devices) if (device.receiverUid === receiverUid && device.slot === slot) device.lastAckAt = now
      }
    },
    async findCollapsible (keys) {
      return state.messages.filter((m) => keys.some(([r, s, k]) => m.receiverUid === r && m.senderUid === s && m.collapseKey === k))
        .map((m) => ({ ...removedOf(m, m.readers, 0), collapseKey: m.collapseKey ?? '', storedAt: m.storedAt }))
    },
    async withdraw (withdrawals, now, tombstoneUntil) {
      for (const { message: { receiverUid, seq }, recall } of withdrawals) {
        const message = state.messages.find((m) => m.receiverUid === receiverUid && m.seq === seq)
        if (message === undefined) continue
        state.messages = state.messages.filter((m) => m !== message)
        if (tombstoneUntil === null) continue
        state.tombstones.push({ message: stored(message), purgeAt: tombstoneUntil })
        state.recalls.set(mapKey(receiverUid, message.msgId), recall)
      }
    },
    async findForRecalls (targets) {
      const found = targets.map(({ receiverUid, msgId }): RecallTarget => {
        const pending = state.messages.find((m) => m.receiverUid === receiverUid && m.msgId === msgId)
        if (pending !== undefined) return { pending: copy(pending) }
        const tombstone = state.tombstones.find((t) => t.message.receiverUid === receiverUid && t.message.msgId === msgId)
        return tombstone === undefined ? {} : { tombstone: { message: copy(tombstone.message), recall: state.recalls.get(mapKey(receiverUid, msgId)) ?? null } }
      })
      const senders = new Set(found.flatMap(({ pending }) => pending === undefined ? [] : [mapKey(pending.receiverUid, pending.senderUid)]))
      return { targets: found, summaryRows: copy(state.summaryRows.filter((row) => senders.has(mapKey(row.receiverUid, row.senderUid)))) }
    },
    async erase (receiverUid) {
      const erased = {
        messages: state.messages.filter((m) => m.receiverUid === receiverUid).length,
        tombstones: state.tombstones.filter((t) => t.message.receiverUid === receiverUid).length,
        devices: state.devices.filter((d) => d.receiverUid === receiverUid).length
      }
      state.messages = state.messages.filter((m) => m.receiverUid !== receiverUid)
      state.tombstones = state.tombstones.filter((t) => t.message.receiverUid !== receiverUid)
      for (const key of [...state.recalls.keys()]) if (key.startsWith(mapKey(receiverUid, ''))) state.recalls.delete(key)
      state.devices = state.devices.filter((d) => d.receiverUid !== receiverUid)
      state.summaryRows = state.summaryRows.filter((row) => row.receiverUid !== receiverUid)
      state.receivers.delete(receiverUid)
      return erased
    },
    async insertEvents () {},
    async eraseEvents () {},
    async announceStored () {}
  }

  const store: MemoryStore = {
    get state () { return state },
    acksSeen,
    commits: 0,
    async transaction (fn) {
      const run = queue.then(async () => {
        const before = copy(state)
        try {
          const result = await fn(tx)
          store.commits++
          return result
        } catch (error) {
          state = before
          throw error
        }
      })
      queue = run.catch(() => {})
      return await run
    },
    async receiver (receiverUid) {
      return copy(state.receivers.get(receiverUid))
    },
    async summary (receiverUid, deviceId, beforeSortSeq, limit) {
      const reader = slotOf(receiverUid, deviceId)
      const rows = state.summaryRows
        .filter((row) => row.receiverUid === receiverUid && row.reader === reader && (beforeSortSeq === null || row.sortSeq < beforeSortSeq))
        .sort((a, b) => b.sortSeq - a.sortSeq).slice(0, limit)
      const receiver = copy(state.receivers.get(receiverUid))
      if (deviceId === undefined) return { receiver, rows: copy(rows) }
      return { receiver, rows: copy(rows), device: { slot: reader, pendingCount: reader === null ? 0 : readerPending(receiverUid, reader) } }
    },
    async page ({ receiverUid, deviceId, senderUid, afterSeq, limit, now }) {
      const reader = slotOf(receiverUid, deviceId)
      if (reader === null) return []
      return state.messages.filter((m) => m.receiverUid === receiverUid && (senderUid === undefined || m.senderUid === senderUid) && m.seq > afterSeq &&
        m.expiresAt > now && (m.readers & bit(reader)) !== 0).sort((a, b) => a.seq - b.seq).slice(0, limit).map(stored)
    },
    async findPendingLive (receiverUid, msgId, now, deviceId) {
      const reader = slotOf(receiverUid, deviceId)
      const message = state.messages.find((m) => m.receiverUid === receiverUid && m.msgId === msgId && m.expiresAt > now && reader !== null && (m.readers & bit(reader)) !== 0)
      return message === undefined ? undefined : stored(message)
    },
    async devices (receiverUid) {
      return state.devices.filter((device) => device.receiverUid === receiverUid)
        .map((device) => ({ ...copy(device), pendingCount: readerPending(receiverUid, device.slot) }))
    },
    async receiversDueForExpiry (now, limit) {
      return [...state.receivers.values()].filter((r) => r.nextExpiry !== null && r.nextExpiry <= now)
        .sort((a, b) => (a.nextExpiry ?? 0) - (b.nextExpiry ?? 0)).slice(0, limit).map((r) => r.receiverUid)
    },
    async purgeTombstones (now, limit) {
      const stale = state.tombstones.filter((t) => t.purgeAt <= now).slice(0, limit)
      state.tombstones = state.tombstones.filter((t) => !stale.includes(t))
      return stale.length
    },
    // The fake records no events: the domain tests run with EVENTS off.
    async events () { return { events: [], end: '0', missed: false, heldBack: false } },
    async eventCursorKey () { return 'memory' },
    async purgeEvents () { return 0 },
    async indexEvents () { return 0 },
    // Nor delivers them: no webhook in the domain tests.
    async leaseWebhook () { return null },
    async saveWebhookPosition () { return false },
    async releaseWebhook () {},
    async webhookBacklogSince () { return null },
    async totalPending (now) {
      return state.messages.filter((m) => m.expiresAt > now).length
    },
    followCommits () {},
    writeLanes: { concurrency: 1 },
    statementCounts: () => ({ statements: 0, roundTrips: 0 }),
    async ping () {},
    async durable () { return true },
    async close () {}
  }
  return store
}
