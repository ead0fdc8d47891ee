// Opaque paging cursors: a position in seq order, tagged with the listing it belongs to.
import { domainErrors } from './errors.js'

export type CursorKind = 'messages' | 'senders'

const TAGS: Record<CursorKind, string> = { messages: 'm', senders: 's' }
const MAX_CURSOR_LENGTH = 64

export function encodeCursor (kind: CursorKind, seq: number): string {
  return Buffer.from(`${TAGS[kind]}1.${seq}`, 'utf8').toString('base64url')
}

/** The seq a cursor stands for; INVALID_CURSOR when it was not made by encodeCursor for the same listing. */
export function decodeCursor (kind: CursorKind, cursor: string): number {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw domainErrors.invalidCursor()
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const match = new RegExp(`^${TAGS[kind]}1\\.(0|[1-9][0-9]{0,15})$`).exec(text)
  const seq = match?.[1] === undefined ? NaN : Number(match[1])
  // Re-encoding must give the same text, so that one position has exactly one cursor.
  if (!Number.isSafeInteger(seq) || encodeCursor(kind, seq) !== cursor) throw domainErrors.invalidCursor()
  return seq
}
