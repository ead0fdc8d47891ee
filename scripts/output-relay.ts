// Several runs at once, one readable log: the first run's output goes out as it comes, each next one's is held until the
// one before it has ended, so that the log reads as if they had run one after the other.

export interface Output { write (text: string | Buffer): void, end (): void }

/** `count` outputs, shown in their order. */
export function relay (count: number, out: NodeJS.WritableStream = process.stdout): Output[] {
  const held: Array<Array<string | Buffer>> = Array.from({ length: count }, () => [])
  const ended = Array.from({ length: count }, () => false)
  let current = 0
  const advance = () => {
    while (current < count) {
      for (const chunk of held[current] ?? []) out.write(chunk)
      held[current] = []
      if (!ended[current]) return
      current++
    }
  }
  return held.map((_, index) => ({
    write (text) {
      if (index === current) out.write(text)
      else held[index]?.push(text)
    },
    end () {
      ended[index] = true
      if (index === current) advance()
    }
  }))
}
