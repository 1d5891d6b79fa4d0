/** The typed reports a webhook plugin gives the page: core's delivered, retry and dead, and the browser's own dropped and filtered. */

import type { DeadReport, DeliveryReports } from '@analytics-webhooks/core/destination'

/** One queued event, as a `dropped` report describes it. */
export interface QueuedEvent {
  /**
   * The queue's id of the entry holding the event (unique in this browser
   * profile): the event's own until it is first sent, then its request's,
   * which the events of a batch share.
   */
  readonly id: string
  /** The event's `messageId`, the id receivers dedupe on. */
  readonly messageId: string
  /** The exact JSON text that is (or would have been) sent. */
  readonly body: string
  /** Attempts made so far, this one included. */
  readonly attempts: number
}

/** Why an event left the queue without being delivered or dead-lettered. */
export type DropReason = 'queue_full' | 'storage_full' | 'corrupt'

/**
 * What each report carries. `delivered`, `retry` and `dead` are core's
 * reports, one per request with the node plugin's fields, so one listener
 * works on both plugins; `ids` holds each event's `messageId` (its queue id
 * when it has none), in body order.
 */
export interface WebhookEventMap extends DeliveryReports {
  /**
   * A permanent failure, an invalid event or an expired retry window: the
   * request's events are given up. `detail` says what is wrong with an
   * invalid event (e.g. "contains a circular reference"), else it is `null`.
   * A browser keeps no dead-letter store, so `body` is the request's exact
   * text (`''` for an event that could not be serialised), for the page to keep.
   */
  dead: DeadReport & { readonly body: string }
  /** The queue made room (oldest first) or could not read or store an event: one report per event. */
  dropped: QueuedEvent & { readonly reason: DropReason }
  /**
   * An event this destination does not send, neither queued nor sent: left
   * out by the `events` setting (`events`) or skipped by `transform`
   * (`transform`, it returned `null`). One report per event.
   */
  filtered: { readonly messageId: string; readonly reason: 'events' | 'transform' }
}

/** The name of a report. */
export type WebhookEventName = keyof WebhookEventMap

/** A function called with a report. */
export type WebhookListener<E extends WebhookEventName> = (report: WebhookEventMap[E]) => void

/** Subscribes to reports; returns a function that unsubscribes. */
export type Subscribe = <E extends WebhookEventName>(
  event: E,
  listener: WebhookListener<E>,
) => () => void

/** Sends a report to its listeners. */
export type Emit = <E extends WebhookEventName>(event: E, report: WebhookEventMap[E]) => void

/**
 * A small typed emitter. A listener that throws is reported with
 * `console.error` and never stops delivery or the other listeners.
 *
 * @example
 * const { on, emit } = createReports()
 * const off = on('retry', (r) => console.log(r.reason, r.ids))
 * emit('retry', { ids: ['ajs-next-1'], reason: 'http_5xx', status: 503, attempts: 1, at: Date.now() + 1000 })
 * off()
 */
export function createReports(): { on: Subscribe; emit: Emit } {
  const listeners = new Map<WebhookEventName, Set<(report: never) => void>>()
  return {
    on(event, listener) {
      const set = listeners.get(event) ?? new Set()
      listeners.set(event, set)
      set.add(listener)
      return () => set.delete(listener)
    },
    emit(event, report) {
      for (const listener of listeners.get(event) ?? []) {
        try {
          ;(listener as WebhookListener<typeof event>)(report)
        } catch (error) {
          console.error(error)
        }
      }
    },
  }
}
