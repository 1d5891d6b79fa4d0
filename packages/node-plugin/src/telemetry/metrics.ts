/** The plugin's OpenTelemetry metrics: instruments made once per worker, recorded from the delivery loop's outcomes. */

import type { ReasonCode } from '@analytics-webhooks/core'
import {
  type Attributes,
  type Counter,
  type Histogram,
  type Meter,
  type ObservableGauge,
  type ObservableResult,
  ValueType,
} from '@opentelemetry/api'
import type { ClaimedRequest, QueueStats } from '../store/types.js'
import type { TargetAttributes } from './target.js'

/** The one prefix of every name (metrics and attributes) no semantic convention covers. */
export const PREFIX = 'analytics_webhooks'

/** What happened to a delivery, as the `analytics_webhooks.deliveries` counter says it. */
export type DeliveryOutcome = 'delivered' | 'retried' | 'dead'

/** Why events never reached the queue: the `events` setting or the `transform` hook filtered them. */
export type FilterReason = 'events' | 'transform'

/** The HTTP conventions' advised boundaries for `http.client.request.duration` (seconds). */
const HTTP_DURATION_BUCKETS = [
  0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]

/** Enqueue to delivered: milliseconds when the receiver is up, up to the 4 h retry window when it was not. */
const DELIVERY_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200,
  14_400,
]

/** 1 is the first attempt; the default backoff reaches ~30 attempts in the 4 h window. */
const ATTEMPT_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50]

/** `stats()` fields and the `analytics_webhooks.queue.state` value each is observed under. */
const DEPTH_STATES = [
  ['queued', 'queued'],
  ['inFlight', 'in_flight'],
  ['retrying', 'retrying'],
  ['dead', 'dead'],
] as const satisfies ReadonlyArray<readonly [keyof QueueStats, string]>

/** What {@link DeliveryMetrics} measures and where the queue's depth is read. */
export interface MetricsConfig {
  readonly meter: Meter
  readonly queue: string
  /** The queue's `stats()` from its store (which may still be opening, or closed). */
  readonly stats: () => Promise<QueueStats>
  /** One per webhook URL, in settings order. */
  readonly targets: readonly TargetAttributes[]
  readonly now: () => number
}

/**
 * The instruments of one plugin's queue. Attribute sets are built once and
 * kept (by URL, status and error type; by outcome and reason), so recording
 * allocates nothing a second time. The queue's depth is an observable gauge
 * read from the store's `stats(queue)`: one query per collection however many
 * readers collect at once, and a query that fails observes nothing rather
 * than throwing into the SDK.
 *
 * @example
 * const metrics = new DeliveryMetrics({ meter, queue: 'default', stats: () => store.stats('default'), targets, now: Date.now })
 * metrics.requestDuration(0, 0.042, 200, undefined)
 * metrics.delivered(request)
 * metrics.close() // before the store closes
 */
export class DeliveryMetrics {
  private readonly config: MetricsConfig
  private readonly duration: Histogram
  private readonly deliveries: Counter
  private readonly deliveryDuration: Histogram
  private readonly attempts: Histogram
  private readonly filteredEvents: Counter
  private readonly depth: ObservableGauge
  private readonly queueAttributes: Attributes
  /** Per URL: what every request-duration point carries (the conventions leave `url.full` to spans: it is unbounded). */
  private readonly serverAttributes: readonly Attributes[]
  /** Per URL: the request-duration attributes by `status|error.type`. */
  private readonly requestAttributes: Map<string, Attributes>[]
  /** `analytics_webhooks.deliveries` attributes by `outcome|reason`. */
  private readonly outcomeAttributes = new Map<string, Attributes>()
  private readonly filterAttributes: Record<FilterReason, Attributes>
  private readonly stateAttributes: readonly Attributes[]
  /** The query the current collection waits on, shared by collections that overlap it. */
  private reading: Promise<QueueStats | undefined> | undefined

