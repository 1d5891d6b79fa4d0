/** What every example receiver takes: the shared secret and what to do with the verified events. */

import type { WebhookEvent } from '@analytics-webhooks/verifier'

/** Options shared by the example receivers. */
export interface ReceiverOptions {
  /** The shared secret the sender signs with (or several, during a rotation). */
  secret: string | readonly string[]
  /** Called with each verified request's events. Default: log each event's type. */
  onEvents?: (events: readonly WebhookEvent[]) => void
}

/**
 * The default `onEvents`: one log line per event.
 *
 * @example
 * logEvents([{ type: 'track', event: 'Signed Up' }]) // prints "received track Signed Up"
 */
export function logEvents(events: readonly WebhookEvent[]): void {
  for (const event of events) console.log('received', event.type, event.event ?? '')
}
