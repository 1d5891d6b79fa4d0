// Tests request bodies: a single event, and batch assembly within batchSize and 512 KB.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assembleBatch, batchSizes, singleBody, utf8Length } from '../body.js'
import { encodeEvent } from '../payload.js'
import { LIMITS } from '../settings.js'
import { EVENT_TYPES, sampleEvents } from './fixtures.js'

/** A serialised event of exactly `bytes` UTF-8 bytes. */
function eventOfSize(bytes: number, fill = 'x'): string {
  const empty = '{"p":""}'
  const fillBytes = Buffer.byteLength(fill)
  const count = (bytes - empty.length) / fillBytes
  if (!Number.isInteger(count)) throw new Error('size not reachable with this fill')
  const json = `{"p":"${fill.repeat(count)}"}`
  expect(Buffer.byteLength(json)).toBe(bytes)
  return json
}

describe('bodies: a single event is sent and signed as is', () => {
  it('singleBody', () => {
    const json = encodeEvent(sampleEvents().track)
    expect(singleBody(json)).toEqual({ json, firstEventJson: json, count: 1, isBatch: false })
  })
})

describe('bodies: a batch is a JSON array of up to batchSize events', () => {
  const events = EVENT_TYPES.map((t) => encodeEvent(sampleEvents()[t]))

  it('takes every event, in order, when they fit', () => {
    const { body, taken } = assembleBatch(events, { maxEvents: 1000 })
    expect(taken).toBe(events.length)
    expect(body.count).toBe(events.length)
    expect(body.isBatch).toBe(true)
    expect(body.json).toBe(`[${events.join(',')}]`)
    expect(JSON.parse(body.json).map((e: { type: string }) => e.type)).toEqual(EVENT_TYPES)
    expect(body.firstEventJson).toBe(events[0])
  })

  it('stops at maxEvents', () => {
    const { body, taken } = assembleBatch(events, { maxEvents: 4 })
    expect(taken).toBe(4)
    expect(body.json).toBe(`[${events.slice(0, 4).join(',')}]`)
  })

  it('takes at least one event whatever maxEvents says', () => {
    for (const maxEvents of [1, 0, -5, Number.NaN]) {
      const { body, taken } = assembleBatch(events, { maxEvents })
      expect(taken).toBe(1)
      expect(body.json).toBe(`[${events[0]}]`)
      expect(body.isBatch).toBe(true)
    }
  })

  it('refuses an empty list', () => {
    expect(() => assembleBatch([], { maxEvents: 10 })).toThrow(RangeError)
  })
})

