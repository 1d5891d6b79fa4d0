/** The verification rules both paths share: reading signature headers, what each scheme signs, and the verified result. */

import { WebhookVerificationError } from './errors.js'
import { type HeaderSource, readHeader } from './headers.js'
import type { PreparedOptions } from './options.js'

/** The raw request body, exactly as received. */
export type RawBody = string | Uint8Array | ArrayBuffer

/** One verified event: a JSON object with a string `type` (`track`, `identify`, ..., `delete`). */
export interface WebhookEvent {
  readonly type: string
  readonly [field: string]: unknown
}

/** What a successful verification returns (and what the adapters attach to the request as `webhook`). */
export interface VerifiedWebhook {
  /** The events, parsed from {@link VerifiedWebhook.body}: one, or every element of a batch. */
  readonly events: readonly WebhookEvent[]
  /**
   * The verified text the events were parsed from: the signed text, never
   * unsigned bytes. It is the received body (decoded as UTF-8) unless
   * `reserialized` is `true`. For a classic batch only its first element is
   * signed (see the README).
   */
  readonly body: string
  /**
   * `true` when the received bytes did not match the classic signature but
   * `JSON.stringify(JSON.parse(body))` did (what the spec's receiver
   * computes): `body` and `events` are then that signed text and what parses
   * from it, not the bytes received. Always `false` for the standard scheme.
   */
  readonly reserialized: boolean
  /** `true` when the body was a JSON array. */
  readonly isBatch: boolean
  /** The scheme whose signature verified. */
  readonly scheme: 'classic' | 'standard'
  /** Standard Webhooks `webhook-id` (stable across retries: dedupe on it); `undefined` for classic. */
  readonly id: string | undefined
}

/** A Standard Webhooks request's signature headers, checked. */
export interface StandardHeaders {
  readonly id: string
  /** `id.timestamp.`: what is signed before the body. */
  readonly prefix: string
  /** The base64 values of the `v1,` signatures. */
  readonly signatures: readonly string[]
}

const HEX_SHA1 = /^[0-9a-fA-F]{40}$/
const V1_ENTRY_LENGTH = 47 // 'v1,' + 43 base64 digits + '='

/** Which scheme a request is checked against under the configured one. */
export function chooseScheme(
  prepared: PreparedOptions,
  headers: HeaderSource,
): 'classic' | 'standard' {
  if (prepared.scheme !== 'auto') return prepared.scheme
  return readHeader(headers, 'webhook-signature') !== undefined ? 'standard' : 'classic'
}

/** The classic `X-Signature` header: 40 hex digits, else a `missing_signature`/`malformed_signature` error. */
export function classicSignature(headers: HeaderSource): string {
  const value = readHeader(headers, 'x-signature')
  if (value === undefined || value.length === 0) {
    throw new WebhookVerificationError('missing_signature', 'the X-Signature header is missing')
  }
  if (!HEX_SHA1.test(value)) {
    throw new WebhookVerificationError(
      'malformed_signature',
      'X-Signature must be 40 hexadecimal digits (HMAC-SHA1)',
    )
  }
  return value
}

/**
 * The Standard Webhooks headers, checked in this order: signature present, id
 * present, timestamp present, numeric and within tolerance, at least one
 * well-formed `v1,` signature (other versions are ignored, as the spec says).
 */
