// Tests the retry schedule: randomised exponential backoff, Retry-After, and the 4 h window.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RetrySchedule } from '../schedule.js'

const HOUR = 3_600_000
const T0 = Date.parse('2026-01-01T00:00:00Z')

describe('retry schedule: defaults follow the spec (4 h window)', () => {
  it('1 s base, 10 min cap, 4 h window', () => {
    const schedule = new RetrySchedule()
    expect(schedule.baseDelayMs).toBe(1_000)
    expect(schedule.maxDelayMs).toBe(600_000)
    expect(schedule.windowMs).toBe(4 * HOUR)
    expect(schedule.deadline(T0)).toBe(T0 + 4 * HOUR)
  })
})

describe('retry schedule: exponential growth, capped', () => {
  it('doubles the ceiling per attempt until maxDelayMs', () => {
    const high = new RetrySchedule({ random: () => 1 - Number.EPSILON })
    const low = new RetrySchedule({ random: () => 0 })
    const ceilings = [1, 2, 3, 4, 5, 10, 11, 12, 50].map((n) => high.delayFor(n))
    expect(ceilings).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 512_000, 600_000, 600_000, 600_000,
    ])
    expect([1, 2, 3, 10, 11].map((n) => low.delayFor(n))).toEqual([
      500, 1_000, 2_000, 256_000, 300_000,
    ])
  })

  it('treats counts below 1, NaN and huge counts sanely', () => {
    const schedule = new RetrySchedule({ random: () => 0 })
    expect(schedule.delayFor(0)).toBe(500)
    expect(schedule.delayFor(-3)).toBe(500)
    expect(schedule.delayFor(Number.NaN)).toBe(500)
    expect(schedule.delayFor(1e9)).toBe(300_000)
    expect(schedule.delayFor(Number.POSITIVE_INFINITY)).toBe(300_000)
  })
})

describe('retry schedule: jitter stays between half the ceiling and the ceiling', () => {
  it('for any random value in [0, 1) (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        (attempts, r, baseDelayMs, maxDelayMs) => {
          const schedule = new RetrySchedule({ baseDelayMs, maxDelayMs, random: () => r })
          const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempts - 1))
          const delay = schedule.delayFor(attempts)
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2))
          expect(delay).toBeLessThanOrEqual(Math.ceil(ceiling))
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('really is random with the default source', () => {
    const schedule = new RetrySchedule()
    const delays = new Set(Array.from({ length: 50 }, () => schedule.delayFor(8)))
    expect(delays.size).toBeGreaterThan(10)
  })
})

describe('retry schedule: Retry-After is honoured', () => {
  const schedule = new RetrySchedule({ random: () => 0 })

  it('waits at least as long as the server asked', () => {
    expect(schedule.next({ attempts: 1, enqueuedAt: T0, now: T0, retryAfterMs: 120_000 })).toEqual({
      verdict: 'retry',
      at: T0 + 120_000,
    })
  })

  it('keeps the backoff when the server asked for less', () => {
    expect(schedule.next({ attempts: 5, enqueuedAt: T0, now: T0, retryAfterMs: 0 })).toEqual({
      verdict: 'retry',
      at: T0 + 8_000,
    })
  })

  it('expires when the server asks to wait past the window', () => {
    const now = T0 + 3 * HOUR
    expect(schedule.next({ attempts: 1, enqueuedAt: T0, now, retryAfterMs: HOUR + 1 })).toEqual({
      verdict: 'expired',
    })
    expect(schedule.next({ attempts: 1, enqueuedAt: T0, now, retryAfterMs: HOUR })).toEqual({
      verdict: 'retry',
      at: T0 + 4 * HOUR,
    })
  })
})

