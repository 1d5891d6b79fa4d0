/** Signature headers for a body: classic X-Signature and Standard Webhooks, computed with WebCrypto. */

import type { WebhookBody } from './body.js'
import { classicKey, standardKey } from './keys.js'
import type { SignatureScheme } from './settings.js'

/** The parts of the settings that decide the signature headers. */
export interface SigningSettings {
  readonly sharedSecret: string | undefined
  readonly signature: SignatureScheme
}

/** What a Standard Webhooks signature covers besides the body. */
export interface SignatureContext {
  /** `webhook-id`: stable across retries of the same delivery, so receivers can dedupe. */
  readonly id: string
  /** `webhook-timestamp`: seconds since the epoch when this attempt is sent. */
  readonly timestamp: number
}

/** An HMAC over text, hex- or base64-encoded; the Node and WebCrypto paths each provide one. */
export type Hmac<R> = (
  algorithm: 'sha1' | 'sha256',
  key: string | Uint8Array,
  text: string,
  encoding: 'hex' | 'base64',
) => R

/**
 * The text the classic `X-Signature` covers: the body, or a batch's first event.
 *
 * @example
 * classicSignedText(assembleBatch(['{"a":1}', '{"b":2}'], { maxEvents: 10 }).body) // '{"a":1}'
 */
export function classicSignedText(body: WebhookBody): string {
  return body.firstEventJson
}

/**
 * The text a Standard Webhooks signature covers: `id.timestamp.body`.
 *
 * @example
 * standardSignedText(singleBody('{"a":1}'), { id: 'msg_1', timestamp: 42 }) // 'msg_1.42.{"a":1}'
 */
export function standardSignedText(body: WebhookBody, context: SignatureContext): string {
  return `${context.id}.${context.timestamp}.${body.json}`
}

/**
 * The signatures a body needs, as `[header, value]` pairs computed with any HMAC
 * implementation, so the Node (sync) and WebCrypto (async) paths share one set
 * of rules. Empty without a secret. Throws a TypeError when the secret is
 * empty, or not valid base64 for the standard scheme.
 *
 * @example
 * const parts = signatureParts(settings, body, context, hmacWebCrypto) // [['X-Signature', Promise<string>]]
 */
export function signatureParts<R>(
  settings: SigningSettings,
  body: WebhookBody,
  context: SignatureContext,
  hmac: Hmac<R>,
): Array<[string, R]> {
  const secret = settings.sharedSecret
  if (secret === undefined) return []
  const parts: Array<[string, R]> = []
  if (settings.signature !== 'standard') {
    parts.push(['X-Signature', hmac('sha1', classicKey(secret), classicSignedText(body), 'hex')])
  }
  if (settings.signature !== 'classic') {
    parts.push([
      'webhook-signature',
      hmac('sha256', standardKey(secret), standardSignedText(body, context), 'base64'),
    ])
  }
  return parts
}

/**
 * Adds the fixed Standard Webhooks headers around computed signatures.
 *
 * @example
 * assembleHeaders({ id: 'msg_1', timestamp: 42 }, [['webhook-signature', 'c2ln']])
 * // { 'webhook-id': 'msg_1', 'webhook-timestamp': '42', 'webhook-signature': 'v1,c2ln' }
 */
export function assembleHeaders(
  context: SignatureContext,
  signatures: Array<[string, string]>,
): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of signatures) {
    if (name === 'webhook-signature') {
      headers['webhook-id'] = context.id
      headers['webhook-timestamp'] = String(context.timestamp)
      headers[name] = `v1,${value}`
    } else headers[name] = value
  }
  return headers
}

type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>
const keyCache = new Map<string, Promise<HmacKey>>()
const KEY_CACHE_LIMIT = 16
const encoder = new TextEncoder()

function importKey(algorithm: 'sha1' | 'sha256', key: string | Uint8Array): Promise<HmacKey> {
  const cacheKey =
    typeof key === 'string' ? `${algorithm}:s:${key}` : `${algorithm}:b:${toBase64(key)}`
  let cached = keyCache.get(cacheKey)
  if (!cached) {
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear()
    const raw = typeof key === 'string' ? encoder.encode(key) : key
    cached = crypto.subtle.importKey(
      'raw',
      raw as Uint8Array<ArrayBuffer>,
      { name: 'HMAC', hash: algorithm === 'sha1' ? 'SHA-1' : 'SHA-256' },
      false,
      ['sign'],
    )
    keyCache.set(cacheKey, cached)
    // A failed import must not stay cached and fail every later signature.
    cached.catch(() => keyCache.delete(cacheKey))
  }
  return cached
}

/**
 * HMAC with WebCrypto (`crypto.subtle`), available in browsers, workers, Deno,
 * Bun and Node 20+.
 *
 * @example
 * await hmacWebCrypto('sha1', 'secret', '{"type":"track"}', 'hex')
 */
export async function hmacWebCrypto(
  algorithm: 'sha1' | 'sha256',
  key: string | Uint8Array,
  text: string,
  encoding: 'hex' | 'base64',
): Promise<string> {
  const signature = new Uint8Array(
    await crypto.subtle.sign('HMAC', await importKey(algorithm, key), encoder.encode(text)),
  )
  return encoding === 'hex' ? toHex(signature) : toBase64(signature)
}

/**
 * The signature headers for a body, computed with WebCrypto: `X-Signature`
 * (classic), `webhook-id`/`webhook-timestamp`/`webhook-signature` (standard),
 * or both, as the settings say. Empty without a secret.
 *
 * @example
 * const headers = await signatureHeaders(settings, singleBody(json), { id: messageId, timestamp: Math.floor(Date.now() / 1000) })
 */
export async function signatureHeaders(
  settings: SigningSettings,
  body: WebhookBody,
  context: SignatureContext,
): Promise<Record<string, string>> {
  const parts = signatureParts(settings, body, context, hmacWebCrypto)
  const signatures = await Promise.all(
    parts.map(async ([name, value]): Promise<[string, string]> => [name, await value]),
  )
  return assembleHeaders(context, signatures)
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/**
 * Lower-case hex of bytes.
 *
 * @example
 * toHex(new Uint8Array([1, 171])) // '01ab'
 */
export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] as number]
  return out
}

/**
 * Standard base64 of bytes.
 *
 * @example
 * toBase64(new Uint8Array([1, 171])) // 'Aas='
 */
export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i] as number)
  return btoa(binary)
}
