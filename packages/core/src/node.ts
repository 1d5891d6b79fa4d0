/** The synchronous Node signing path (`node:crypto`), byte-for-byte equal to the WebCrypto path. */

import { createHmac } from 'node:crypto'
import type { WebhookBody } from './body.js'
import { classicKey, standardKey } from './keys.js'
import {
  classicSignedText,
  type SignatureContext,
  type SigningSettings,
  standardSignedText,
} from './signing.js'

/**
 * HMAC with `node:crypto`, synchronously.
 *
 * @example
 * hmacNode('sha1', 'secret', '{"type":"track"}', 'hex')
 */
export function hmacNode(
  algorithm: 'sha1' | 'sha256',
  key: string | Uint8Array,
  text: string,
  encoding: 'hex' | 'base64',
): string {
  return createHmac(algorithm, key).update(text, 'utf8').digest(encoding)
}

/**
 * The signature headers for a body, computed synchronously with `node:crypto`.
 * Same output as {@link signatureHeaders} from the main entry.
 *
 * @example
 * import { signatureHeadersSync } from '@analytics-webhooks/core/node'
 * const headers = signatureHeadersSync(settings, singleBody(json), { id: messageId, timestamp: Math.floor(Date.now() / 1000) })
 */
export function signatureHeadersSync(
  settings: SigningSettings,
  body: WebhookBody,
  context: SignatureContext,
): Record<string, string> {
  // The same rules as signatureParts + assembleHeaders, written out flat: this runs for every
  // request, and the intermediate arrays cost about a tenth of an HMAC on small bodies.
  const headers: Record<string, string> = {}
  const secret = settings.sharedSecret
  if (secret === undefined) return headers
  if (settings.signature !== 'standard') {
    headers['X-Signature'] = hmacNode('sha1', classicKey(secret), classicSignedText(body), 'hex')
  }
  if (settings.signature !== 'classic') {
    const signature = hmacNode(
      'sha256',
      standardKey(secret),
      standardSignedText(body, context),
      'base64',
    )
    headers['webhook-id'] = context.id
    headers['webhook-timestamp'] = String(context.timestamp)
    headers['webhook-signature'] = `v1,${signature}`
  }
  return headers
}
