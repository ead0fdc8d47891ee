// PostgreSQL's hashtext() in JavaScript: the hash Citus routes a text or varchar distribution column by.

const rot = (x: number, k: number): number => (x << k) | (x >>> (32 - k))

/** The little-endian 32-bit word at offset, of the bytes there are (missing ones count as zero). */
function word (bytes: Uint8Array, offset: number, length = 4): number {
  let value = 0
  for (let i = 0; i < length; i++) value |= (bytes[offset + i] ?? 0) << (8 * i)
  return value
}

/**
 * hash_bytes() of PostgreSQL 15's src/common/hashfn.c (Bob Jenkins' lookup3, little-endian path) over the value's UTF-8
 * bytes, as the signed int4 hashtext() answers. Valid for a deterministic collation (the default): a nondeterministic
 * one hashes the collation key instead. varchar has no hash opclass of its own and uses text's, so the same hash.
 */
export function hashText (value: string): number {
  const bytes = Buffer.from(value, 'utf8')
  let a = (0x9e3779b9 + bytes.length + 3923095) | 0
  let b = a
  let c = a
  let offset = 0
  let left = bytes.length
  while (left >= 12) {
    a = (a + word(bytes, offset)) | 0
    b = (b + word(bytes, offset + 4)) | 0
    c = (c + word(bytes, offset + 8)) | 0
    // mix(a, b, c)
    a = (a - c) | 0; a ^= rot(c, 4); c = (c + b) | 0
    b = (b - a) | 0; b ^= rot(a, 6); a = (a + c) | 0
    c = (c - b) | 0; c ^= rot(b, 8); b = (b + a) | 0
    a = (a - c) | 0; a ^= rot(c, 16); c = (c + b) | 0
    b = (b - a) | 0; b ^= rot(a, 19); a = (a + c) | 0
    c = (c - b) | 0; c ^= rot(b, 4); b = (b + a) | 0
    offset += 12
    left -= 12
  }
  // The last 11 bytes: the lowest byte of c is left for the length, so c takes bytes 8-10 from its second byte up.
  if (left > 8) c = (c + (word(bytes, offset + 8, left - 8) << 8)) | 0
  if (left > 4) b = (b + word(bytes, offset + 4, Math.min(left - 4, 4))) | 0
  if (left > 0) a = (a + word(bytes, offset, Math.min(left, 4))) | 0
  // final(a, b, c)
  c ^= b; c = (c - rot(b, 14)) | 0
  a ^= c; a = (a - rot(c, 11)) | 0
  b ^= a; b = (b - rot(a, 25)) | 0
  c ^= b; c = (c - rot(b, 16)) | 0
  a ^= c; a = (a - rot(c, 4)) | 0
  b ^= a; b = (b - rot(a, 14)) | 0
  c ^= b; c = (c - rot(b, 24)) | 0
  return c
}
