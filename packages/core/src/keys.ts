/** The HMAC keys a shared secret gives: the classic key, and the decoded Standard Webhooks key. */

import { decodeStandardSecret } from './secret.js'

/**
 * The classic HMAC key: the secret itself. Throws a TypeError for an empty
 * secret, which WebCrypto refuses and node:crypto accepts, so both paths agree.
 * Internal to the package (used by both signing paths), not exported from an entry.
 *
 * @example
 * classicKey('s3cret') // 's3cret'
 */
export function classicKey(secret: string): string {
  if (secret.length === 0) throw new TypeError('sharedSecret must not be empty')
  return secret
}

// One destination signs every request with the same secret: decode it once, not per request.
let lastSecret: string | undefined
let lastKey: Uint8Array | undefined

/**
 * The Standard Webhooks HMAC key decoded from the secret, memoised for the last
 * secret seen. Throws a TypeError when the secret is not valid for the scheme.
 * Internal to the package (used by both signing paths), not exported from an entry.
 *
 * @example
 * standardKey('whsec_c2VjcmV0') // Uint8Array [115, 101, 99, 114, 101, 116]
 */
export function standardKey(secret: string): Uint8Array {
  if (secret !== lastSecret) {
    lastKey = decodeStandardSecret(secret)
    lastSecret = secret
  }
  if (lastKey === undefined)
    throw new TypeError('sharedSecret is not a valid Standard Webhooks secret')
  return lastKey
}
