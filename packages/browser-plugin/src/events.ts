/** The typed reports a webhook plugin gives the page: delivered, retry, dead, dropped. */

import type { ReasonCode } from '@analytics-webhooks/core/classify'

/** One queued event, as every report describes it. */
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

/** What each report carries. */
export interface WebhookEventMap {
  /** A URL answered 2xx. */
  delivered: QueuedEvent & { readonly status: number | undefined }
  /**
   * A temporary failure; the event stays queued until `retryAt` (ms since the
   * epoch). Also a batch answered 413 (`http_413`): its events are sent again
   * at once, split into two smaller requests.
   */
  retry: QueuedEvent & {
    readonly reason: ReasonCode
    readonly status: number | undefined
    readonly retryAt: number
  }
  /** A permanent failure, an invalid event or an expired retry window: the event is given up. */
  dead: QueuedEvent & {
    readonly reason: ReasonCode
    readonly status: number | undefined
    /** For `invalid_payload`: what is wrong with the event (e.g. "contains a circular reference"). */
    readonly detail?: string
  }
  /** The queue made room (oldest first) or could not read or store an event. */
  dropped: QueuedEvent & { readonly reason: DropReason }
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
 * const off = on('dead', (r) => console.log(r.reason))
 * emit('dead', { id, messageId, body, attempts: 1, reason: 'http_4xx', status: 400 })
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
