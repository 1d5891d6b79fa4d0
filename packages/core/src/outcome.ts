/** The outcome of one delivery fanned out to every configured URL. */

import type { AttemptResult, ReasonCode, Verdict } from './classify.js'

/** What happened to a delivery sent to every URL at once. */
export interface Outcome {
  /** `delivered` if any URL answered 2xx; else `retry` if any failure was temporary; else `permanent`. */
  readonly verdict: Verdict
  /** The deciding attempt's reason: `delivered`, the first temporary reason, or the first permanent one. */
  readonly reason: ReasonCode
  /** The deciding attempt's HTTP status, when it had one. */
  readonly status?: number
  /** The longest `Retry-After` among temporary failures, in ms. */
  readonly retryAfterMs?: number
  /** Every URL's result, in the order of the settings' `webhooks`. */
  readonly attempts: readonly AttemptResult[]
}

/**
 * Combines the results of one fan-out: delivered when any URL answered 2xx
 * (nothing is retried anywhere), otherwise retried when any failure was
 * temporary, otherwise permanent.
 *
 * @example
 * fanOutOutcome([classifyResponse(500), classifyResponse(200)]).verdict // 'delivered'
 */
export function fanOutOutcome(attempts: readonly AttemptResult[]): Outcome {
  // The deciding attempt: the first delivered, else the first temporary failure, else the first.
  const decider =
    attempts.find((a) => a.verdict === 'delivered') ??
    attempts.find((a) => a.verdict === 'retry') ??
    attempts[0]
  if (!decider) throw new RangeError('fanOutOutcome needs at least one attempt')
  const { verdict, reason, status } = decider
  let retryAfterMs: number | undefined
  if (verdict === 'retry') {
    for (const a of attempts) {
      if (a.verdict === 'retry' && a.retryAfterMs !== undefined)
        retryAfterMs = Math.max(retryAfterMs ?? 0, a.retryAfterMs)
    }
  }
  return {
    verdict,
    reason,
    attempts,
    ...(status === undefined ? {} : { status }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  }
}
