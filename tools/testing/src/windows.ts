/** Counting requests in time windows, for tests of a rate limit measured where the requests arrive. */

/**
 * The most of `times` (ms, ascending) in any window `[t, t + windowMs)`. The
 * busiest window always begins at one of the times, so only those are tried.
 *
 * @example
 * busiestWindow([0, 400, 999, 1000]) // 3: 0, 400 and 999 fall within one second
 */
export function busiestWindow(times: readonly number[], windowMs = 1_000): number {
  let most = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (j < times.length && (times[j] as number) < (times[i] as number) + windowMs) j++
    most = Math.max(most, j - i)
  }
  return most
}