describe('bodies: a batch stays within 512 KB', () => {
  it('defaults to 512 KB', () => {
    expect(LIMITS.maxBatchBytes).toBe(524_288)
  })

  it('fills the body up to exactly the byte limit, and not one byte more', () => {
    // Four events of 131,070 bytes: "[" + 4 * 131070 + 3 commas + "]" = 524,285 bytes.
    const big = eventOfSize(131_070)
    const fits = [big, big, big, eventOfSize(131_070 + 3)]
    const exact = assembleBatch(fits, { maxEvents: 1000 })
    expect(exact.taken).toBe(4)
    expect(Buffer.byteLength(exact.body.json)).toBe(LIMITS.maxBatchBytes)
    const over = assembleBatch([big, big, big, eventOfSize(131_070 + 4)], { maxEvents: 1000 })
    expect(over.taken).toBe(3)
  })

  it('counts UTF-8 bytes, not UTF-16 code units', () => {
    // 'é' is one code unit and two bytes: by length these would fit, by bytes they do not.
    const accented = eventOfSize(200_008, 'é')
    expect(accented.length).toBeLessThan(110_000)
    const { taken, body } = assembleBatch([accented, accented, accented], { maxEvents: 10 })
    expect(taken).toBe(2)
    expect(Buffer.byteLength(body.json)).toBeLessThanOrEqual(LIMITS.maxBatchBytes)
  })

  it('honours a smaller maxBytes', () => {
    const event = eventOfSize(100)
    const { taken } = assembleBatch(Array(10).fill(event), { maxEvents: 10, maxBytes: 305 })
    expect(taken).toBe(3) // 2 + 3 * 100 + 2 commas = 304
  })

  it('always takes the first event, even when it alone is over the limit', () => {
    const huge = eventOfSize(600_000)
    const { body, taken } = assembleBatch([huge, eventOfSize(100)], { maxEvents: 10 })
    expect(taken).toBe(1)
    expect(body.json).toBe(`[${huge}]`)
  })

  it('never exceeds either limit unless a single event must go alone (property)', () => {
    const event = fc
      .record({ type: fc.constant('track'), p: fc.string({ unit: 'grapheme', maxLength: 300 }) })
      .map((e) => JSON.stringify(e))
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 10, max: 4_000 }),
        (events, maxEvents, maxBytes) => {
          const { body, taken } = assembleBatch(events, { maxEvents, maxBytes })
          expect(taken).toBeGreaterThanOrEqual(1)
          expect(taken).toBeLessThanOrEqual(Math.min(maxEvents, events.length))
          expect(JSON.parse(body.json)).toEqual(events.slice(0, taken).map((e) => JSON.parse(e)))
          const size = Buffer.byteLength(body.json)
          if (taken > 1) expect(size).toBeLessThanOrEqual(maxBytes)
          // Greedy: the next event would not have fitted.
          if (taken < Math.min(maxEvents, events.length)) {
            expect(size + 1 + Buffer.byteLength(events[taken] as string)).toBeGreaterThan(maxBytes)
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('bodies: batchSizes cuts a run of events as assembleBatch takes them', () => {
  it('examples: full batches, then the rest; a lone oversized event goes alone', () => {
    const small = eventOfSize(100)
    expect(batchSizes(Array(256).fill(small), { maxEvents: 100 })).toEqual([100, 100, 56])
    expect(batchSizes([small], { maxEvents: 100 })).toEqual([1])
    expect(batchSizes([], { maxEvents: 100 })).toEqual([])
    const big = eventOfSize(600)
    expect(batchSizes([small, big, small, small], { maxEvents: 10, maxBytes: 500 })).toEqual([
      1, 1, 2,
    ])
  })

  it('each size is what assembleBatch takes from where the last batch ended (property)', () => {
    const event = fc
      .record({ type: fc.constant('track'), p: fc.string({ unit: 'grapheme', maxLength: 300 }) })
      .map((e) => JSON.stringify(e))
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 10, max: 4_000 }),
        (events, maxEvents, maxBytes) => {
          const sizes = batchSizes(events, { maxEvents, maxBytes })
          let from = 0
          for (const size of sizes) {
            expect(size).toBe(assembleBatch(events.slice(from), { maxEvents, maxBytes }).taken)
            from += size
          }
          expect(from).toBe(events.length)
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('bodies: utf8Length equals Buffer.byteLength, lone surrogates included', () => {
  it('examples', () => {
    for (const text of [
      '',
      'a',
      'é',
      '€',
      '👋',
      'héllo 👋',
      '\ud800',
      '\udc00',
      'a\ud800',
      '\ud83d\ude00\ud800',
    ]) {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'))
      expect(utf8Length(text)).toBe(new TextEncoder().encode(text).length)
    }
  })

  it('for any string of UTF-16 code units (property)', () => {
    const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
    // Surrogates are rare among 65,536 code units: bias towards them.
    const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))
    fc.assert(
      fc.property(
        fc.string({ unit: fc.oneof(anyCodeUnit, surrogate, fc.constantFrom('a', 'é', '😀')) }),
        (text) => {
          expect(utf8Length(text)).toBe(Buffer.byteLength(text, 'utf8'))
        },
      ),
      { numRuns: 2000 },
    )
  })
})
