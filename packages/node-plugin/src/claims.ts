/** What the delivery worker has claimed and not sent yet: requests as the store formed them, and their bodies. */

import { assembleBatch, requestId, singleBody, type WebhookBody } from '@analytics-webhooks/core'
import { nameOf } from './store/bind.js'
import type { ClaimedRequest, NewDelivery } from './store/types.js'

/** One request on its way: as the store formed it, with its body. */
export interface Unit {
  readonly request: ClaimedRequest
  readonly body: WebhookBody
  /**
   * The request's id (core's `requestId`), once known: set for a 413 half,
   * else worked out on first use by {@link unitId} (only a Standard Webhooks
   * signature or a failure needs it).
   */
  webhookId?: string
}

/**
 * Claimed requests in claim order, not sent yet. The store formed them before
 * the claim returned (see `ClaimOptions.batchSize`), so the buffer never packs
 * deliveries itself: a request goes out as the store formed it, and again
 * after a failure, a restart or a lease takeover, with the same bytes and id.
 *
 * @example
 * const buffer = new ClaimBuffer()
 * buffer.add(await store.claim('default', options))
 * const unit = buffer.take() // the next request, its body assembled
 */
export class ClaimBuffer {
  private items: ClaimedRequest[] = []
  private head = 0
  /** Deliveries waiting, in all the requests not taken yet. */
  size = 0

  /** Appends newly claimed requests. */
  add(requests: readonly ClaimedRequest[]): void {
    if (requests.length === 0) return
    const items = this.items.slice(this.head)
    for (const request of requests) {
      items.push(request)
      this.size += request.deliveries.length
    }
    this.items = items
    this.head = 0
  }

  /** The next request, its body assembled; `undefined` when none is waiting. */
  take(): Unit | undefined {
    const request = this.items[this.head]
    if (request === undefined) return undefined
    this.head++
    this.size -= request.deliveries.length
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
    return { request, body: bodyOf(request) }
  }

  /** Empties the buffer, returning what was in it (to give the leases back). */
  clear(): ClaimedRequest[] {
    const left = this.items.slice(this.head)
    this.items = []
    this.head = 0
    this.size = 0
    return left
  }
}

/** A request's body: a JSON array of its events when it is a batch, else its one event. */
function bodyOf(request: ClaimedRequest): WebhookBody {
  const { deliveries } = request
  if (!request.batch) return singleBody((deliveries[0] as NewDelivery).body)
  const texts: string[] = new Array(deliveries.length)
  for (let i = 0; i < deliveries.length; i++) texts[i] = (deliveries[i] as NewDelivery).body
  const batch = assembleBatch(texts, { maxEvents: texts.length })
  // The store cut it with the same limits, so it always fits.
  if (batch.taken !== texts.length) throw new RangeError('a request no longer fits one body')
  return batch.body
}

/**
 * A half of a batch answered 413: the same deliveries (fewer of them), a new
 * request with its own id, on the parent's schedule.
 *
 * @example
 * const [left, right] = [half(unit.request, 0, 5), half(unit.request, 5, 10)]
 */
export function half(parent: ClaimedRequest, from: number, to: number): Unit {
  const deliveries = parent.deliveries.slice(from, to)
  let enqueuedAt = Number.POSITIVE_INFINITY
  for (const d of deliveries) if (d.enqueuedAt < enqueuedAt) enqueuedAt = d.enqueuedAt
  const request: ClaimedRequest = {
    deliveries,
    batch: true,
    attempts: parent.attempts,
    enqueuedAt,
    lastReason: parent.lastReason,
    lastStatus: parent.lastStatus,
  }
  return { request, body: bodyOf(request), webhookId: requestId(deliveries.map(nameOf)) }
}

/**
 * A unit's request id, core's `requestId` of its events in body order (one
 * event: its messageId), worked out once and kept on the unit. Not on the
 * send path unless a Standard Webhooks signature needs it: hashing every
 * messageId of a batch cost a measurable share of an unsigned drain.
 *
 * @example
 * signatureHeadersSync(settings, unit.body, { id: unitId(unit), timestamp })
 */
export function unitId(unit: Unit): string {
  if (unit.webhookId !== undefined) return unit.webhookId
  unit.webhookId = requestId(unit.request.deliveries.map(nameOf))
  return unit.webhookId
}
