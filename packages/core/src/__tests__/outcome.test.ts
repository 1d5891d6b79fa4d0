// Tests the fan-out outcome: any 2xx wins, else retry if any failure was temporary, else permanent.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type AttemptResult, classifyError, classifyResponse } from '../classify.js'
import { fanOutOutcome } from '../outcome.js'

const refused = classifyError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))
const tls = classifyError(
  Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
)

describe('fan-out: any 2xx means delivered, and nothing is retried anywhere', () => {
  it('one success among failures of every kind', () => {
    const attempts = [classifyResponse(503, '60'), tls, classifyResponse(204), refused]
    const outcome = fanOutOutcome(attempts)
    expect(outcome).toEqual({ verdict: 'delivered', reason: 'delivered', status: 204, attempts })
    expect(outcome).not.toHaveProperty('retryAfterMs')
  })

  it('the first success decides the status', () => {
    expect(fanOutOutcome([classifyResponse(202), classifyResponse(200)]).status).toBe(202)
  })
})

describe('fan-out: without a 2xx, any temporary failure means retry', () => {
  it('a temporary failure beats permanent ones, and its reason and status are reported', () => {
    const outcome = fanOutOutcome([classifyResponse(404), classifyResponse(429), refused])
    expect(outcome).toMatchObject({ verdict: 'retry', reason: 'http_429', status: 429 })
  })

  it('a failure without a response has no status', () => {
    const outcome = fanOutOutcome([tls, refused])
    expect(outcome).toMatchObject({ verdict: 'retry', reason: 'connection_refused' })
    expect(outcome).not.toHaveProperty('status')
  })

  it('takes the longest Retry-After among the temporary failures', () => {
    const outcome = fanOutOutcome([
      classifyResponse(503, '10'),
      refused,
      classifyResponse(429, '120'),
      classifyResponse(503, '0'),
    ])
    expect(outcome.retryAfterMs).toBe(120_000)
    expect(outcome.reason).toBe('http_5xx')
  })

  it('has no Retry-After when no temporary failure asked for one', () => {
    expect(fanOutOutcome([classifyResponse(500), refused])).not.toHaveProperty('retryAfterMs')
  })
})

describe('fan-out: only permanent failures mean permanent', () => {
  it('reports the first permanent reason', () => {
    const attempts = [classifyResponse(301), classifyResponse(400), tls]
    expect(fanOutOutcome(attempts)).toEqual({
      verdict: 'permanent',
      reason: 'http_3xx',
      status: 301,
      attempts,
    })
  })

  it('413 decides like any permanent failure: http_413 only when it is the first, and a temporary failure elsewhere still means retry', () => {
    expect(fanOutOutcome([classifyResponse(413), classifyResponse(413)])).toMatchObject({
      verdict: 'permanent',
      reason: 'http_413',
      status: 413,
    })
    expect(fanOutOutcome([classifyResponse(413), classifyResponse(500)]).verdict).toBe('retry')
    expect(fanOutOutcome([classifyResponse(400), classifyResponse(413)]).reason).toBe('http_4xx')
  })

  it('refuses an empty fan-out', () => {
    expect(() => fanOutOutcome([])).toThrow(RangeError)
  })

  it('agrees with the rule for any mix of up to five attempts (property)', () => {
    const attempt: fc.Arbitrary<AttemptResult> = fc.oneof(
      fc
        .tuple(fc.integer({ min: 100, max: 999 }), fc.option(fc.nat({ max: 1000 }).map(String)))
        .map(([status, retryAfter]) => classifyResponse(status, retryAfter)),
      fc.constantFrom(refused, tls),
    )
    fc.assert(
      fc.property(fc.array(attempt, { minLength: 1, maxLength: 5 }), (attempts) => {
        const outcome = fanOutOutcome(attempts)
        const verdicts = attempts.map((a) => a.verdict)
        const expected = verdicts.includes('delivered')
          ? 'delivered'
          : verdicts.includes('retry')
            ? 'retry'
            : 'permanent'
        expect(outcome.verdict).toBe(expected)
        expect(outcome.attempts).toBe(attempts)
        const waits = attempts
          .filter((a) => a.verdict === 'retry' && a.retryAfterMs !== undefined)
          .map((a) => a.retryAfterMs as number)
        if (expected === 'retry' && waits.length > 0) {
          expect(outcome.retryAfterMs).toBe(Math.max(...waits))
        } else expect(outcome.retryAfterMs).toBeUndefined()
      }),
      { numRuns: 1000 },
    )
  })
})
