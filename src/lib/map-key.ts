// The one map key of the service: the parts of a key (a receiver, then a msg_id, a reader, a sender, ...) as one string.

/** A Map's key for these parts: joined by U+0000, which no id may hold, so that no two part lists give the same key. */
export const mapKey = (...parts: ReadonlyArray<string | number>): string => parts.join('\u0000')
