/** The synchronous Node verification path: `node:crypto` HMAC and `timingSafeEqual`. */

import { createHmac, timingSafeEqual } from 'node:crypto'
import { firstElementRange, startsWithArray } from './first-element.js'
import type { HeaderSource } from './headers.js'
import { type PreparedOptions, prepareOptions, type VerifyOptions } from './options.js'
import {
  chooseScheme,
  classicSignature,
  mismatch,
  notRawBody,
  parseOrInvalid,
  type RawBody,
  receivedWasSigned,
  reserialize,
  reserializedWasSigned,
  type StandardHeaders,
  standardHeaders,
  tooLarge,
  type VerifiedWebhook,
} from './rules.js'

/**
 * Verifies a webhook synchronously with `node:crypto`: the raw body exactly as
 * received, the request headers (any casing; a plain object, node's
 * `req.headers` or a `Headers`), against one secret or several. Returns the
 * parsed events; throws a {@link WebhookVerificationError} with a stable `code`
 * otherwise, and never anything else for any body or headers.
 *
 * @example
 * import { verifyWebhook, WebhookVerificationError } from '@analytics-webhooks/verifier'
 * try {
 *   const { events, isBatch } = verifyWebhook(rawBody, req.headers, { secret: process.env.WEBHOOK_SECRET! })
 * } catch (error) {
 *   if (error instanceof WebhookVerificationError) console.warn('refused webhook:', error.code)
 * }
 */
export function verifyWebhook(
  body: RawBody,
  headers: HeaderSource,
  options: VerifyOptions,
): VerifiedWebhook {
  const prepared = prepareOptions(options)
  const checked = checkBody(body, prepared.maxBodyBytes)
  if (chooseScheme(prepared, headers) === 'standard') {
    return verifyStandard(checked, headers, prepared)
  }
  return verifyClassic(
    typeof checked === 'string' ? Buffer.from(checked, 'utf8') : checked,
    headers,
    prepared,
  )
}

/**
 * The body as bytes, or a string whose UTF-8 length is within the limit
 * (kept as is: the standard scheme hashes and parses it without a round trip
 * through a Buffer).
 */
function checkBody(body: RawBody, limit: number): Buffer | string {
  if (typeof body === 'string') {
    // Every UTF-16 unit takes at least one UTF-8 byte, and at most three.
    if (body.length > limit) throw tooLarge(limit)
    if (body.length * 3 > limit && Buffer.byteLength(body, 'utf8') > limit) throw tooLarge(limit)
    return body
  }
  let bytes: Buffer
  if (body instanceof Uint8Array) {
    bytes = Buffer.isBuffer(body)
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  } else if (body instanceof ArrayBuffer) bytes = Buffer.from(body)
  else throw notRawBody(body)
  if (bytes.length > limit) throw tooLarge(limit)
  return bytes
}

function verifyClassic(
  bytes: Buffer,
  headers: HeaderSource,
  prepared: PreparedOptions,
): VerifiedWebhook {
  const signature = Buffer.from(classicSignature(headers), 'hex')
  const isBatch = startsWithArray(bytes)
  let signed: Buffer | undefined = bytes
  if (isBatch) {
    const range = firstElementRange(bytes)
    signed = range === undefined ? undefined : bytes.subarray(range[0], range[1])
  }
  const text = bytes.toString('utf8')
  if (signed !== undefined && classicMatches(prepared.classicKeys, signed, signature)) {
    return receivedWasSigned(text, 'classic', undefined, prepared)
  }
  // Only the re-serialised text can be what was signed now: it, not the bytes, is what verifies.
  const candidate = reserialize(parseOrInvalid(text), isBatch)
  if (
    candidate !== undefined &&
    classicMatches(prepared.classicKeys, Buffer.from(candidate.signed, 'utf8'), signature)
  ) {
    return reserializedWasSigned(candidate, prepared)
  }
  throw mismatch('classic')
}

function classicMatches(
  keys: readonly Uint8Array[],
  signed: Uint8Array,
  signature: Buffer,
): boolean {
  let matched = false
  // Every key is tried even after a match, so timing does not reveal which secret is current.
  for (const key of keys) {
    if (timingSafeEqual(createHmac('sha1', key).update(signed).digest(), signature)) matched = true
  }
  return matched
}

/** A decoded `v1` signature: reused by every call (verification is synchronous). */
const received = Buffer.alloc(32)

function verifyStandard(
  body: Buffer | string,
  headers: HeaderSource,
  prepared: PreparedOptions,
): VerifiedWebhook {
  const request = checkStandardSignature(body, headers, prepared)
  // A string is parsed as the UTF-8 bytes that were hashed would decode: lone surrogates become U+FFFD.
  const text = typeof body === 'string' ? toWellFormed(body) : body.toString('utf8')
  return receivedWasSigned(text, 'standard', request.id, prepared)
}

/**
 * The standard scheme's headers and signature, without parsing the body: the
 * part of {@link verifyWebhook} the bench times apart from `JSON.parse`. Not
 * exported from the package.
 */
export function checkStandardSignature(
  body: Buffer | string,
  headers: HeaderSource,
  prepared: PreparedOptions,
): StandardHeaders {
  const request = standardHeaders(headers, prepared)
  if (!standardMatches(prepared.standardKeys, request, body)) throw mismatch('standard')
  return request
}

function standardMatches(
  keys: readonly Uint8Array[],
  request: StandardHeaders,
  body: Buffer | string,
): boolean {
  let matched = false
  // Every key and signature is tried even after a match, so timing does not reveal which matched.
  for (const key of keys) {
    const hmac = createHmac('sha256', key).update(request.prefix, 'utf8')
    const digest = (
      typeof body === 'string' ? hmac.update(body, 'utf8') : hmac.update(body)
    ).digest()
    for (const signature of request.signatures) {
      // Checked as 43 base64 digits and '=' by standardHeaders: always 32 bytes.
      received.write(signature, 'base64')
      if (timingSafeEqual(digest, received)) matched = true
    }
  }
  return matched
}

/** `String.prototype.toWellFormed` (Node 20+, not in the ES2022 typings). */
function toWellFormed(text: string): string {
  return (text as string & { toWellFormed(): string }).toWellFormed()
}
