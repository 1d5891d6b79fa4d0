/** Test fixtures: real webhook requests built and signed by @analytics-webhooks/core, as our sender builds them. */

import {
  assembleBatch,
  encodeEvent,
  parseSettings,
  type SegmentEvent,
  type SignatureScheme,
  singleBody,
  type WebhookBody,
} from '@analytics-webhooks/core'
import { signatureHeadersSync } from '@analytics-webhooks/core/node'

/** A secret both schemes accept: base64 with the `whsec_` prefix (classic signs its UTF-8 text). */
export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
/** The secret being rotated in. */
export const NEXT_SECRET = 'whsec_c2Vjb25kLXNlY3JldC1mb3ItdGVzdHMtMTIz'
/** A valid secret nobody signed with. */
export const WRONG_SECRET = 'whsec_d3Jvbmctc2VjcmV0LWZvci10ZXN0cw=='
/** The clock the fixtures sign at, in ms. */
export const SIGNED_AT_MS = 1_767_225_600_000

/** A request as it goes on the wire. */
export interface SignedRequest {
  body: string
  headers: Record<string, string>
}

let counter = 0

/** A Segment event of the given type, with a unique messageId. */
export function event(type = 'track', extra: Record<string, unknown> = {}): SegmentEvent {
  counter++
  return {
    type,
    event: type === 'track' ? 'Order Completed' : undefined,
    userId: 'u1',
    messageId: `msg-${counter}`,
    timestamp: new Date(SIGNED_AT_MS),
    properties: { revenue: 39.95, note: 'héllo "quoted" ], {braces} 👋' },
    ...extra,
  }
}

/** Signs a body with core, as the sender does. */
export function sign(
  body: WebhookBody,
  signature: SignatureScheme,
  secret = SECRET,
  timestampSeconds = Math.floor(SIGNED_AT_MS / 1000),
): SignedRequest {
  const settings = parseSettings({
    webhooks: ['https://example.com/hook'],
    sharedSecret: secret,
    signature,
  })
  const headers = signatureHeadersSync(settings, body, {
    id: `delivery-${++counter}`,
    timestamp: timestampSeconds,
  })
  return { body: body.json, headers: { 'content-type': 'application/json', ...headers } }
}

/** One event, signed. */
export function signedSingle(
  signature: SignatureScheme = 'classic',
  secret = SECRET,
): SignedRequest {
  return sign(singleBody(encodeEvent(event())), signature, secret)
}

/** A batch of `count` events, signed. */
export function signedBatch(
  count = 3,
  signature: SignatureScheme = 'classic',
  secret = SECRET,
): SignedRequest {
  const events = Array.from({ length: count }, (_, i) =>
    encodeEvent(event(i % 2 === 0 ? 'track' : 'identify')),
  )
  return sign(assembleBatch(events, { maxEvents: count }).body, signature, secret)
}

/** The same request with one byte of the body changed (still valid JSON). */
export function tampered(request: SignedRequest): SignedRequest {
  return { ...request, body: request.body.replace('"u1"', '"u2"') }
}

/**
 * An event holding what respelling attacks aim at: `null` (`1e400` parses to
 * Infinity), `0` (`-0`), decimals and integers, U+FFFD (a lone 0xFF decodes
 * to it), `/`, quotes, non-ASCII, nesting.
 */
export function targetEvent(type = 'track'): SegmentEvent {
  return event(type, {
    properties: {
      refund: null,
      discount: 0,
      revenue: 39.95,
      quantity: 100,
      delta: -7,
      path: '/checkout/done',
      note: 'replacement \uFFFD, "quoted", héllo 👋',
      flags: [true, false, null, 0],
      nested: { level: { deeper: [1, { zero: 0 }] } },
    },
  })
}

/** Real signed requests built around {@link targetEvent}: one event and a batch, in each scheme. */
export function targetRequests(): SignedRequest[] {
  const batch = (signature: SignatureScheme) =>
    sign(
      assembleBatch(
        [
          encodeEvent(targetEvent()),
          encodeEvent(targetEvent('identify')),
          encodeEvent(targetEvent('page')),
        ],
        {
          maxEvents: 3,
        },
      ).body,
      signature,
    )
  return [
    sign(singleBody(encodeEvent(targetEvent())), 'classic'),
    batch('classic'),
    sign(singleBody(encodeEvent(targetEvent('identify'))), 'standard'),
    batch('standard'),
  ]
}
