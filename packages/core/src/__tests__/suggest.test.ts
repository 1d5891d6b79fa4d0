// Tests the nearest-name helper behind the "did you mean …?" of unknown settings and options.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { closestName, didYouMean, editDistance } from '../suggest.js'

describe('editDistance: insertions, deletions, substitutions and adjacent swaps, ignoring case', () => {
  it.each([
    ['', '', 0],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['abc', 'abc', 0],
    ['BatchSize', 'batchsize', 0],
    ['pollIntervallMs', 'pollIntervalMs', 1], // deletion
    ['webhook', 'webhooks', 1], // insertion
    ['timeoutMz', 'timeoutMs', 1], // substitution
    ['hedaers', 'headers', 1], // one adjacent swap, not two substitutions
    ['ab', 'ba', 1],
    ['ca', 'abc', 3], // optimal string alignment: a swapped pair is not edited again
    ['kitten', 'sitting', 3],
    ['shared_secret', 'sharedSecret', 1],
    ['secret', 'sharedSecret', 6],
  ])('%j to %j is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance)
    expect(editDistance(b, a)).toBe(distance)
  })

  it('is a distance: zero only for equal names, symmetric, at least the difference in length (property)', () => {
    const name = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'A'), maxLength: 8 })
    fc.assert(
      fc.property(name, name, (a, b) => {
        const d = editDistance(a, b)
        expect(d === 0).toBe(a.toLowerCase() === b.toLowerCase())
        expect(editDistance(b, a)).toBe(d)
        expect(d).toBeGreaterThanOrEqual(Math.abs(a.length - b.length))
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length))
      }),
      { numRuns: 500 },
    )
  })
})

describe('closestName: suggests a known name only when it is close', () => {
  const settings = [
    'webhooks',
    'headers',
    'sharedSecret',
    'signature',
    'batchSize',
    'method',
    'timeoutMs',
    'retryWindowMs',
  ]

  it.each([
    ['sharedSecrets', 'sharedSecret'],
    ['sharedsecret', 'sharedSecret'],
    ['shared_secret', 'sharedSecret'],
    ['webhook', 'webhooks'],
    ['Webhooks', 'webhooks'],
    ['hedaers', 'headers'],
    ['batchsize', 'batchSize'],
    ['timeout', 'timeoutMs'], // 2 edits in 7 letters
    ['retryWindow', 'retryWindowMs'],
    ['methd', 'method'],
  ])('%j: did you mean %j?', (typed, expected) => {
    expect(closestName(typed, settings)).toBe(expected)
  })

  it.each([
    'secret', // 6 edits from sharedSecret
    'url',
    'timeoutSeconds',
    'retries',
    '__proto__x',
    '',
  ])('%j: no suggestion', (typed) => {
    expect(closestName(typed, settings)).toBeUndefined()
  })

  it('allows max(1, floor(length / 3)) edits, counted on the typed name', () => {
    // 1 edit for names of up to 5 letters.
    expect(closestName('ab', ['abc'])).toBe('abc')
    expect(closestName('ab', ['abcd'])).toBeUndefined()
    // 2 edits for 6 to 8 letters, 3 for 9 to 11.
    expect(closestName('abcdef', ['abcdefgh'])).toBe('abcdefgh')
    expect(closestName('abcdef', ['abcdefghi'])).toBeUndefined()
    expect(closestName('abcdefghi', ['abcdefghijkl'])).toBe('abcdefghijkl')
    expect(closestName('abcdefghi', ['xyzdefghi'])).toBe('xyzdefghi')
    expect(closestName('abcdefghi', ['wxyzefghi'])).toBeUndefined()
  })

  it('prefers the nearest name, and the first one on a tie', () => {
    expect(closestName('leaseMx', ['lease', 'leaseMs'])).toBe('leaseMs')
    expect(closestName('queues', ['queue', 'queued'])).toBe('queue')
    expect(closestName('queues', ['queued', 'queue'])).toBe('queued')
    expect(closestName('concurency', ['concurrency', 'currency'])).toBe('concurrency')
  })

  it('takes any iterable of names, and a huge typed name costs no table', () => {
    expect(closestName('hedaers', new Set(settings))).toBe('headers')
    expect(closestName('x'.repeat(1_000_000), settings)).toBeUndefined()
  })
})

describe("didYouMean: the end of an unknown name's message", () => {
  it('suggests the nearest known name when one is close, and always lists them all', () => {
    expect(didYouMean('webhook', ['webhooks', 'headers'])).toBe(
      ', did you mean webhooks? (known: webhooks, headers)',
    )
    expect(didYouMean('url', ['webhooks', 'headers'])).toBe(' (known: webhooks, headers)')
  })
})
