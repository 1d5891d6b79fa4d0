/** The synchronous Node verification path: `node:crypto` HMAC and `timingSafeEqual`. */

import { createHmac, timingSafeEqual } from 'node:crypto'
import { firstElementRange, startsWithArray } from './first-element.js'
import type { HeaderSource } from './headers.js'
import { type PreparedOptions, prepareOptions, type VerifyOptions } from './options.js'
import {
  chooseScheme,
  classicFallbackText,
  classicSignature,
  mismatch,
  notRawBody,
  parseOrInvalid,
  type RawBody,
  standardHeaders,
  tooLarge,
  type VerifiedWebhook,
  verified,
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
  const bytes = toBuffer(body, prepared.maxBodyBytes)
  return chooseScheme(prepared, headers) === 'standard'
    ? verifyStandard(bytes, headers, prepared)
    : verifyClassic(bytes, headers, prepared)
}

function toBuffer(body: RawBody, limit: number): Buffer {
  let bytes: Buffer
  if (typeof body === 'string') {
    // Every UTF-16 unit takes at least one UTF-8 byte: refuse before encoding a huge string.
    if (body.length > limit) throw tooLarge(limit)
    bytes = Buffer.from(body, 'utf8')
  } else if (body instanceof Uint8Array) {
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
    return verified(parseOrInvalid(text), 'classic', undefined)
  }
  const parsed = parseOrInvalid(text)
  const fallback = classicFallbackText(parsed, isBatch)
  if (
    fallback !== undefined &&
    classicMatches(prepared.classicKeys, Buffer.from(fallback, 'utf8'), signature)
  ) {
    return verified(parsed, 'classic', undefined)
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

function verifyStandard(
  bytes: Buffer,
  headers: HeaderSource,
  prepared: PreparedOptions,
): VerifiedWebhook {
  const request = standardHeaders(headers, prepared)
  const expected = request.signatures.map((signature) => Buffer.from(signature, 'base64'))
  let matched = false
  for (const key of prepared.standardKeys) {
    const digest = createHmac('sha256', key).update(request.prefix, 'utf8').update(bytes).digest()
    for (const signature of expected) if (timingSafeEqual(digest, signature)) matched = true
  }
  if (!matched) throw mismatch('standard')
  return verified(parseOrInvalid(bytes.toString('utf8')), 'standard', request.id)
}
