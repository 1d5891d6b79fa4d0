/** Test deliveries signed with core's real signing, and small HTTP helpers for talking to an inspector. */

import {
  assembleBatch,
  encodeEvent,
  type SignatureScheme,
  singleBody,
  type WebhookBody,
} from '@analytics-webhooks/core'
import { signatureHeadersSync } from '@analytics-webhooks/core/node'
import type { Delivery, Inspector } from '../index.js'

export const SECRET = 'inspector-test-secret'

let sequence = 0

/** The JSON of one track event, as the plugins serialise it. */
export function trackJson(event = 'Order Completed'): string {
  sequence += 1
  return encodeEvent({
    type: 'track',
    event,
    userId: 'u1',
    messageId: `msg-${sequence}`,
    properties: { revenue: 39.95 },
    timestamp: new Date('2026-01-02T03:04:05.000Z'),
  })
}

/** Request headers for a body, signed by core when a secret is given. */
export function headersFor(
  body: WebhookBody,
  secret: string | undefined,
  signature: SignatureScheme = 'classic',
): Record<string, string> {
  const signed =
    secret === undefined
      ? {}
      : signatureHeadersSync({ sharedSecret: secret, signature }, body, {
          id: 'msg-id',
          timestamp: Math.floor(Date.now() / 1000),
        })
  return { 'content-type': 'application/json', 'user-agent': 'Segment.io/1.0', ...signed }
}

/** POSTs one signed event (or unsigned, without a secret) and resolves with the response. */
export function post(
  url: string,
  options: { secret?: string; body?: WebhookBody; signal?: AbortSignal } = {},
): Promise<Response> {
  const body = options.body ?? singleBody(trackJson())
  return fetch(url, {
    method: 'POST',
    headers: headersFor(body, options.secret),
    body: body.json,
    signal: options.signal,
  })
}

/** A batch body of `count` track events, assembled by core. */
export function batchBody(count: number): WebhookBody {
  const events = Array.from({ length: count }, (_, i) => trackJson(`Event ${i}`))
  return assembleBatch(events, { maxEvents: count }).body
}

/** Resolves with the first delivery (new or updated) that `accept` takes, or rejects after `timeoutMs`. */
export function nextDelivery(
  inspector: Inspector,
  accept: (delivery: Delivery) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<Delivery> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`no matching delivery within ${timeoutMs} ms`))
    }, timeoutMs)
    const stop = inspector.subscribe((event) => {
      if (event.kind === 'delivery' && accept(event.delivery)) {
        clearTimeout(timer)
        stop()
        resolve(event.delivery)
      }
    })
  })
}
