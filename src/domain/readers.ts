// Readers: who follows a receiver's pending messages. Reader 0 is the receiver itself while it has no device; a
// device is the reader of its slot (1 to 30). A message keeps one bit per reader that still has it pending.
import type { ReceiverState } from './model.js'

/** The reader of a receiver without devices: every v1 caller. */
export const RECEIVER_READER = 0
/** Device slots are 1 to this: with bit 0, the bits of a 32-bit signed integer column. */
export const MAX_SLOT = 30

export const bitOf = (reader: number): number => 1 << reader

/** The bits of the readers a message stored now is pending for: every registered device, or the receiver itself. */
export const readersOf = (receiver: ReceiverState): number => receiver.devices === 0 ? bitOf(RECEIVER_READER) : receiver.devices

/** The readers whose bits are set, lowest first. */
export function readerList (bits: number): number[] {
  const readers: number[] = []
  for (let reader = 0; reader <= MAX_SLOT; reader++) if ((bits & bitOf(reader)) !== 0) readers.push(reader)
  return readers
}
