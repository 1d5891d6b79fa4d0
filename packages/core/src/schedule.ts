/** When a failed delivery is tried again: randomised exponential backoff inside the retry window. */

import { equalJitter } from './jitter.js'
import { DEFAULTS } from './settings.js'

/** Tuning for {@link RetrySchedule}. */
export interface RetryScheduleOptions {
  /** The first retry waits about this long. Default 1 s. */
  baseDelayMs?: number
  /** No single wait is longer than this. Default 10 min. */
  maxDelayMs?: number
  /** Retries stop this long after enqueue. Default 4 h. */
  windowMs?: number
  /** A source of numbers in [0, 1); replace it in tests. Default `Math.random`. */
  random?: () => number
}

/** What to do with a delivery that failed temporarily. */
export type RetryDecision =
  | { readonly verdict: 'retry'; readonly at: number }
  | { readonly verdict: 'expired' }

/**
 * Randomised exponential backoff ("equal jitter": half the delay fixed, half
 * random) capped at `maxDelayMs`, honouring `Retry-After`, and never past
 * the retry window: the last attempt is made at the window's end at the
 * latest, and a delivery that cannot be retried within it has `expired`.
 *
 * @example
 * const schedule = new RetrySchedule({ windowMs: settings.retryWindowMs })
 * const next = schedule.next({ attempts: 1, enqueuedAt, now: Date.now() })
 * if (next.verdict === 'retry') console.log(new Date(next.at)) // 0.5-1 s from now: the first wait
 */
export class RetrySchedule {
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly windowMs: number
  private readonly random: () => number

  constructor(options: RetryScheduleOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 1_000
    this.maxDelayMs = options.maxDelayMs ?? 10 * 60_000
    this.windowMs = options.windowMs ?? DEFAULTS.retryWindowMs
    this.random = options.random ?? Math.random
  }

  /** The randomised wait after the `attempts`-th failed attempt (1-based). */
  delayFor(attempts: number): number {
    // A count that is not a number (NaN) backs off like a first failure.
    const count = Number.isNaN(attempts) ? 1 : Math.max(attempts, 1)
    return equalJitter(count, this.baseDelayMs, this.maxDelayMs, this.random)
  }

  /** The moment after which a delivery enqueued at `enqueuedAt` is no longer tried. */
  deadline(enqueuedAt: number): number {
    return enqueuedAt + this.windowMs
  }

  /**
   * When to try again after `attempts` failed attempts, or `expired`. Pass
   * `delayMs` (from {@link RetrySchedule.delayFor}) to reuse one random wait
   * for several deliveries that failed together, so they are retried together.
   *
   * @example
   * const delayMs = schedule.delayFor(2)
   * const decisions = failed.map((d) => schedule.next({ attempts: 2, enqueuedAt: d.enqueuedAt, now, delayMs }))
   */
  next(input: {
    attempts: number
    enqueuedAt: number
    now: number
    retryAfterMs?: number
    delayMs?: number
  }): RetryDecision {
    const deadline = this.deadline(input.enqueuedAt)
    if (input.now >= deadline) return { verdict: 'expired' }
    const backoffAt = input.now + (input.delayMs ?? this.delayFor(input.attempts))
    if (input.retryAfterMs !== undefined) {
      const askedAt = input.now + input.retryAfterMs
      if (askedAt > deadline) return { verdict: 'expired' }
      return { verdict: 'retry', at: Math.min(Math.max(backoffAt, askedAt), deadline) }
    }
    return { verdict: 'retry', at: Math.min(backoffAt, deadline) }
  }
}
