/** W3C Trace Context `traceparent` values: written from a span context, read back into one to link to. */

/** The parts of a span context a `traceparent` carries (structurally an OpenTelemetry `SpanContext`). */
export interface TraceParent {
  readonly traceId: string
  readonly spanId: string
  readonly traceFlags: number
}

/** Version 00 as the W3C Trace Context spec writes it: lowercase hex, 55 characters. */
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/
const ZERO_TRACE_ID = '0'.repeat(32)
const ZERO_SPAN_ID = '0'.repeat(16)

/**
 * The `traceparent` header value of a span context (version 00).
 *
 * @example
 * formatTraceparent({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 })
 * // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
 */
export function formatTraceparent(context: TraceParent): string {
  const flags = context.traceFlags & 0xff
  return `00-${context.traceId}-${context.spanId}-${flags < 16 ? '0' : ''}${flags.toString(16)}`
}

/**
 * Reads a stored `traceparent` back into a span context, or `undefined` when
 * there is none or it is not a valid version-00 value (all-zero ids are
 * invalid by the spec): a delivery without one is simply not linked.
 *
 * @example
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
 * // { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }
 * parseTraceparent(null) // undefined
 */
export function parseTraceparent(value: string | null | undefined): TraceParent | undefined {
  if (typeof value !== 'string' || value.length !== 55 || !TRACEPARENT.test(value)) return undefined
  const traceId = value.slice(3, 35)
  const spanId = value.slice(36, 52)
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined
  return { traceId, spanId, traceFlags: Number.parseInt(value.slice(53), 16) }
}
