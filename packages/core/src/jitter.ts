/** The randomised exponential wait both the retry schedule and the destination backoff use ("equal jitter"). */

/**
 * The wait before the `step`-th try (1-based): the ceiling
 * `min(maxDelayMs, baseDelayMs × 2^(step-1))`, half of it fixed and half
 * random ("equal jitter"), so waits grow but never fall below half the
 * ceiling, and senders that failed together do not retry in lockstep. The
 * exponent stops at 30, so a huge `step` cannot overflow to `Infinity`.
 * `random` returns numbers in [0, 1); the result is rounded to whole ms.
 *
 * @example
 * equalJitter(3, 1_000, 60_000, Math.random) // between 2000 and 4000
 * equalJitter(20, 1_000, 60_000, () => 0) // 30000: the ceiling is capped at 60 s
 */
export function equalJitter(
  step: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(step - 1, 30))
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
