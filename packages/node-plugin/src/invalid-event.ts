/** What a dead letter says about an event that cannot be sent as JSON: its reason and a short preview, never a body. */

import { PayloadError } from '@analytics-webhooks/core'

/** How much of an unsendable event a dead letter's detail shows. */
const PREVIEW_CHARS = 200

/**
 * The detail of the dead letter for an event `encodeEvent` refused with
 * `error`: the reason, then a preview of the event (see {@link preview}).
 *
 * @example
 * invalidEventDetail(event, error) // 'Invalid webhook payload: ...; event: {"type":"track",...}'
 */
export function invalidEventDetail(event: unknown, error: unknown): string {
  const reason =
    error instanceof PayloadError ? error.message : `Invalid webhook payload: ${String(error)}`
  return `${reason}; event: ${preview(event)}`
}

/**
 * A short preview of an event JSON cannot carry as is (circular, BigInt), for
 * the dead letter's detail: never a body, so nothing can sign or send it.
 * Library-internal fields (`_metadata`, `writeKey`, `options`) are left out.
 */
function preview(event: unknown): string {
  const { _metadata, writeKey, options, ...fields } = (event ?? {}) as Record<string, unknown>
  const seen = new WeakSet<object>()
  let text: string
  try {
    text =
      JSON.stringify(fields, (_key, value: unknown) => {
        if (typeof value === 'bigint') return `${value}n`
        if (typeof value === 'object' && value !== null) {
          if (seen.has(value)) return '[Circular]'
          seen.add(value)
        }
        return value
      }) ?? '?'
  } catch {
    text = '?'
  }
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text
}
