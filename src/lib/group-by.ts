// Grouping a list by a key, as Map.groupBy does (ES2024, from Node 21: the service is on Node 24 and 26, and still runs on 20).

/** The items by key: keys in the order they first appear, each group in input order. */
export function groupBy<T> (items: Iterable<T>, groupOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const key = groupOf(item)
    const group = groups.get(key)
    if (group === undefined) groups.set(key, [item])
    else group.push(item)
  }
  return groups
}
