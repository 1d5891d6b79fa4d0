/** Turns a Standard Webhooks secret (`whsec_` + base64) into key bytes, exactly as the `standardwebhooks` package reads it. */

const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const PAD = 0x3d // =

/**
 * Decodes a Standard Webhooks secret: standard base64, optionally prefixed
 * with `whsec_`, read by the same rules as the public `standardwebhooks`
 * package (through `@stablelib/base64`), so a secret one side accepts the
 * other accepts too, with the same key:
 * - padding is optional (`whsec_c2VjcmV0cw` and `whsec_c2VjcmV0cw==` are the same key);
 * - at least 4 characters after the prefix, padding included, and at most two `=`;
 * - a last group of a single digit holds no whole byte and is not read (as there);
 * - anything else that is not a base64 digit is refused.
 *
 * Returns `undefined` for a secret `standardwebhooks` refuses.
 *
 * @example
 * decodeStandardSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') // Uint8Array(24)
 * decodeStandardSecret('whsec_c2VjcmV0cw') // Uint8Array(7): 'secrets', no padding needed
 * decodeStandardSecret('YWI') // undefined: shorter than 4 characters
 */
export function decodeStandardSecret(secret: string): Uint8Array | undefined {
  const text = secret.startsWith('whsec_') ? secret.slice(6) : secret
  if (text.length < 4) return undefined
  let length = text.length
  while (length > 0 && text.charCodeAt(length - 1) === PAD) length--
  if (text.length - length > 2) return undefined
  // Four digits make three bytes; a trailing lone digit makes none.
  const digits = length % 4 === 1 ? length - 1 : length
  const bytes = new Uint8Array(Math.floor((digits * 3) / 4))
  let bits = 0
  let pending = 0
  let out = 0
  for (let i = 0; i < digits; i++) {
    const value = DIGITS.indexOf(text.charAt(i))
    if (value < 0) return undefined
    bits = ((bits << 6) | value) & 0x3fff // at most 13 bits are ever pending
    pending += 6
    if (pending >= 8) {
      pending -= 8
      bytes[out++] = (bits >>> pending) & 0xff
    }
  }
  return bytes.length > 0 ? bytes : undefined
}
