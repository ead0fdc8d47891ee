// The pure rules of what a summary shows and how pages are addressed: the preview of 100 code points, and opaque
// cursors that only this service's encoder makes, one per position and listing.
import t from 'tap'
import { PREVIEW_LENGTH, previewOf, withStored } from '../../src/domain/summary-rows.js'
import { decodeCursor, encodeCursor, type CursorKind } from '../../src/domain/cursor.js'
import { DomainError } from '../../src/domain/errors.js'
import type { StoredMessage } from '../../src/domain/model.js'

const codePoints = (text: string): number => [...text].length
const invalidCursor = { constructor: DomainError, code: 'INVALID_CURSOR' }
const base64url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url')

t.test('a preview is the first 100 code points of the content, counted as code points, not UTF-16 units', async (t) => {
  t.equal(PREVIEW_LENGTH, 100)
  t.equal(previewOf(''), '')
  t.equal(previewOf('a'.repeat(100)), 'a'.repeat(100), 'exactly 100 stays whole')
  t.equal(previewOf('a'.repeat(101)), 'a'.repeat(100), 'the 101st code point is cut')
  const emoji = '😀'.repeat(150)
  t.equal(previewOf(emoji), '😀'.repeat(100), '100 astral characters: 200 UTF-16 units kept')
  t.equal(previewOf('😀'.repeat(60)), '😀'.repeat(60), '60 astral characters (120 units) are under 100 code points: whole')
  const mixed = 'é' + '😀'.repeat(98) + 'ab' + '😀'
  t.equal(previewOf(mixed), 'é' + '😀'.repeat(98) + 'a')
  for (const content of ['x'.repeat(99) + '😀😀', '😀'.repeat(99) + 'xy', 'ß'.repeat(50) + '𝄞'.repeat(80)]) {
    const preview = previewOf(content)
    t.equal(codePoints(preview), 100, `${content.length} units: 100 code points`)
    t.ok(content.startsWith(preview), 'a prefix of the content')
    t.notOk(/[\uD800-\uDBFF]$/.test(preview), 'never ends inside a surrogate pair')
  }
})

t.test('a stored message becomes its sender row\'s latest, one more pending, and keeps the row\'s losses', async (t) => {
  const message: StoredMessage = {
    receiverUid: 'bob', seq: 7, msgId: 'm7', senderUid: 'alice', msgType: 2, content: '😀'.repeat(120), sendTime: 1000, storedAt: 2000, expiresAt: 3000, collapseKey: null
  }
  const first = withStored(undefined, message, 0)
  t.strictSame(first, {
    receiverUid: 'bob', reader: 0, senderUid: 'alice', pendingCount: 1,
    last: { seq: 7, sendTime: 1000, msgType: 2, preview: '😀'.repeat(100) }, sortSeq: 7, lostCount: 0, lostSeq: null
  })
  const later = withStored({ ...first, reader: 3, pendingCount: 4, lostCount: 2, lostSeq: 5 }, { ...message, seq: 9, content: 'hi' }, 3)
  t.equal(later.pendingCount, 5)
  t.equal(later.last?.seq, 9)
  t.equal(later.last?.preview, 'hi')
  t.equal(later.sortSeq, 9)
  t.equal(later.reader, 3, 'the row of the reader it was stored for')
  t.same([later.lostCount, later.lostSeq], [2, 5], 'a new message does not dismiss losses')
})

t.test('a cursor decodes to the seq it was made for, for both listings', async (t) => {
  for (const kind of ['messages', 'senders'] as const) {
    for (const seq of [0, 1, 9, 10, 12345, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      const cursor = encodeCursor(kind, seq)
      t.match(cursor, /^[A-Za-z0-9_-]+$/, 'URL-safe, no padding')
      t.equal(decodeCursor(kind, cursor), seq, `${kind} ${seq}`)
    }
  }
})

t.test('a cursor of one listing is refused by the other: kinds are not interchangeable', async (t) => {
  const pairs: Array<[CursorKind, CursorKind]> = [['messages', 'senders'], ['senders', 'messages']]
  for (const [made, used] of pairs) {
    t.throws(() => decodeCursor(used, encodeCursor(made, 42)), invalidCursor, `a ${made} cursor used for ${used}`)
  }
})

t.test('a forged or damaged cursor is INVALID_CURSOR, never a position', async (t) => {
  const forged: Record<string, string> = {
    empty: '',
    'not base64url': 'bTEuNDI=',
    'a plus sign': 'bT+uNDI',
    'too long': 'A'.repeat(65),
    'plain text': 'hello',
    'a negative seq': base64url('m1.-1'),
    'a leading zero': base64url('m1.042'),
    'another version': base64url('m2.42'),
    'no tag': base64url('42'),
    'a fraction': base64url('m1.4.2'),
    'trailing text': base64url('m1.42 '),
    'beyond a safe integer': base64url('m1.9007199254740993'),
    'more than 16 digits': base64url('m1.12345678901234567'),
    // The same bytes with different unused low bits: decodes alike, but only one spelling is the service's.
    'a second spelling of a valid cursor': encodeCursor('messages', 42).replace(/.$/, (last) => String.fromCharCode(last.charCodeAt(0) + 1))
  }
  t.equal(Buffer.from(forged['a second spelling of a valid cursor'] ?? '', 'base64url').toString('utf8'), 'm1.42', 'the second spelling decodes to the same text')
  for (const [what, cursor] of Object.entries(forged)) {
    t.throws(() => decodeCursor('messages', cursor), invalidCursor, what)
  }
})
