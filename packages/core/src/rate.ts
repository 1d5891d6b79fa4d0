/** A destination's request rate: a limit a sender never exceeds, halved when the receiver answers 429 and regained gradually. */

import type { Outcome } from './outcome.js'

/** The slowest an adaptive rate falls to after repeated 429s: one request every 10 s. */
export const MIN_REQUESTS_PER_SECOND = 0.1

/**
 * Paces the requests of one destination, clock passed in. Requests are
 * spaced at least `1000 / rate` ms apart (a bucket that holds one token),
 * so no window of one second, however placed, holds more than `rate` of
 * them. A `429` without `Retry-After` halves the rate (down to
 * {@link MIN_REQUESTS_PER_SECOND}); each delivered request then gives back
 * 5% of the configured rate, so ~20 successes in a row regain it from near
 * zero, never above it.
 *
 * @example
 * const rate = new RequestRate(200)
 * const wait = rate.wait(Date.now())
 * if (wait > 0) await sleep(wait)
 * rate.spend(Date.now(), urls.length) // one token per HTTP request
 * rate.record(fanOutOutcome(results)) // slows down on a bare 429, speeds up on delivery
 */
export class RequestRate {
  /** The configured limit, requests per second. */
  readonly max: number
  private current: number
  /** When the next request may start (ms since the epoch). */
  private nextAt = 0

  constructor(maxRequestsPerSecond: number) {
    this.max = maxRequestsPerSecond
    this.current = maxRequestsPerSecond
  }

  /** The rate in force now, requests per second (below `max` after 429s). */
  get perSecond(): number {
    return this.current
  }

  /** How long to wait before the next request may start: 0 when it may start now. */
  wait(now: number): number {
    return Math.max(0, this.nextAt - now)
  }

  /** Records `requests` starting at `now` (one per URL of a fan-out): the next one waits its share. */
  spend(now: number, requests = 1): void {
    this.nextAt = Math.max(this.nextAt, now) + (requests * 1000) / this.current
  }

  /**
   * Adapts the rate to what a fan-out's URLs answered: any `429` without
   * `Retry-After` {@link throttled throttles} it (a `Retry-After` pauses the
   * destination instead, see `DestinationBackoff`); otherwise a delivery
   * {@link succeeded regains} some of it. Other failures leave it as it is.
   */
  record({ verdict, attempts }: Outcome): void {
    if (attempts.some((a) => a.status === 429 && a.retryAfterMs === undefined)) this.throttled()
    else if (verdict === 'delivered') this.succeeded()
  }

  /** A `429` without `Retry-After`: the receiver wants fewer requests; halve the rate. */
  throttled(): void {
    this.current = Math.max(MIN_REQUESTS_PER_SECOND, this.current / 2)
  }

  /** A delivered request: regain 5% of the configured rate, up to it. */
  succeeded(): void {
    this.current = Math.min(this.max, this.current + this.max * 0.05)
  }
}