describe('retry schedule: one wait shared by deliveries that failed together', () => {
  it('uses the given delayMs instead of drawing a new one', () => {
    let draws = 0
    const schedule = new RetrySchedule({ random: () => (draws++ % 2 === 0 ? 0 : 0.99) })
    const delayMs = schedule.delayFor(3)
    const decisions = [T0, T0 + 1_000, T0 + 2_000].map((enqueuedAt) =>
      schedule.next({ attempts: 3, enqueuedAt, now: T0 + 5_000, delayMs }),
    )
    expect(draws).toBe(1)
    expect(decisions).toEqual([0, 1, 2].map(() => ({ verdict: 'retry', at: T0 + 5_000 + delayMs })))
  })

  it('still keeps each delivery inside its own window and honours Retry-After', () => {
    const schedule = new RetrySchedule({ random: () => 0 })
    const now = T0 + 4 * HOUR - 500
    // Enqueued at T0 its window ends in 500 ms: clamped. Enqueued an hour later it waits the full delay.
    expect(schedule.next({ attempts: 1, enqueuedAt: T0, now, delayMs: 10_000 })).toEqual({
      verdict: 'retry',
      at: T0 + 4 * HOUR,
    })
    expect(schedule.next({ attempts: 1, enqueuedAt: T0 + HOUR, now, delayMs: 10_000 })).toEqual({
      verdict: 'retry',
      at: now + 10_000,
    })
    expect(
      schedule.next({
        attempts: 1,
        enqueuedAt: T0 + HOUR,
        now,
        delayMs: 10_000,
        retryAfterMs: 60_000,
      }),
    ).toEqual({ verdict: 'retry', at: now + 60_000 })
  })
})

describe('retry schedule: nothing past the window; then expired', () => {
  const schedule = new RetrySchedule({ random: () => 0.5 })

  it('clamps the last retry to the end of the window', () => {
    const now = T0 + 4 * HOUR - 1_000
    expect(schedule.next({ attempts: 20, enqueuedAt: T0, now })).toEqual({
      verdict: 'retry',
      at: T0 + 4 * HOUR,
    })
  })

  it('is expired at and after the deadline', () => {
    expect(schedule.next({ attempts: 3, enqueuedAt: T0, now: T0 + 4 * HOUR })).toEqual({
      verdict: 'expired',
    })
    expect(schedule.next({ attempts: 3, enqueuedAt: T0, now: T0 + 5 * HOUR })).toEqual({
      verdict: 'expired',
    })
  })

  it('a zero window never retries', () => {
    const none = new RetrySchedule({ windowMs: 0 })
    expect(none.next({ attempts: 1, enqueuedAt: T0, now: T0 })).toEqual({ verdict: 'expired' })
  })

  it('a delivery that always fails is retried with growing waits, then expires within 4 h', () => {
    let now = T0
    let attempts = 0
    const times: number[] = []
    for (;;) {
      attempts++
      const next = schedule.next({ attempts, enqueuedAt: T0, now })
      if (next.verdict === 'expired') break
      expect(next.at).toBeGreaterThan(now)
      times.push(next.at)
      now = next.at
      expect(attempts).toBeLessThan(1000)
    }
    expect(times.at(-1)).toBe(T0 + 4 * HOUR)
    expect(now).toBe(T0 + 4 * HOUR)
    const waits = times.map((t, i) => t - (i === 0 ? T0 : (times[i - 1] as number)))
    expect(waits.slice(0, 10)).toEqual([
      750, 1_500, 3_000, 6_000, 12_000, 24_000, 48_000, 96_000, 192_000, 384_000,
    ])
    expect(Math.max(...waits)).toBe(450_000)
    // 10 doubling waits (767.25 s), 30 capped waits of 450 s, and a last one clamped to the deadline.
    expect(times).toHaveLength(41)
  })

  it('every retry lies after now and inside the window (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 5 * HOUR }),
        fc.option(fc.integer({ min: 0, max: 6 * HOUR }), { nil: undefined }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempts, elapsed, retryAfterMs, r) => {
          const s = new RetrySchedule({ random: () => r })
          const now = T0 + elapsed
          const next = s.next({ attempts, enqueuedAt: T0, now, retryAfterMs })
          if (next.verdict === 'expired') {
            expect(
              elapsed >= 4 * HOUR ||
                (retryAfterMs !== undefined && now + retryAfterMs > T0 + 4 * HOUR),
            ).toBe(true)
            return
          }
          expect(next.at).toBeGreaterThan(now)
          expect(next.at).toBeLessThanOrEqual(T0 + 4 * HOUR)
          if (retryAfterMs !== undefined) expect(next.at).toBeGreaterThanOrEqual(now + retryAfterMs)
        },
      ),
      { numRuns: 1000 },
    )
  })
})
