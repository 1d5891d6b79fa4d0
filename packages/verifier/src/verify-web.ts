/** The asynchronous WebCrypto verification path, for edge runtimes (Workers, Deno, Bun, Next.js edge) and browsers. */

import { firstElementRange, startsWithArray } from './first-element.js'
import type { HeaderSource } from './headers.js'
import { type PreparedOptions, prepareOptions, type VerifyOptions } from './options.js'
import {
  chooseScheme,
  classicSignature,
  constantTimeEqual,
  mismatch,
  notRawBody,
  parseOrInvalid,
  type RawBody,
  receivedWasSigned,
  reserialize,
  reserializedWasSigned,
  standardHeaders,
  tooLarge,
  type VerifiedWebhook,
} from './rules.js'

type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>
interface WebKeys {
  classic?: Promise<HmacKey[]>
  standard?: Promise<HmacKey[]>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { ignoreBOM: true })
const importedKeys = new WeakMap<PreparedOptions, WebKeys>()

/**
 * Verifies a webhook with WebCrypto (`crypto.subtle`), without any `node:`
 * module: same rules, inputs and errors as {@link verifyWebhook}, as a promise.
 * Keys are imported once per options object.
 *
 * @example
 * import { verifyWebhookAsync } from '@analytics-webhooks/verifier/web'
 * const body = new Uint8Array(await request.arrayBuffer())
 * const { events } = await verifyWebhookAsync(body, request.headers, { secret: env.WEBHOOK_SECRET })
 */
export async function verifyWebhookAsync(
  body: RawBody,
  headers: HeaderSource,
  options: VerifyOptions,
): Promise<VerifiedWebhook> {
  const prepared = prepareOptions(options)
  const bytes = toBytes(body, prepared.maxBodyBytes)
  return chooseScheme(prepared, headers) === 'standard'
    ? verifyStandard(bytes, headers, prepared)
    : verifyClassic(bytes, headers, prepared)
}

function toBytes(body: RawBody, limit: number): Uint8Array {
  let bytes: Uint8Array
  if (typeof body === 'string') {
    if (body.length > limit) throw tooLarge(limit)
    bytes = encoder.encode(body)
  } else if (body instanceof Uint8Array) bytes = body
  else if (body instanceof ArrayBuffer) bytes = new Uint8Array(body)
  else throw notRawBody(body)
  if (bytes.length > limit) throw tooLarge(limit)
  return bytes
}

async function verifyClassic(
  bytes: Uint8Array,
  headers: HeaderSource,
  prepared: PreparedOptions,
): Promise<VerifiedWebhook> {
  const signature = hexToBytes(classicSignature(headers))
  const keys = await keysFor(prepared, 'classic')
  const isBatch = startsWithArray(bytes)
  let signed: Uint8Array | undefined = bytes
  if (isBatch) {
    const range = firstElementRange(bytes)
    signed = range === undefined ? undefined : bytes.subarray(range[0], range[1])
  }
  const text = decoder.decode(bytes)
  if (signed !== undefined && (await anyMatches(keys, signed, [signature]))) {
    return receivedWasSigned(text, 'classic', undefined, prepared)
  }
  // Only the re-serialised text can be what was signed now: it, not the bytes, is what verifies.
  const candidate = reserialize(parseOrInvalid(text), isBatch)
  if (
    candidate !== undefined &&
    (await anyMatches(keys, encoder.encode(candidate.signed), [signature]))
  ) {
    return reserializedWasSigned(candidate, prepared)
  }
  throw mismatch('classic')
}

async function verifyStandard(
  bytes: Uint8Array,
  headers: HeaderSource,
  prepared: PreparedOptions,
): Promise<VerifiedWebhook> {
  const request = standardHeaders(headers, prepared)
  const keys = await keysFor(prepared, 'standard')
  const prefix = encoder.encode(request.prefix)
  const signed = new Uint8Array(prefix.length + bytes.length)
  signed.set(prefix)
  signed.set(bytes, prefix.length)
  if (!(await anyMatches(keys, signed, request.signatures.map(base64ToBytes)))) {
    throw mismatch('standard')
  }
  const text = decoder.decode(bytes)
  return receivedWasSigned(text, 'standard', request.id, prepared)
}

async function anyMatches(
  keys: readonly HmacKey[],
  signed: Uint8Array,
  signatures: readonly Uint8Array[],
): Promise<boolean> {
  const digests = await Promise.all(
    keys.map(
      async (key) =>
        new Uint8Array(await crypto.subtle.sign('HMAC', key, signed as Uint8Array<ArrayBuffer>)),
    ),
  )
  let matched = false
  for (const digest of digests) {
    for (const signature of signatures) if (constantTimeEqual(digest, signature)) matched = true
  }
  return matched
}

function keysFor(prepared: PreparedOptions, scheme: 'classic' | 'standard'): Promise<HmacKey[]> {
  let entry = importedKeys.get(prepared)
  if (entry === undefined) {
    entry = {}
    importedKeys.set(prepared, entry)
  }
  let keys = entry[scheme]
  if (keys === undefined) {
    const raw = scheme === 'classic' ? prepared.classicKeys : prepared.standardKeys
    const hash = scheme === 'classic' ? 'SHA-1' : 'SHA-256'
    keys = Promise.all(
      raw.map((key) =>
        crypto.subtle.importKey(
          'raw',
          key as Uint8Array<ArrayBuffer>,
          { name: 'HMAC', hash },
          false,
          ['sign'],
        ),
      ),
    )
    entry[scheme] = keys
  }
  return keys
}

function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2)
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return bytes
}

function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}
