/** The plugin's events (`delivered`, `retry`, `dead`, `error`) and the small typed emitter that carries them. */

import {
  asError,
  type DeadReport,
  type DeliveredReport,
  type DeliveryReports,
  type RetryReport,
} from '@analytics-webhooks/core'

/** A request (one event, or a batch) was accepted by at least one URL: core's {@link DeliveredReport}, as the browser plugin reports it. */
export type DeliveredEvent = DeliveredReport

/** A request failed temporarily; its deliveries wait for another attempt: core's {@link RetryReport}. */
export type RetryEvent = RetryReport

/** Deliveries moved to the dead-letter store: core's {@link DeadReport}. */
export type DeadEvent = DeadReport

/** Every event the plugin emits, by name. */
export interface WebhookPluginEvents extends DeliveryReports {
  /** A store or internal failure; delivery continues (at-least-once). Never thrown at the process. */
  error: Error
}

/** A listener for one event. */
export type Listener<K extends keyof WebhookPluginEvents> = (
  payload: WebhookPluginEvents[K],
) => void

/**
 * A typed emitter that never throws at the emitter: an `error` with no
 * listener is dropped (unlike `EventEmitter`, which would crash the process),
 * and a listener that throws does not stop delivery.
 *
 * @example
 * const events = new PluginEvents()
 * const off = events.on('dead', (e) => console.log(e.reason))
 * off()
 */
export class PluginEvents {
  private readonly listeners: { [K in keyof WebhookPluginEvents]: Set<Listener<K>> } = {
    delivered: new Set(),
    retry: new Set(),
    dead: new Set(),
    error: new Set(),
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof WebhookPluginEvents>(name: K, listener: Listener<K>): () => void {
    this.listeners[name].add(listener)
    return () => this.off(name, listener)
  }

  /** Removes a listener. */
  off<K extends keyof WebhookPluginEvents>(name: K, listener: Listener<K>): void {
    this.listeners[name].delete(listener)
  }

  /** Whether anyone listens to `name` (so callers can skip building a payload). */
  has(name: keyof WebhookPluginEvents): boolean {
    return this.listeners[name].size > 0
  }

  /** Calls every listener of `name`; a listener's exception is reported as `error` (once) and otherwise ignored. */
  emit<K extends keyof WebhookPluginEvents>(name: K, payload: WebhookPluginEvents[K]): void {
    for (const listener of this.listeners[name]) {
      try {
        listener(payload)
      } catch (error) {
        if (name !== 'error') this.emit('error', asError(error))
      }
    }
  }
}
