/** Test helpers for the request-shaped QueueStore API: what a claim returned, read as deliveries, and requests named by their deliveries. */

import type { ReasonCode } from '@analytics-webhooks/core'
import type { ClaimedRequest, ClaimOptions, NewDelivery, QueueStore } from '../types.js'

/** A delivery a claim returned, with what its request says about it. */
export interface ClaimedDelivery extends NewDelivery {
  readonly attempts: number
  readonly lastReason: ReasonCode | null
  readonly lastStatus: number | null
  readonly batch: boolean
  /** Its request's place among the requests of the claim (0-based). */
  readonly request: number
}

/**
 * The deliveries of `requests`, in claim order and body order, each with its request's fields.
 *
 * @example
 * flatten(await store.claim('q', options)).map((d) => [d.id, d.attempts])
 */
export function flatten(requests: readonly ClaimedRequest[]): ClaimedDelivery[] {
  return requests.flatMap((r, request) =>
    r.deliveries.map((d) => ({
      ...d,
      attempts: r.attempts,
      lastReason: r.lastReason,
      lastStatus: r.lastStatus,
      batch: r.batch,
      request,
    })),
  )
}

/**
 * Claims, for a test that cares which deliveries came back rather than how they were grouped.
 *
 * @example
 * expect((await claimFlat(store, 'q', { limit: 5, now, leaseMs: 10, worker: 'w' })).map((d) => d.id)).toEqual(['a'])
 */
export async function claimFlat(
  store: QueueStore,
  queue: string,
  options: ClaimOptions,
): Promise<ClaimedDelivery[]> {
  return flatten(await store.claim(queue, options))
}

/**
 * The ids of each request's deliveries, in body order: who went out together.
 *
 * @example
 * expect(membersOf(await store.claim('q', options))).toEqual([['a', 'b'], ['c']])
 */
export function membersOf(requests: readonly ClaimedRequest[]): string[][] {
  return requests.map((r) => r.deliveries.map((d) => d.id))
}

/**
 * A request of these deliveries in this order, as the worker makes one when it
 * splits a batch: the store acknowledges it by the deliveries' ids.
 *
 * @example
 * await store.retry('q', requestOf(items[3], items[1]), { ...failed, requestId: 'req-1' })
 */
export function requestOf(...deliveries: NewDelivery[]): ClaimedRequest {
  return {
    deliveries,
    batch: deliveries.length !== 1,
    attempts: 0,
    enqueuedAt: Math.min(...deliveries.map((d) => d.enqueuedAt)),
    lastReason: null,
    lastStatus: null,
  }
}

/**
 * A request naming deliveries by id alone (their other fields are placeholders).
 *
 * @example
 * await store.complete('q', [byIds('not-there')])
 */
export function byIds(...ids: string[]): ClaimedRequest {
  return requestOf(...ids.map((id) => ({ id, body: '', messageId: null, enqueuedAt: 0 })))
}
