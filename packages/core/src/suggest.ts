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
  // Three rows of the table: the one two above, the one above, and this one.
  let above2: number[] = []
  let above = Array.from({ length: t.length + 1 }, (_, j) => j)
  for (let i = 1; i <= s.length; i++) {
    const row = [i]
    for (let j = 1; j <= t.length; j++) {
      let d = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + (s[i - 1] === t[j - 1] ? 0 : 1),
      )
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        d = Math.min(d, (above2[j - 2] as number) + 1)
      }
      row[j] = d
    }
    above2 = above
    above = row
  }
  return above[t.length] as number
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
  let bestDistance = Math.max(1, Math.floor(name.length / 3))
  for (const candidate of known) {
    // The distance is at least the difference in length: skip the table (and bound the work for a huge name).
    if (Math.abs(candidate.length - name.length) > bestDistance) continue
    const distance = editDistance(name, candidate)
    if (distance < bestDistance || (distance === bestDistance && best === undefined)) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}
