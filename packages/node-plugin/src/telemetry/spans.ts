/** One CLIENT span per attempt at one URL, with OpenTelemetry's HTTP client attributes and links to the traces the events were tracked in. */

import type { ReasonCode } from '@analytics-webhooks/core'
import {
  type Attributes,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api'
import type { ClaimedRequest } from '../store/types.js'
import { PREFIX } from './metrics.js'
import type { TargetAttributes } from './target.js'
import { parseTraceparent } from './traceparent.js'

/**
 * Starts and ends attempt spans. Each is a root span (the worker's loop runs
 * in whatever context started it, which is not the events' trace): it starts
 * a trace of its own and links to every distinct trace its deliveries were
 * tracked in (a batch may carry events of many), as the messaging
 * conventions do for a message sent apart from where it was produced.
 *
 * @example
 * const spans = new AttemptSpans(tracer, targets, 'default')
 * const span = spans.start(0, request)
 * spans.end(span, 200, undefined, undefined)
 */
export class AttemptSpans {
  private readonly tracer: Tracer
  /** Per URL: the attributes known when the span starts (samplers see them). */
  private readonly startAttributes: readonly Attributes[]

  constructor(tracer: Tracer, targets: readonly TargetAttributes[], queue: string) {
    this.tracer = tracer
    this.startAttributes = targets.map((target) => ({ ...target, [`${PREFIX}.queue`]: queue }))
  }

  /** Starts the span of an attempt at URL `target` (its index) to send `request`. */
  start(target: number, request: ClaimedRequest): Span {
    const base = this.startAttributes[target] as Attributes
    // The conventions' resend count: set on resends only, counting every earlier attempt.
    const attributes =
      request.attempts > 0 ? { ...base, 'http.request.resend_count': request.attempts } : base
    const method = base['http.request.method'] as string
    return this.tracer.startSpan(
      method,
      { kind: SpanKind.CLIENT, attributes, links: linksOf(request) },
      ROOT_CONTEXT,
    )
  }

  /**
   * Ends an attempt's span with what came back: the response's status code
   * when there was one, `error.type` and status ERROR when the conventions
   * call it a failure (`errorType` set), and the plugin's reason code when the
   * attempt did not deliver (a 3xx is not an HTTP error, but a dead letter here).
   */
  end(
    span: Span,
    status: number | undefined,
    errorType: string | undefined,
    reason: ReasonCode | undefined,
  ): void {
    if (status !== undefined) span.setAttribute('http.response.status_code', status)
    if (reason !== undefined) span.setAttribute(`${PREFIX}.reason`, reason)
    if (errorType !== undefined) {
      span.setAttribute('error.type', errorType)
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.end()
  }
}

/** No links: shared, since the SDK copies a span's links into its own list. */
const NO_LINKS: readonly Link[] = Object.freeze([])

/** One link per distinct trace the request's deliveries were tracked in (the first span seen of each). */
function linksOf(request: ClaimedRequest): Link[] {
  let links: Link[] | undefined
  for (const delivery of request.deliveries) {
    const parent = parseTraceparent(delivery.traceparent)
    if (parent === undefined) continue
    links ??= []
    // A linear search: a batch's events mostly come from a few traces.
    if (links.some((link) => link.context.traceId === parent.traceId)) continue
    links.push({ context: { ...parent, isRemote: true } })
  }
  return links ?? (NO_LINKS as Link[])
}
