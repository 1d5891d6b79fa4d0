// Tests destination-wide backoff: threshold, waits with jitter, a single probe, recovery, longer waits after failed probes, Retry-After pauses.

import { describe, expect, it } from 'vitest'
import { DestinationBackoff, MAX_RETRY_AFTER_MS } from '../backoff.js'

const T0 = 1_000_000

/** Backoff with jitter pinned to the low end, so each wait is half its ceiling. */
function pinned(options: ConstructorParameters<typeof DestinationBackoff>[0] = {}) {
  return new DestinationBackoff({ random: () => 0, ...options })
}

describe('destination backoff: stays open below the threshold of consecutive temporary failures', () => {
  it('opens for up to threshold - 1 failures', () => {
    const backoff = pinned()
    backoff.record('retry', T0)
    backoff.record('retry', T0)
    expect(backoff.isDown).toBe(false)
    expect(backoff.gate(T0)).toEqual({ state: 'open' })
  })

  it('counts consecutive failures only: a delivery or a permanent answer resets the count', () => {
    for (const reset of ['delivered', 'permanent'] as const) {
      const backoff = pinned()
      backoff.record('retry', T0)
      backoff.record('retry', T0)
      backoff.record(reset, T0)
      backoff.record('retry', T0)
      backoff.record('retry', T0)
      expect(backoff.gate(T0)).toEqual({ state: 'open' })
    }
  })

  it('goes down at the threshold and waits instead of sending', () => {
    const backoff = pinned({ threshold: 3, baseDelayMs: 1_000 })
    for (let i = 0; i < 3; i++) backoff.record('retry', T0)
    expect(backoff.isDown).toBe(true)
    expect(backoff.gate(T0)).toEqual({ state: 'wait', until: T0 + 500 })
    expect(backoff.gate(T0 + 499)).toEqual({ state: 'wait', until: T0 + 500 })
  })

  it('honours a threshold of 1', () => {
    const backoff = pinned({ threshold: 1 })
    backoff.record('retry', T0)
    expect(backoff.isDown).toBe(true)
  })
})

describe('destination backoff: one probe at a time when the wait is over', () => {
  it('allows a probe, then makes everyone else wait while it is in flight', () => {
    const backoff = pinned()
    for (let i = 0; i < 3; i++) backoff.record('retry', T0)
    expect(backoff.gate(T0 + 500)).toEqual({ state: 'probe' })
    backoff.probeStarted()
    expect(backoff.gate(T0 + 600)).toEqual({ state: 'wait', until: T0 + 1_600 })
  })

  it('ignores stragglers that were in flight before it went down', () => {
    const backoff = pinned()
    for (let i = 0; i < 3; i++) backoff.record('retry', T0)
    backoff.record('retry', T0 + 100)
    backoff.record('retry', T0 + 200)
    expect(backoff.gate(T0 + 500)).toEqual({ state: 'probe' })
  })
})

describe('destination backoff: recovery opens the gate so the backlog drains at full speed', () => {
  it('a delivered probe opens it', () => {
    const backoff = pinned()
    for (let i = 0; i < 3; i++) backoff.record('retry', T0)
    expect(backoff.gate(T0 + 500).state).toBe('probe')
    backoff.probeStarted()
    backoff.record('delivered', T0 + 510)
    expect(backoff.isDown).toBe(false)
    for (let i = 0; i < 100; i++) expect(backoff.gate(T0 + 510 + i)).toEqual({ state: 'open' })
  })

  it('a permanent answer to the probe also opens it: the destination is answering', () => {
    const backoff = pinned()
    for (let i = 0; i < 3; i++) backoff.record('retry', T0)
    backoff.probeStarted()
    backoff.record('permanent', T0 + 600)
    expect(backoff.gate(T0 + 600)).toEqual({ state: 'open' })
  })

  it('after recovery it needs the full threshold again to go down', () => {
    const backoff = pinned()
    for (let i = 0; i < 3; i++) backoff.record('retry', T0)
    backoff.probeStarted()
    backoff.record('delivered', T0 + 500)
    backoff.record('retry', T0 + 600)
    backoff.record('retry', T0 + 700)
    expect(backoff.gate(T0 + 700)).toEqual({ state: 'open' })
    backoff.record('retry', T0 + 800)
    expect(backoff.gate(T0 + 800)).toEqual({ state: 'wait', until: T0 + 1_300 })
  })
})

