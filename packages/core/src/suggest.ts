/** Finds the known name nearest to a mistyped one, for the "did you mean …?" of unknown-field errors. */

/**
 * The edit distance between `a` and `b`, ignoring letter case: the fewest
 * insertions, deletions, substitutions and swaps of two adjacent letters
 * that turn one into the other (Damerau–Levenshtein, optimal string
 * alignment: no substring is edited twice).
 *
 * @example
 * editDistance('pollIntervallMs', 'pollIntervalMs') // 1 (one deletion)
 * editDistance('hedaers', 'headers') // 1 (one swap)
 * editDistance('BatchSize', 'batchSize') // 0
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  // d[i][j]: the distance between the first i letters of s and the first j of t.
  const d: number[][] = []
  for (let i = 0; i <= s.length; i++) {
    d[i] = [i]
    for (let j = 1; j <= t.length; j++) {
      d[i]![j] = i
        ? Math.min(
            d[i - 1]![j]! + 1,
            d[i]![j - 1]! + 1,
            d[i - 1]![j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1),
            // A swap; at i or j = 1 the out-of-range letter is undefined and never matches.
            s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1] ? d[i - 2]![j - 2]! + 1 : i + j,
          )
        : j
    }
  }
  return d[s.length]![t.length]!
}

/**
 * The name in `known` nearest to `name` (see {@link editDistance}), or
 * `undefined` when none is close: a suggestion is made only within
 * `max(1, floor(name.length / 3))` edits, so short or unrelated names get
 * none. On a tie the first of `known` wins.
 *
 * @example
 * closestName('pollIntervallMs', ['pollIntervalMs', 'leaseMs']) // 'pollIntervalMs'
 * closestName('sharedsecret', ['webhooks', 'sharedSecret']) // 'sharedSecret'
 * closestName('secret', ['webhooks', 'sharedSecret']) // undefined
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  // Within this many edits; a nearer name lowers it, so on a tie the first stays.
  let most = Math.max(1, Math.floor(name.length / 3))
  for (const candidate of known) {
    // The distance is at least the difference in length: no table for a name that far off (or huge).
    if (Math.abs(candidate.length - name.length) > most) continue
    const distance = editDistance(name, candidate)
    if (distance <= most && !(best && distance === most)) {
      best = candidate
      most = distance
    }
  }
  return best
}

/**
 * The end of an unknown name's error message: the nearest known name when
 * one is close (see {@link closestName}), then every known name.
 *
 * @example
 * didYouMean('webhook', ['webhooks', 'headers']) // ', did you mean webhooks? (known: webhooks, headers)'
 * didYouMean('url', ['webhooks', 'headers']) // ' (known: webhooks, headers)'
 */
export function didYouMean(name: string, known: readonly string[]): string {
  const near = closestName(name, known)
  return `${near ? `, did you mean ${near}?` : ''} (known: ${known.join(', ')})`
}
