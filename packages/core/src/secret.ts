/** Turns a Standard Webhooks secret (`whsec_` + base64) into key bytes. */

// Padded standard base64, as `standardwebhooks` (via @stablelib/base64) requires:
// a secret it cannot read would make every receiver reject every request.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * Decodes a Standard Webhooks secret: base64, optionally prefixed with
 * `whsec_`, as the `standardwebhooks` package reads it (padding required).
 * Returns `undefined` when the text is not padded base64 or decodes to nothing.
 *
 * @example
 * decodeStandardSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') // Uint8Array(24)
 */
export function decodeStandardSecret(secret: string): Uint8Array | undefined {
  const text = secret.startsWith('whsec_') ? secret.slice(6) : secret
  if (text.length === 0 || !BASE64.test(text)) return undefined
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes.length > 0 ? bytes : undefined
}