describe('destination backoff: a failed probe waits longer, up to maxDelayMs', () => {
  it('doubles the wait after each failed probe and caps it', () => {
    const backoff = pinned({ baseDelayMs: 1_000, maxDelayMs: 8_000 })
    let now = T0
    for (let i = 0; i < 3; i++) backoff.record('retry', now)
    const waits: number[] = []
    for (let probe = 0; probe < 7; probe++) {
      const gate = backoff.gate(now)
      if (gate.state !== 'wait') throw new Error(`expected to wait, got ${gate.state}`)
      waits.push(gate.until - now)
      now = gate.until
      expect(backoff.gate(now)).toEqual({ state: 'probe' })
      backoff.probeStarted()
      backoff.record('retry', now)
    }
    expect(waits).toEqual([500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000])
  })

  it('keeps the jitter between half the ceiling and the ceiling', () => {
    for (const r of [0, 0.25, 0.999]) {
      const backoff = new DestinationBackoff({ random: () => r, baseDelayMs: 10_000 })
      for (let i = 0; i < 3; i++) backoff.record('retry', T0)
      const gate = backoff.gate(T0)
      expect(gate.state).toBe('wait')
      const wait = (gate as { until: number }).until - T0
      expect(wait).toBe(Math.round(5_000 + r * 5_000))
      expect(wait).toBeGreaterThanOrEqual(5_000)
      expect(wait).toBeLessThanOrEqual(10_000)
    }
  })
})

describe('destination backoff: Retry-After pauses the whole destination, the probe included', () => {
  it('one answer with Retry-After pauses at once, below the threshold, then probes', () => {
    const backoff = pinned()
    backoff.record('retry', T0, 10_000)
    expect(backoff.isDown).toBe(true)
    expect(backoff.gate(T0)).toEqual({ state: 'wait', until: T0 + 10_000 })
    expect(backoff.gate(T0 + 9_999)).toEqual({ state: 'wait', until: T0 + 10_000 })
    expect(backoff.gate(T0 + 10_000)).toEqual({ state: 'probe' })
    backoff.probeStarted()
    backoff.record('delivered', T0 + 10_050)
    expect(backoff.gate(T0 + 10_050)).toEqual({ state: 'open' })
  })

  it('answers of requests in flight never end the pause: a delivered one neither', () => {
    for (const verdict of ['delivered', 'permanent', 'retry'] as const) {
      const backoff = pinned()
      backoff.record('retry', T0, 5_000)
      backoff.record(verdict, T0 + 10)
      expect(backoff.gate(T0 + 10)).toEqual({ state: 'wait', until: T0 + 5_000 })
      expect(backoff.gate(T0 + 5_000)).toEqual({ state: 'probe' })
    }
  })

  it('a longer Retry-After from a request in flight extends the pause; a shorter one does not shorten it', () => {
    const backoff = pinned()
    backoff.record('retry', T0, 5_000)
    backoff.record('retry', T0 + 10, 1_000)
    expect(backoff.gate(T0 + 10)).toEqual({ state: 'wait', until: T0 + 5_000 })
    backoff.record('retry', T0 + 20, 8_000)
    expect(backoff.gate(T0 + 5_000)).toEqual({ state: 'wait', until: T0 + 8_020 })
  })

  it('pauses for the probe-wait too when that is longer, and for a probe answered with Retry-After', () => {
    const backoff = pinned({ baseDelayMs: 1_000, maxDelayMs: 8_000 })
    let now = T0
    for (let i = 0; i < 3; i++) backoff.record('retry', now)
    for (let i = 0; i < 3; i++) {
      now = (backoff.gate(now) as { until: number }).until
      backoff.probeStarted()
      backoff.record('retry', now)
    }
    // Down, the next probe 4 s away: a 1 s Retry-After does not bring it forward.
    backoff.record('retry', now, 1_000)
    expect(backoff.gate(now + 1_000)).toEqual({ state: 'wait', until: now + 4_000 })
    // A probe answered 429 with Retry-After: 30 waits 30 s, not the doubled backoff.
    now += 4_000
    expect(backoff.gate(now)).toEqual({ state: 'probe' })
    backoff.probeStarted()
    backoff.record('retry', now, 30_000)
    expect(backoff.gate(now + 29_999)).toEqual({ state: 'wait', until: now + 30_000 })
    expect(backoff.gate(now + 30_000)).toEqual({ state: 'probe' })
  })

  it('never gets stuck on a probe: a pause that comes while one is in flight ends in a new probe', () => {
    const backoff = pinned()
    for (let i = 0; i < 3; i++) backoff.record('retry', T0)
    expect(backoff.gate(T0 + 500)).toEqual({ state: 'probe' })
    backoff.probeStarted()
    backoff.record('retry', T0 + 510, 2_000) // a request still in flight from before asks for 2 s
    backoff.record('delivered', T0 + 600) // the probe answers during the pause: ignored
    expect(backoff.gate(T0 + 600)).toEqual({ state: 'wait', until: T0 + 2_510 })
    expect(backoff.gate(T0 + 2_510)).toEqual({ state: 'probe' })
  })

  it(`clamps the pause to MAX_RETRY_AFTER_MS (${MAX_RETRY_AFTER_MS} ms)`, () => {
    const backoff = pinned()
    backoff.record('retry', T0, 86_400_000)
    expect(backoff.gate(T0)).toEqual({ state: 'wait', until: T0 + MAX_RETRY_AFTER_MS })
    expect(backoff.gate(T0 + MAX_RETRY_AFTER_MS)).toEqual({ state: 'probe' })
  })

  it('Retry-After: 0 does not pause: below the threshold it stays open', () => {
    const backoff = pinned()
    backoff.record('retry', T0, 0)
    expect(backoff.gate(T0)).toEqual({ state: 'open' })
  })
})
