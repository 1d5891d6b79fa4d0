/** Verifier options: what a receiver configures, validated once and turned into key bytes. */

import { decodeStandardSecret } from '@analytics-webhooks/core'
import { WebhookVerificationError } from './errors.js'

/** Which signature a receiver accepts. `auto`: Standard Webhooks when `webhook-signature` is present, else classic `X-Signature`. */
export type VerificationScheme = 'classic' | 'standard' | 'auto'

/** How to verify a webhook. Only `secret` is required. */
export interface VerifyOptions {
  /** The shared secret, or several while rotating (any one of them verifies). */
  secret: string | readonly string[]
  /** Default `auto`. Set `standard` to refuse classic requests (classic has no replay protection). */
  scheme?: VerificationScheme
  /** Standard Webhooks only: how far `webhook-timestamp` may be from now, in seconds. Default 300. */
  toleranceSeconds?: number
  /** Larger bodies are refused with `body_too_large` (413). Default 1 MiB. */
  maxBodyBytes?: number
  /**
   * A classic batch's signature covers only its first event. `accept`
   * (default, what Segment's classic batches need) hands the handler the other
   * events unauthenticated; `refuse` answers a classic batch of two or more
   * events with 401 `unsigned_batch_events`. Standard Webhooks batches are
   * signed whole and always accepted.
   */
  unsignedBatchEvents?: 'accept' | 'refuse'
  /** The clock, in milliseconds since the epoch, for tests. Default `Date.now`. */
  now?: () => number
}

/** Options checked and turned into key bytes, ready for many verifications. */
export interface PreparedOptions {
  readonly scheme: VerificationScheme
  /** Classic keys: each secret's UTF-8 bytes, as the sender's HMAC-SHA1 uses them. */
  readonly classicKeys: readonly Uint8Array[]
  /** Standard keys: each secret that decodes as base64 (`whsec_` optional). */
  readonly standardKeys: readonly Uint8Array[]
  readonly toleranceSeconds: number
  readonly maxBodyBytes: number
  readonly unsignedBatchEvents: 'accept' | 'refuse'
  readonly now: () => number
}

/** 1 MiB: the default body limit. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
/** The Standard Webhooks default tolerance, in seconds. */
export const DEFAULT_TOLERANCE_SECONDS = 300

const SCHEMES: ReadonlySet<string> = new Set(['classic', 'standard', 'auto'])
const encoder = new TextEncoder()
const cache = new WeakMap<VerifyOptions, { secret: unknown; prepared: PreparedOptions }>()

/**
 * Validates options and derives the keys, once per options object (cached
 * while `options.secret` stays the same value). Throws
 * `WebhookVerificationError` with `invalid_secret` or `invalid_options`.
 *
 * @example
 * const prepared = prepareOptions({ secret: process.env.WEBHOOK_SECRET!, scheme: 'auto' })
 */
export function prepareOptions(options: VerifyOptions): PreparedOptions {
  if (options === null || typeof options !== 'object') {
    throw new WebhookVerificationError('invalid_options', 'options must be an object')
  }
  const hit = cache.get(options)
  if (hit !== undefined && hit.secret === options.secret) return hit.prepared
  const prepared = prepare(options)
  cache.set(options, { secret: options.secret, prepared })
  return prepared
}

function prepare(options: VerifyOptions): PreparedOptions {
  const scheme = options.scheme ?? 'auto'
  if (!SCHEMES.has(scheme)) {
    throw new WebhookVerificationError(
      'invalid_options',
      'scheme must be classic, standard or auto',
    )
  }
  const secrets: readonly unknown[] =
    typeof options.secret === 'string'
      ? [options.secret]
      : Array.isArray(options.secret)
        ? options.secret
        : []
  if (secrets.length === 0) {
    throw new WebhookVerificationError(
      'invalid_secret',
      'give a secret (or a non-empty list of secrets)',
    )
  }
  const classicKeys: Uint8Array[] = []
  const standardKeys: Uint8Array[] = []
  secrets.forEach((secret, i) => {
    if (typeof secret !== 'string' || secret.length === 0) {
      throw new WebhookVerificationError(
        'invalid_secret',
        `secret #${i + 1} must be a non-empty string`,
      )
    }
    classicKeys.push(encoder.encode(secret))
    const key = decodeStandardSecret(secret)
    if (key !== undefined) standardKeys.push(key)
  })
  if (scheme === 'standard' && standardKeys.length === 0) {
    throw new WebhookVerificationError(
      'invalid_secret',
      'the standard scheme needs a base64 secret of at least 4 characters, optionally prefixed with whsec_ (as standardwebhooks reads it)',
    )
  }
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS
  if (typeof toleranceSeconds !== 'number' || !(toleranceSeconds >= 0)) {
    throw new WebhookVerificationError('invalid_options', 'toleranceSeconds must be a number >= 0')
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new WebhookVerificationError(
      'invalid_options',
      'maxBodyBytes must be a whole number >= 1',
    )
  }
  const unsignedBatchEvents = options.unsignedBatchEvents ?? 'accept'
  if (unsignedBatchEvents !== 'accept' && unsignedBatchEvents !== 'refuse') {
    throw new WebhookVerificationError(
      'invalid_options',
      'unsignedBatchEvents must be accept or refuse',
    )
  }
  const now = options.now ?? Date.now
  if (typeof now !== 'function') {
    throw new WebhookVerificationError('invalid_options', 'now must be a function')
  }
  return Object.freeze({
    scheme,
    classicKeys,
    standardKeys,
    toleranceSeconds,
    maxBodyBytes,
    unsignedBatchEvents,
    now,
  })
}