  constructor(config: MetricsConfig) {
    this.config = config
    const { meter, queue } = config
    this.duration = meter.createHistogram('http.client.request.duration', {
      description: 'Duration of HTTP client requests.',
      unit: 's',
      advice: { explicitBucketBoundaries: HTTP_DURATION_BUCKETS },
    })
    this.deliveries = meter.createCounter(`${PREFIX}.deliveries`, {
      description:
        'Webhook deliveries by outcome: delivered, retried (a failed attempt scheduled again) or dead.',
      unit: '{delivery}',
      valueType: ValueType.INT,
    })
    this.deliveryDuration = meter.createHistogram(`${PREFIX}.delivery.duration`, {
      description: 'Time from enqueue to delivered, per delivered event.',
      unit: 's',
      advice: { explicitBucketBoundaries: DELIVERY_DURATION_BUCKETS },
    })
    this.attempts = meter.createHistogram(`${PREFIX}.delivery.attempts`, {
      description: 'Attempts it took to deliver, per delivered event (1: the first).',
      unit: '{attempt}',
      valueType: ValueType.INT,
      advice: { explicitBucketBoundaries: ATTEMPT_BUCKETS },
    })
    this.filteredEvents = meter.createCounter(`${PREFIX}.events.filtered`, {
      description: 'Events the plugin filtered out before queueing them.',
      unit: '{event}',
      valueType: ValueType.INT,
    })
    this.depth = meter.createObservableGauge(`${PREFIX}.queue.depth`, {
      description: "Deliveries in the queue by state, as the store's stats() counts them.",
      unit: '{delivery}',
      valueType: ValueType.INT,
    })
    this.queueAttributes = { [`${PREFIX}.queue`]: queue }
    this.serverAttributes = config.targets.map((target) => ({
      'http.request.method': target['http.request.method'],
      'server.address': target['server.address'],
      'server.port': target['server.port'],
    }))
    this.requestAttributes = config.targets.map(() => new Map())
    this.filterAttributes = {
      events: { ...this.queueAttributes, [`${PREFIX}.reason`]: 'events' },
      transform: { ...this.queueAttributes, [`${PREFIX}.reason`]: 'transform' },
    }
    this.stateAttributes = DEPTH_STATES.map(([, state]) => ({
      ...this.queueAttributes,
      [`${PREFIX}.queue.state`]: state,
    }))
    this.depth.addCallback(this.observeDepth)
  }

  /** Records one attempt at URL `target` (its index): `http.client.request.duration`. */
  requestDuration(
    target: number,
    seconds: number,
    status: number | undefined,
    errorType: string | undefined,
  ): void {
    const byKey = this.requestAttributes[target] as Map<string, Attributes>
    const key = `${status}|${errorType}`
    let attributes = byKey.get(key)
    if (attributes === undefined) {
      const base: Attributes = { ...this.serverAttributes[target] }
      if (status !== undefined) base['http.response.status_code'] = status
      if (errorType !== undefined) base['error.type'] = errorType
      attributes = base
      byKey.set(key, attributes)
    }
    this.duration.record(seconds, attributes)
  }

  /**
   * A request was delivered: counts its deliveries, and records each one's
   * time since enqueue and the request's attempt count (a batch's deliveries
   * share the request's schedule, so they share its count).
   */
  delivered(request: ClaimedRequest): void {
    const { deliveries } = request
    this.deliveries.add(deliveries.length, this.outcome('delivered', undefined))
    const now = this.config.now()
    const attempts = request.attempts + 1
    const attributes = this.queueAttributes
    for (let i = 0; i < deliveries.length; i++) {
      const delivery = deliveries[i] as ClaimedRequest['deliveries'][number]
      this.deliveryDuration.record(Math.max(0, now - delivery.enqueuedAt) / 1000, attributes)
      this.attempts.record(attempts, attributes)
    }
  }

  /** `count` deliveries failed an attempt and were scheduled again, or died, for `reason`. */
  failed(outcome: Exclude<DeliveryOutcome, 'delivered'>, count: number, reason: ReasonCode): void {
    this.deliveries.add(count, this.outcome(outcome, reason))
  }

  /** `count` events were filtered out before queueing, by the `events` setting or the `transform` hook. */
  filtered(count: number, reason: FilterReason): void {
    this.filteredEvents.add(count, this.filterAttributes[reason])
  }

  /** Stops observing the queue's depth: call it before the store closes. */
  close(): void {
    this.depth.removeCallback(this.observeDepth)
  }

  private outcome(outcome: DeliveryOutcome, reason: ReasonCode | undefined): Attributes {
    const key = `${outcome}|${reason}`
    let attributes = this.outcomeAttributes.get(key)
    if (attributes === undefined) {
      attributes = { ...this.queueAttributes, [`${PREFIX}.outcome`]: outcome }
      // A reason code is a class of failure: the conventions' `error.type`.
      if (reason !== undefined) attributes['error.type'] = reason
      this.outcomeAttributes.set(key, attributes)
    }
    return attributes
  }

  private readonly observeDepth = async (result: ObservableResult): Promise<void> => {
    const stats = await this.readStats()
    if (stats === undefined) return
    for (let i = 0; i < DEPTH_STATES.length; i++) {
      const [field] = DEPTH_STATES[i] as (typeof DEPTH_STATES)[number]
      result.observe(stats[field], this.stateAttributes[i])
    }
  }

  /**
   * One `stats(queue)` for every collection waiting now. A failure (the store
   * closed, PostgreSQL down) observes nothing: the worker reports store
   * failures as `error` events already, and a callback that throws would
   * fail the reader's whole collection.
   */
  private readStats(): Promise<QueueStats | undefined> {
    if (this.reading === undefined) {
      const { stats } = this.config
      this.reading = Promise.resolve()
        .then(stats)
        .catch(() => undefined)
        .finally(() => {
          this.reading = undefined
        })
    }
    return this.reading
  }
}
