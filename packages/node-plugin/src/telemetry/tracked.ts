/** Which trace each event was tracked in: read while `analytics.track(...)` runs, kept until the plugin's hook commits the event. */

import { context, isSpanContextValid, trace } from '@opentelemetry/api'
import { formatTraceparent } from './traceparent.js'

/** The part of analytics-node's `Analytics` (an event emitter) this reads from. */
interface DispatchEmitter {
  on(event: 'dispatch_start', listener: (ctx: object) => void): unknown
  off(event: 'dispatch_start', listener: (ctx: object) => void): unknown
}

/** Kept for an event tracked outside any span, so the hook does not look again. */
const NO_TRACE = ''

/**
 * The trace context active when each event was tracked, as a `traceparent`.
 *
 * analytics-node calls the plugin's hooks later than `analytics.track(...)`,
 * from a `setTimeout` its event queue schedules. With analytics-node 3.1 the
 * caller's context does reach the hook (checked with 300 tracks in distinct
 * spans in one turn: each hook saw its own), because each event's timer is
 * created inside its own dispatch; but an event that goes through the
 * queue's shared flush timer instead (analytics-core's path when its queue
 * holds events, and other versions' scheduling) would run in the context of
 * whichever call scheduled that timer: another event's trace. analytics-node
 * emits `dispatch_start` with the event's context synchronously inside
 * `analytics.track(...)`, so a listener there runs in the caller's context
 * whatever the scheduling; it keeps the value by the context object (weakly:
 * a dropped event leaves nothing behind) until the hook asks. A hook called
 * some other way (no `dispatch_start` seen) reads the context it runs in.
 *
 * @example
 * const tracked = new TrackedTraces()
 * tracked.watch(analytics) // from the plugin's load(ctx, analytics)
 * tracked.of(ctx) // in the hook: '00-…-…-01', or undefined
 * tracked.close()
 */
export class TrackedTraces {
  private readonly byContext = new WeakMap<object, string>()
  private readonly watched: DispatchEmitter[] = []

  /** Starts recording the trace of every event `analytics` dispatches (once per instance). */
  watch(analytics: unknown): void {
    if (!isDispatchEmitter(analytics) || this.watched.includes(analytics)) return
    analytics.on('dispatch_start', this.capture)
    this.watched.push(analytics)
  }

  /** The `traceparent` of the trace `ctx`'s event was tracked in, if one was active. */
  of(ctx: object): string | undefined {
    const captured = this.byContext.get(ctx)
    if (captured === undefined) return this.active()
    return captured === NO_TRACE ? undefined : captured
  }

  /** The `traceparent` of the span active now (for calls made straight to the plugin, like `delete`). */
  active(): string | undefined {
    const spanContext = trace.getSpanContext(context.active())
    return spanContext !== undefined && isSpanContextValid(spanContext)
      ? formatTraceparent(spanContext)
      : undefined
  }

  /** Stops listening to every analytics instance watched. */
  close(): void {
    for (const analytics of this.watched) analytics.off('dispatch_start', this.capture)
    this.watched.length = 0
  }

  private readonly capture = (ctx: object): void => {
    this.byContext.set(ctx, this.active() ?? NO_TRACE)
  }
}

function isDispatchEmitter(value: unknown): value is DispatchEmitter {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<DispatchEmitter>).on === 'function' &&
    typeof (value as Partial<DispatchEmitter>).off === 'function'
  )
}
