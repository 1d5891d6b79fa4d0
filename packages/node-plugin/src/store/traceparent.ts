/** Which W3C `traceparent` values a store keeps with a delivery: a well-formed one, else none. */

/** version-traceid-parentid-flags, lowercase hex, as the W3C Trace Context header writes it (55 characters). */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/

/**
 * The `traceparent` a store keeps for a delivery: `value` when it is a
 * well-formed header value, else `null`. Never throws, whatever it is given:
 * one event with a bad value must not fail the commit of the others, and a
 * link to a trace is worth less than the event.
 *
 * @example
 * storedTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01') // the same string
 * storedTraceparent('00-4BF92F35…') // null
 * storedTraceparent(undefined) // null
 */
export function storedTraceparent(value: unknown): string | null {
  // The common case (none) costs one typeof; a value of the wrong length skips the regular expression.
  return typeof value === 'string' && value.length === 55 && TRACEPARENT.test(value) ? value : null
}
