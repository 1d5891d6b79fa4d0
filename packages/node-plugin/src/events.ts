/** The plugin's events (`delivered`, `retry`, `dead`, `error`) and the small typed emitter that carries them. */

import type { ReasonCode } from '@analytics-webhooks/core'

/** A request (one event, or a batch) was accepted by at least one URL. */
export interface DeliveredEvent {
  /** Queue ids of the deliveries it carried. */
  readonly ids: readonly string[]
  /** Their `messageId`s (`null` for delete notifications). */
  readonly messageIds: readonly (string | null)[]
  /** Attempts it took, counting this one (the most among a batch). */
  readonly attempts: number
  readonly status: number | undefined
}

/** A request failed temporarily; its deliveries wait for another attempt. */
export interface RetryEvent {
  readonly ids: readonly string[]
  readonly reason: ReasonCode
  readonly status: number | undefined
  /** Attempts made so far (the most among a batch). */
  readonly attempts: number
  /** When the next attempt is due at the earliest (ms since the epoch). */
  readonly at: number
}

/** Deliveries moved to the dead-letter store. */
export interface DeadEvent {
  readonly ids: readonly string[]
  readonly reason: ReasonCode
  readonly status: number | undefined
  readonly attempts: number
  readonly detail: string | null
}

/** Every event the plugin emits, by name. */
export interface WebhookPluginEvents {
  delivered: DeliveredEvent
  retry: RetryEvent
  dead: DeadEvent
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
        if (name !== 'error')
          this.emit('error', error instanceof Error ? error : new Error(String(error)))
      }
    }
  }
}