export function standardHeaders(headers: HeaderSource, prepared: PreparedOptions): StandardHeaders {
  const signature = readHeader(headers, 'webhook-signature')
  if (signature === undefined || signature.length === 0) {
    throw new WebhookVerificationError(
      'missing_signature',
      'the webhook-signature header is missing',
    )
  }
  const id = readHeader(headers, 'webhook-id')
  if (id === undefined || id.length === 0) {
    throw new WebhookVerificationError('missing_id', 'the webhook-id header is missing')
  }
  const timestamp = readHeader(headers, 'webhook-timestamp')
  if (timestamp === undefined || timestamp.length === 0) {
    throw new WebhookVerificationError(
      'missing_timestamp',
      'the webhook-timestamp header is missing',
    )
  }
  if (!isSeconds(timestamp)) {
    throw new WebhookVerificationError(
      'invalid_timestamp',
      'webhook-timestamp must be whole seconds since the epoch',
    )
  }
  const nowSeconds = Math.floor(prepared.now() / 1000)
  if (Math.abs(nowSeconds - Number(timestamp)) > prepared.toleranceSeconds) {
    throw new WebhookVerificationError(
      'timestamp_out_of_tolerance',
      `webhook-timestamp is more than ${prepared.toleranceSeconds} s away from now`,
    )
  }
  const signatures: string[] = []
  // The space-separated entries, without split(): most headers hold exactly one.
  for (let start = 0; start <= signature.length; ) {
    let end = signature.indexOf(' ', start)
    if (end < 0) end = signature.length
    if (end - start === V1_ENTRY_LENGTH && isV1Entry(signature, start)) {
      signatures.push(signature.slice(start + 3, end))
    }
    start = end + 1
  }
  if (signatures.length === 0) {
    throw new WebhookVerificationError(
      'malformed_signature',
      'webhook-signature has no v1,<base64 HMAC-SHA256> entry',
    )
  }
  return { id, prefix: `${id}.${timestamp}.`, signatures }
}

/** `/^[0-9]{1,15}$/` without a regular expression: whole seconds. */
function isSeconds(text: string): boolean {
  if (text.length === 0 || text.length > 15) return false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x30 || code > 0x39) return false
  }
  return true
}

/** Whether the 47 characters at `start` are `v1,` and a base64 SHA-256 (`/^[A-Za-z0-9+/]{43}=$/`). */
function isV1Entry(text: string, start: number): boolean {
  if (
    text.charCodeAt(start) !== 0x76 || // v
    text.charCodeAt(start + 1) !== 0x31 || // 1
    text.charCodeAt(start + 2) !== 0x2c || // ,
    text.charCodeAt(start + V1_ENTRY_LENGTH - 1) !== 0x3d // =
  ) {
    return false
  }
  for (let i = start + 3; i < start + V1_ENTRY_LENGTH - 1; i++) {
    const code = text.charCodeAt(i)
    const isDigit =
      (code >= 0x41 && code <= 0x5a) || // A-Z
      (code >= 0x61 && code <= 0x7a) || // a-z
      (code >= 0x30 && code <= 0x39) || // 0-9
      code === 0x2b || // +
      code === 0x2f // /
    if (!isDigit) return false
  }
  return true
}

/** The error for raw body input that is not bytes: almost always a body parser that ran first. */
export function notRawBody(body: unknown): WebhookVerificationError {
  const kind = body === null ? 'null' : typeof body
  return new WebhookVerificationError(
    'body_already_parsed',
    `the raw request body (string, Buffer or Uint8Array) is needed to verify a signature, got ${kind}: ` +
      'a body parser probably ran first. Verify before express.json(), or use express.raw({ type: "application/json" }).',
  )
}

/** The error for a body over the configured limit. */
export function tooLarge(limit: number): WebhookVerificationError {
  return new WebhookVerificationError('body_too_large', `the body is larger than ${limit} bytes`)
}

/** The error when no secret's signature matches. */
export function mismatch(scheme: 'classic' | 'standard'): WebhookVerificationError {
  return new WebhookVerificationError(
    'signature_mismatch',
    scheme === 'classic'
      ? 'X-Signature does not match the body for any configured secret'
      : 'no webhook-signature matches the body for any configured secret',
  )
}

/** Marks a body that is not JSON, in {@link parseOrInvalid}. */
export const NOT_JSON: unique symbol = Symbol('not JSON')

/** `JSON.parse`, returning {@link NOT_JSON} instead of throwing. */
export function parseOrInvalid(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return NOT_JSON
  }
}

