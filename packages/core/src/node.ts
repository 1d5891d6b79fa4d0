/** The synchronous Node signing path (`node:crypto`), byte-for-byte equal to the WebCrypto path. */

import { createHmac } from 'node:crypto'
import type { WebhookBody } from './body.js'
import {
  assembleHeaders,
  type SignatureContext,
  type SigningSettings,
  signatureParts,
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
  return assembleHeaders(context, signatureParts(settings, body, context, hmacNode))
}
