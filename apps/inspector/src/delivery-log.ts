/** The last N deliveries the inspector received, in memory, with live updates for the page. */

import type { FaultMode } from './fault-mode.js'
import type { SignatureVerdict } from './verdict.js'

/** How the inspector's exchange with the sender ended. */
export type ExchangeOutcome =
  /** Still in progress (a `hang` that has not ended yet). */
  | 'pending'
  /** A status code was sent. */
  | 'answered'
  /** The connection was destroyed on purpose (`drop` mode). */
  | 'dropped'
  /** The sender closed the connection before an answer was sent (it gave up on a `hang`). */
  | 'abandoned'

/** What the inspector answered, as the sender saw it. */
export interface Answer {
  readonly outcome: ExchangeOutcome
  /** The status sent, or `null` when none was. */
  readonly status: number | null
  /** The fault mode this delivery got. */
  readonly mode: FaultMode
  /** A short line for the page: "200 OK", "dropped the connection", … */
  readonly note: string
  /** From the end of the request to the end of the exchange; `null` while pending. */
  readonly durationMs: number | null
}

/** One request received on `/hooks`. */
export interface Delivery {
  /** Increasing number, 1 for the first delivery since start. */
  readonly id: number
  /** ISO-8601 time the request ended. */
  readonly receivedAt: string
  readonly method: string
  /** The request path, e.g. `/hooks/orders`. */
  readonly path: string
  /** The name after `/hooks/`, or `null` for `/hooks`. */
  readonly hook: string | null
  /** Request headers, names in lower case, repeated values joined with `, `. */
  readonly headers: Readonly<Record<string, string>>
  /** The body as UTF-8 text (the raw bytes decoded). */
  readonly body: string
  readonly bodyBytes: number
  /** Events in the body: 1 for an object, the length of an array (a batch), 0 for anything else. */
  readonly eventCount: number
  readonly isBatch: boolean
  /** The `type` of each event, in order (`track`, `identify`, `delete`, …). */
  readonly eventTypes: readonly string[]
  /** The `messageId` of each event that has one. */
  readonly messageIds: readonly string[]
  readonly verdict: SignatureVerdict
  answer: Answer
}

/** Something the log tells its subscribers. */
export type DeliveryLogEvent = { kind: 'delivery'; delivery: Delivery } | { kind: 'cleared' }

/**
 * A bounded, in-memory list of deliveries: the oldest is forgotten when a new
 * one arrives and the log is full. Subscribers hear about new deliveries and
 * about updates to them (a hang that ended).
 *
 * @example
 * const log = new DeliveryLog(100)
 * log.subscribe((event) => console.log(event.kind))
 */
export class DeliveryLog {
  private readonly items: Delivery[] = []
  private readonly listeners = new Set<(event: DeliveryLogEvent) => void>()
  private lastId = 0

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError('capacity must be a whole number of at least 1')
    }
  }

  /** The next id to give a delivery. */
  nextId(): number {
    this.lastId += 1
    return this.lastId
  }

  /** Adds a delivery, forgetting the oldest when full. */
  add(delivery: Delivery): void {
    this.items.push(delivery)
    if (this.items.length > this.capacity) this.items.shift()
    this.emit({ kind: 'delivery', delivery })
  }

  /** Records how the exchange ended and tells the subscribers. */
  settle(delivery: Delivery, answer: Answer): void {
    delivery.answer = answer
    this.emit({ kind: 'delivery', delivery })
  }

  /** Oldest first. */
  list(): readonly Delivery[] {
    return [...this.items]
  }

  /** Forgets every delivery (ids keep counting up). */
  clear(): void {
    this.items.length = 0
    this.emit({ kind: 'cleared' })
  }

  /** Calls `listener` for every change; returns a function that stops it. */
  subscribe(listener: (event: DeliveryLogEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(event: DeliveryLogEvent): void {
    for (const listener of this.listeners) listener(event)
  }
}
