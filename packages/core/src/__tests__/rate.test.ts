import { busiestWindow } from '@analytics-webhooks/testing/windows'
import { describe, expect, it } from 'vitest'
import { classifyError, classifyResponse } from '../classify.js'
import { fanOutOutcome } from '../outcome.js'
import { MIN_REQUESTS_PER_SECOND, RequestRate } from '../rate.js'

/** Starts every request as soon as the rate lets it, from `from` for `ms`; returns the start times. */
function run(rate: RequestRate, from: number, ms: number): number[] {
  const starts: number[] = []
  for (let now = from; now < from + ms; ) {
    const wait = rate.wait(now)
    if (wait > 0) {
      now += wait
      continue
    }
    starts.push(now)
    rate.spend(now)
  }
  return starts
}

describe('RequestRate', () => {
  it('never starts more than the rate in any one-second window, and keeps up with it', () => {
    const starts = run(new RequestRate(200), 1_000_000, 5_000)
    expect(busiestWindow(starts)).toBe(200)
    expect(starts).toHaveLength(1000)
  })

  it('counts every request of a fan-out', () => {
    const rate = new RequestRate(10)
    rate.spend(0, 3)
    expect(rate.wait(0)).toBe(300)
    expect(rate.wait(300)).toBe(0)
  })

  it('a 429 halves the rate, down to its floor; successes regain 5% of the limit each, never above it', () => {
    const rate = new RequestRate(100)
    rate.throttled()
    expect(rate.perSecond).toBe(50)
    for (let i = 0; i < 20; i++) rate.throttled()
    expect(rate.perSecond).toBe(MIN_REQUESTS_PER_SECOND)
    for (let i = 0; i < 10; i++) rate.succeeded()
    expect(rate.perSecond).toBeCloseTo(50.1)
    for (let i = 0; i < 30; i++) rate.succeeded()
    expect(rate.perSecond).toBe(100)
  })

  it('a halved rate spaces requests twice as far apart', () => {
    const rate = new RequestRate(100)
    rate.throttled()
    rate.spend(0)
    expect(rate.wait(0)).toBe(20)
  })

  it('record: a bare 429 from any URL halves the rate; a 429 with Retry-After, a 500 or a timeout leave it; a delivery regains', () => {
    const rate = new RequestRate(100)
    rate.record(fanOutOutcome([classifyResponse(200), classifyResponse(429, null)]))
    expect(rate.perSecond).toBe(50)
    rate.record(fanOutOutcome([classifyResponse(429, '10')]))
    rate.record(fanOutOutcome([classifyResponse(500, null)]))
    rate.record(
      fanOutOutcome([
        classifyError(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' })),
      ]),
    )
    expect(rate.perSecond).toBe(50)
    rate.record(fanOutOutcome([classifyResponse(204, null)]))
    expect(rate.perSecond).toBe(55)
  })
})