/** A classic body re-serialised: the text a signature may cover, and the body the handler then sees. */
export interface Reserialized {
  /** `JSON.stringify(body)` for one event, `JSON.stringify(body[0])` for a batch. */
  readonly signed: string
  /** The whole body re-serialised, whose first element (for a batch) is `signed`. */
  readonly body: string
}

/**
 * What a classic signature may also have been computed over when the received
 * bytes do not match: `JSON.stringify(JSON.parse(body))` for one event (the
 * spec's receiver example), `JSON.stringify(JSON.parse(body)[0])` for a batch
 * (Segment's own batches). If that matches, the handler is given this text and
 * what parses from it, never the received bytes: `1e400` re-serialises to
 * `null`, `-0` to `0`, a duplicate key to the value that was signed.
 */
export function reserialize(parsed: unknown, isBatch: boolean): Reserialized | undefined {
  if (parsed === NOT_JSON) return undefined
  try {
    if (!isBatch) {
      const text = JSON.stringify(parsed)
      return { signed: text, body: text }
    }
    if (!Array.isArray(parsed) || parsed.length === 0) return undefined
    const signed = JSON.stringify(parsed[0])
    let body = `[${signed}`
    for (let i = 1; i < parsed.length; i++) body += `,${JSON.stringify(parsed[i])}`
    return { signed, body: `${body}]` }
  } catch {
    // Nesting too deep for JSON.stringify's recursion: no such text was ever signed.
    return undefined
  }
}

/** The verified result when the received text is what was signed (every standard request, most classic ones). */
export function receivedWasSigned(
  text: string,
  scheme: 'classic' | 'standard',
  id: string | undefined,
  prepared: PreparedOptions,
): VerifiedWebhook {
  return verified(parseOrInvalid(text), text, false, scheme, id, prepared)
}

/** The verified result when only the re-serialised text matched a classic signature: that text is the body. */
export function reserializedWasSigned(
  candidate: Reserialized,
  prepared: PreparedOptions,
): VerifiedWebhook {
  return verified(
    parseOrInvalid(candidate.body),
    candidate.body,
    true,
    'classic',
    undefined,
    prepared,
  )
}

/**
 * The verified result from a body's text and its parse; `invalid_json` or
 * `invalid_payload` when it holds no events, `unsigned_batch_events` for a
 * classic batch of several events when the options refuse those.
 */
function verified(
  parsed: unknown,
  body: string,
  reserialized: boolean,
  scheme: 'classic' | 'standard',
  id: string | undefined,
  prepared: PreparedOptions,
): VerifiedWebhook {
  if (parsed === NOT_JSON) {
    throw new WebhookVerificationError(
      'invalid_json',
      'the signature matches but the body is not JSON',
    )
  }
  if (Array.isArray(parsed)) {
    for (let i = 0; i < parsed.length; i++) {
      if (!isEvent(parsed[i])) throw notAnEvent(`batch element ${i}`)
    }
    if (scheme === 'classic' && parsed.length > 1 && prepared.unsignedBatchEvents === 'refuse') {
      throw new WebhookVerificationError(
        'unsigned_batch_events',
        `a classic signature covers only the first event of a batch, and the other ${parsed.length - 1} are not authenticated: ` +
          'have the sender use the standard scheme, which signs the whole body',
      )
    }
    return { events: parsed as WebhookEvent[], body, reserialized, isBatch: true, scheme, id }
  }
  if (!isEvent(parsed)) throw notAnEvent('the body')
  return { events: [parsed], body, reserialized, isBatch: false, scheme, id }
}

function isEvent(value: unknown): value is WebhookEvent {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { type?: unknown }).type === 'string'
  )
}

function notAnEvent(where: string): WebhookVerificationError {
  return new WebhookVerificationError(
    'invalid_payload',
    `${where} is not an event (a JSON object with a string "type")`,
  )
}

/** Compares two byte arrays in time that depends only on their length. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] as number)
  return difference === 0
}
