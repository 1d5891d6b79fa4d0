/** What both plugins are to a Segment pipeline: the destination's name, and the reports they give on each request's fate. */

import type { ReasonCode } from './classify.js'

/**
 * The name both plugins register under: that of Segment's own Webhooks
 * destination, so `integrations: { Webhooks: false }` on a call skips this
 * destination in analytics-node and in analytics-next alike (and
 * `integrations: { All: false, Webhooks: true }` keeps it).
 *
 * @example
 * analytics.track({ userId: 'u1', event: 'Secret', integrations: { [DESTINATION_NAME]: false } })
 */
export const DESTINATION_NAME = 'Webhooks'

/**
 * A request (one event, or a batch) was accepted: a URL answered 2xx. Both
 * plugins report it with these fields, once per request.
 *
 * @example
 * webhooks.on('delivered', (r: DeliveredReport) => metrics.add(r.ids.length))
 */
export interface DeliveredReport {
  /**
   * One id per event the request carried, in body order. Node: the queue ids
   * of its deliveries (what the CLI lists and replays). Browser: each event's
   * `messageId` (its queue id when it has none), what the request's
   * `webhook-id` is formed from.
   */
  readonly ids: readonly string[]
  /** Their `messageId`s, in the same order (`null` for a delete notification or an event without one). */
  readonly messageIds: readonly (string | null)[]
  /** Attempts it took, counting this one (the most among a batch's events). */
  readonly attempts: number
  /** The status of the 2xx answer. */
  readonly status: number | undefined
}

/**
 * A request failed temporarily; its events wait together for another attempt,
 * which sends the same bytes under the same `webhook-id`.
 *
 * @example
 * webhooks.on('retry', (r: RetryReport) => console.log(r.reason, r.ids.length, new Date(r.at)))
 */
export interface RetryReport {
  /** As in {@link DeliveredReport}. */
  readonly ids: readonly string[]
  /** Why it failed (`timeout`, `http_5xx`, `http_429`, ...). */
  readonly reason: ReasonCode
  /** The HTTP status, when a response arrived. */
  readonly status: number | undefined
  /** Attempts made so far (the most among a batch's events). */
  readonly attempts: number
  /** When the next attempt is due at the earliest, in ms since the epoch. */
  readonly at: number
}

/**
 * A request's events were given up: a permanent failure, an event that cannot
 * be serialised (`invalid_payload`), or a retry window that closed
 * (`expired`). Node keeps them in its dead-letter store.
 *
 * @example
 * webhooks.on('dead', (r: DeadReport) => console.warn('webhook gave up', r.reason, r.detail, r.ids))
 */
export interface DeadReport {
  /** As in {@link DeliveredReport}. */
  readonly ids: readonly string[]
  /** Why it was given up. */
  readonly reason: ReasonCode
  /** The last HTTP status, when a response arrived. */
  readonly status: number | undefined
  /** Attempts made (0 for an event that could not be serialised). */
  readonly attempts: number
  /** What went wrong, for people (what is wrong with an invalid event, ...), or `null`. */
  readonly detail: string | null
}

/**
 * The reports both plugins give, by name: `plugin.on(name, listener)` takes
 * the same listener in Node and in the browser.
 *
 * @example
 * const log = <K extends keyof DeliveryReports>(name: K) => (r: DeliveryReports[K]) => console.log(name, r.ids)
 * webhooks.on('dead', log('dead'))
 */
export interface DeliveryReports {
  delivered: DeliveredReport
  retry: RetryReport
  dead: DeadReport
}
