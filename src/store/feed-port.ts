// The store port's part for the event feed and its webhook (v1.2): reading the feed, its retention, the sweep's upkeep
// of it, and the webhook's delivery row. types.ts's Store extends it.
import type { EventView } from '../domain/events.js'

/** A page of the event feed: the events, and the position after them (or `after` itself when there are none). */
export interface EventPage {
  events: EventView[]
  end: string
  missed: boolean
  /**
   * Whether events after `after` have committed but are not served yet, an older transaction still running (on
   * PostgreSQL; never on SQLite, whose transactions commit one at a time): they are served once it ends, which no
   * notification announces, so a reader waiting for them looks again soon rather than waiting to be woken.
   */
  heldBack: boolean
}

/** The webhook's delivery row as the instance that holds its lease reads it. */
export interface WebhookLease {
  /** The feed position delivered up to; null when nothing was yet (delivery starts at the oldest event kept). */
  position: string | null
}

export interface FeedStore {
  /**
   * Up to `limit` events after `after` (a position of this store; null: from the oldest kept) in commit order, with
   * `missed` when retention deleted events after `after`; only events no later commit can come before.
   */
  events (after: string | null, limit: number): Promise<EventPage>
  /** The key that signs this database's event cursors. */
  eventCursorKey (): Promise<string>
  /** Deletes at most limit events recorded at or before `before`; answers how many. */
  purgeEvents (before: number, limit: number): Promise<number>
  /**
   * The sweep's upkeep of what finds a receiver's events for its erasure, in batches of `limit` (or more, where the
   * store's own batch is larger) until it has caught up with what was recorded; answers how many events it went through (0 for a store whose index is kept by each write).
   */
  indexEvents (limit: number): Promise<number>
  /**
   * Takes the webhook's lease for `owner`, or renews it, until `leaseMs` from now on the database's clock (one lease
   * per database); answers the position delivered so far, or null while another owner's lease runs.
   */
  leaseWebhook (owner: string, leaseMs: number): Promise<WebhookLease | null>
  /** Saves the position delivered up to and renews the lease, if `owner` still holds it; false (nothing saved) if not. */
  saveWebhookPosition (owner: string, position: string, leaseMs: number): Promise<boolean>
  /** Lets `owner`'s lease go (shutdown), so that another instance may take it at once. */
  releaseWebhook (owner: string): Promise<void>
  /** recorded_at of the first event after the webhook's saved position (feed order, committed); null when there is none. */
  webhookBacklogSince (): Promise<number | null>
}
