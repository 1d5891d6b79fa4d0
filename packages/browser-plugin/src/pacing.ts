/** maxRequestsPerSecond in the page, loaded with import() only by a page that sets it: core's RequestRate, waited on before each request. */

import type { Outcome } from '@analytics-webhooks/core/outcome'
import { RequestRate } from '@analytics-webhooks/core/rate'

/** Paces one outbox's requests; made by {@link pacer}. */
export interface Pacer {
  /** Resolves when the next request may start, and counts it: `requests` are its URLs (a fan-out). */
  turn(requests: number): Promise<void>
  /** Adapts the rate to a request's outcome: a bare 429 halves it, a delivery regains some. */
  record(outcome: Outcome): void
}

/**
 * A pacer at `perSecond` requests a second (core's `RequestRate`: evenly
 * spaced, halved on a `429` without `Retry-After`, regained 5% per delivery).
 *
 * @example
 * const pace = pacer(200)
 * await pace.turn(settings.webhooks.length)
 * pace.record(await send(body, id))
 */
export function pacer(perSecond: number): Pacer {
  const rate = new RequestRate(perSecond)
  return {
    async turn(requests) {
      const wait = rate.wait(Date.now())
      if (wait) await new Promise((paced) => setTimeout(paced, wait))
      rate.spend(Date.now(), requests)
    },
    record: (outcome) => rate.record(outcome),
  }
}
