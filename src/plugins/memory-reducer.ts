// After a burst of held requests has ended, one memory-reducing collection: the memory they held goes back to the
// system instead of staying in V8's page pool until its memory reducer finds a quiet moment, which under a steady load
// it never does (bench/README.md, "Why V8 keeps the freed pages").
import fp from 'fastify-plugin'

export interface MemoryReducerOptions {
  /** Page requests held right now. */
  heldRequests: () => number
  /** The least fall in held requests, from their peak, worth a collection (a tenth of MAX_WAITERS). */
  minDrop: number
  /** V8's collector, exposed by node's --expose-gc (npm start and the image's CMD pass it); without it, nothing. */
  gc?: NodeJS.GCFunction | undefined
}

export interface Reduction {
  /** The held requests at their peak, and when the collection ran. */
  peak: number
  held: number
  pauseMs: number
  rssBeforeMb: number
  rssAfterMb: number
}

/** How often the held requests are counted. */
const CHECK_EVERY_MS = 1000

const mb = (bytes: number): number => Math.round(bytes / 2 ** 20)

/**
 * Counts the held requests every interval and keeps their peak. Once they have fallen by at least minDrop and to half
 * the peak or less, and have stopped falling (as many or more than at the last count: the burst is over, its requests
 * all garbage), runs one full collection that reduces memory (V8's "last resort" flavour, which also gives back the
 * pooled pages), and the peak starts again from there. A steady number of held requests, however many come and go,
 * never triggers it. The collection stops the event loop once per burst (its pause is in the log line; measured in
 * bench/README.md, "A memory-reducing collection after a burst").
 */
export function createMemoryReducer ({ heldRequests, minDrop, gc }: MemoryReducerOptions): { check: () => Reduction | undefined } {
  let peak = 0
  let last = 0
  return {
    check () {
      const held = heldRequests()
      const falling = held < last
      last = held
      peak = Math.max(peak, held)
      if (gc === undefined || falling || peak - held < minDrop || held > peak / 2) return undefined
      const rssBeforeMb = mb(process.memoryUsage.rss())
      const started = performance.now()
      gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
      const reduction = { peak, held, pauseMs: Math.round(performance.now() - started), rssBeforeMb, rssAfterMb: mb(process.memoryUsage.rss()) }
      peak = held
      return reduction
    }
  }
}

export const memoryReducer = fp<MemoryReducerOptions>(async (app, options) => {
  const reducer = createMemoryReducer(options)
  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    if (options.gc === undefined) return
    timer = setInterval(() => {
      const reduction = reducer.check()
      if (reduction !== undefined) {
        app.log.info({ memoryReduction: reduction },
          `${reduction.peak - reduction.held} held requests ended: a memory-reducing collection took ${reduction.pauseMs} ms, RSS ${reduction.rssBeforeMb} -> ${reduction.rssAfterMb} MB`)
      }
    }, CHECK_EVERY_MS)
    timer.unref()
  })
  app.addHook('onClose', async () => {
    if (timer !== undefined) clearInterval(timer)
  })
}, { name: 'memory-reducer' })
