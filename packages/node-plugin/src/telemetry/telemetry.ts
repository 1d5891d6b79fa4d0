/** What the plugin measures once an OpenTelemetry SDK is registered: attempt spans and timings, outcomes, the queue's depth, tracked traces. */

import type { AttemptResult, ReasonCode } from '@analytics-webhooks/core'
import type { Meter, Tracer } from '@opentelemetry/api'
import type { ResponseSeen } from '../http.js'
import type { ClaimedRequest, QueueStats } from '../store/types.js'
import { DeliveryMetrics, type FilterReason } from './metrics.js'
import { AttemptSpans } from './spans.js'
import { targetAttributes } from './target.js'
import { formatTraceparent } from './traceparent.js'
import { TrackedTraces } from './tracked.js'

/** What {@link Telemetry} needs: where it measures, and which signals have an SDK behind them. */
export interface TelemetryConfig {
  /** The registered SDK's tracer, or `undefined` when no tracer provider is registered. */
  readonly tracer: Tracer | undefined
  /** The registered SDK's meter, or `undefined` when no meter provider is registered. */
  readonly meter: Meter | undefined
  readonly webhooks: readonly string[]
  readonly method: string
  readonly queue: string
  /** The queue's `stats()` from its store, read by the queue-depth gauge. */
  readonly stats: () => Promise<QueueStats>
  /** Send each attempt's span context to the receiver as a `traceparent` header. */
  readonly sendTraceparent: boolean
  readonly now: () => number
}

/** Sends one attempt with these headers, noting the response's status in `seen` (http.ts's `attempt`). */
export type SendAttempt = (
  headers: Record<string, string>,
  seen: ResponseSeen,
) => Promise<AttemptResult>

/**
 * One plugin's telemetry, made only when an SDK is registered (see
 * `loadTelemetry`); the worker holds `undefined` otherwise and measures
 * nothing. Spans and metrics are independent: a process that registers only
 * a meter provider gets metrics and no spans.
 *
 * @example
 * const telemetry = new Telemetry({ tracer, meter, webhooks, method: 'POST', queue, stats, sendTraceparent: false, now: Date.now })
 * const result = await telemetry.attempt(0, request, headers, (sent, seen) => attempt(dispatcher, target, 'POST', sent, body, 5000, Date.now, seen))
 * telemetry.delivered(request)
 * telemetry.close()
 */
export class Telemetry {
  /** Whether attempts carry a `traceparent` header (spans on and `sendTraceparent` set). */
  readonly sendsTraceparent: boolean
  private readonly spans: AttemptSpans | undefined
  private readonly metrics: DeliveryMetrics | undefined
  private readonly tracked: TrackedTraces | undefined

  constructor(config: TelemetryConfig) {
    const targets = config.webhooks.map((url) => targetAttributes(url, config.method))
    this.spans =
      config.tracer === undefined
        ? undefined
        : new AttemptSpans(config.tracer, targets, config.queue)
    this.tracked = config.tracer === undefined ? undefined : new TrackedTraces()
    this.metrics =
      config.meter === undefined
        ? undefined
        : new DeliveryMetrics({
            meter: config.meter,
            queue: config.queue,
            stats: config.stats,
            targets,
            now: config.now,
          })
    this.sendsTraceparent = config.sendTraceparent && this.spans !== undefined
  }

  /**
   * Sends one attempt at URL `target` (its index) inside its span, and
   * records its duration: a monotonic clock around the whole exchange, body
   * included, as `http.client.request.duration` defines it.
   */
  async attempt(
    target: number,
    request: ClaimedRequest,
    headers: Record<string, string>,
    send: SendAttempt,
  ): Promise<AttemptResult> {
    const span = this.spans?.start(target, request)
    const sent =
      span !== undefined && this.sendsTraceparent
        ? { ...headers, traceparent: formatTraceparent(span.spanContext()) }
        : headers
    const seen: ResponseSeen = { status: undefined }
    const started = performance.now()
    const result = await send(sent, seen)
    const seconds = (performance.now() - started) / 1000
    const failure = errorType(result, seen.status)
    this.metrics?.requestDuration(target, seconds, seen.status, failure)
    if (span !== undefined) {
      this.spans?.end(
        span,
        seen.status,
        failure,
        result.verdict === 'delivered' ? undefined : result.reason,
      )
    }
    return result
  }

  /** A request was delivered (2xx from a URL). */
  delivered(request: ClaimedRequest): void {
    this.metrics?.delivered(request)
  }

  /** `count` deliveries failed an attempt for `reason` and were scheduled again. */
  retried(count: number, reason: ReasonCode): void {
    this.metrics?.failed('retried', count, reason)
  }

  /** `count` deliveries were dead-lettered for `reason` (`expired`, `invalid_payload` and permanent failures). */
  dead(count: number, reason: ReasonCode): void {
    this.metrics?.failed('dead', count, reason)
  }

  /** `count` events were filtered out before queueing, by the `events` setting or the `transform` hook. */
  filtered(count: number, reason: FilterReason): void {
    this.metrics?.filtered(count, reason)
  }

  /** Starts recording the trace each event is tracked in, from the analytics-node instance the plugin is registered on. */
  watch(analytics: unknown): void {
    this.tracked?.watch(analytics)
  }

  /** The `traceparent` of the trace the event of `ctx` was tracked in, to store with its delivery. */
  traceparentOf(ctx: object): string | undefined {
    return this.tracked?.of(ctx)
  }

  /** The `traceparent` of the span active now (a `delete()` call's). */
  activeTraceparent(): string | undefined {
    return this.tracked?.active()
  }

  /** Stops observing the store and analytics-node: call it before the store closes. */
  close(): void {
    this.metrics?.close()
    this.tracked?.close()
  }
}

/**
 * `error.type` as the HTTP conventions define it: the status code as a
 * string for a response of 400 or more; the plugin's reason code when the
 * exchange failed otherwise (`timeout`, `connection_refused`, `tls`, …, also a
 * timeout reading the body of a response that came); none for a response
 * below 400 that was read whole, a 3xx included: the exchange succeeded,
 * and its dead letter is counted in `analytics_webhooks.deliveries`.
 *
 * @example
 * errorType({ verdict: 'retry', reason: 'http_5xx', status: 503 }, 503) // '503'
 * errorType({ verdict: 'retry', reason: 'connection_refused' }, undefined) // 'connection_refused'
 */
export function errorType(result: AttemptResult, status: number | undefined): string | undefined {
  if (status !== undefined && status >= 400) return String(status)
  if (result.verdict === 'delivered' || result.reason.startsWith('http_')) return undefined
  return result.reason
}
