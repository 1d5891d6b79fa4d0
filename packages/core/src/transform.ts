/** What each event becomes: the rule both plugins apply to the `transform` option's result before an event is stored. */

import { PayloadError } from './errors.js'
import { serializePayload, type WebhookPayload } from './payload.js'

/**
 * The `transform` option: given a copy of the payload as it would be sent
 * (`JSON.parse` of its body), returns the payload to send instead (an object
 * with a string `type`), or `null` to skip the event. It runs once, before the
 * event is stored, and must return synchronously.
 */
export type Transform = (payload: Record<string, unknown>) => Record<string, unknown> | null

/**
 * Runs `transform` on a serialised payload and returns the body to store (the
 * bytes that are signed and sent), or `null` when it skips the event. Throws a
 * {@link PayloadError} (`transform_failed`) when the transform throws or
 * returns anything else; the plugins dead-letter that event `invalid_payload`
 * with the message as its detail, and go on with the next.
 *
 * @example
 * transformBody((p) => ({ ...p, event: String(p.event).toLowerCase() }), body) // '{"version":1,…,"event":"signed up",…}'
 * transformBody(() => null, body) // null: skipped
 */
export function transformBody(transform: Transform, body: string): string | null {
  let payload: unknown
  try {
    payload = transform(JSON.parse(body))
  } catch (error) {
    const message = String(error instanceof Error ? error.message : error)
    throw new PayloadError('transform', 'transform_failed', `threw: ${message.slice(0, 200)}`)
  }
  if (payload === null) return null
  const type = (payload as { type?: unknown } | undefined)?.type
  if (typeof payload !== 'object' || Array.isArray(payload) || typeof type !== 'string' || !type) {
    throw new PayloadError(
      'transform',
      'transform_failed',
      'must return an object with a type, or null (not a Promise)',
    )
  }
  return serializePayload(payload as WebhookPayload)
}
