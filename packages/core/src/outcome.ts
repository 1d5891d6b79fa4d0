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
  if (attempts.length === 0) throw new RangeError('fanOutOutcome needs at least one attempt')
  const delivered = attempts.find((a) => a.verdict === 'delivered')
  if (delivered)
    return withStatus({ verdict: 'delivered', reason: 'delivered', attempts }, delivered)
  const temporary = attempts.filter((a) => a.verdict === 'retry')
  const first = temporary[0]
  if (first) {
    let retryAfterMs: number | undefined
    for (const a of temporary) {
      if (a.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, a.retryAfterMs)
    }
    const outcome = withStatus({ verdict: 'retry', reason: first.reason, attempts }, first)
    return retryAfterMs === undefined ? outcome : { ...outcome, retryAfterMs }
  }
  const permanent = attempts[0] as AttemptResult
  return withStatus({ verdict: 'permanent', reason: permanent.reason, attempts }, permanent)
}

function withStatus(outcome: Outcome, from: AttemptResult): Outcome {
  return from.status === undefined ? outcome : { ...outcome, status: from.status }
}
