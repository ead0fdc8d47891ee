// A statement's parameters, numbered by a builder as the statement asks for them: no `$n` is counted by hand.
import type { Column } from '../columns.js'

/** A statement's parameters, numbered as they are asked for: `$1`, `$2`, ... */
export interface Params {
  /** The next parameter (cast to `cast` when given), for a value the caller binds in the same order. */
  next (cast?: string): string
  /** The next parameter, for this value, kept in `values`. */
  add (value: unknown): string
  readonly values: unknown[]
}

export function params (): Params {
  const values: unknown[] = []
  let n = 0
  return {
    values,
    next: (cast) => `$${++n}${cast === undefined ? '' : `::${cast}`}`,
    add (value) {
      values.push(value)
      return `$${++n}`
    }
  }
}

/** The next array parameters, one per column, each of its type, joined. */
export const arrays = (p: Params, columns: readonly Column[]): string => columns.map((column) => p.next(`${column.type}[]`)).join(', ')
