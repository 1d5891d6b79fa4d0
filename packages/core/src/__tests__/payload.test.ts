// Tests the wire format: webhook payloads for every event type, the delete payload, and the one serialisation.

import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PayloadError } from '../errors.js'
import {
  encodeEvent,
  type SegmentEvent,
  serializePayload,
  toDeletePayload,
  toWebhookPayload,
} from '../payload.js'
import { deepFreeze, EVENT_TYPES, sampleEvents } from './fixtures.js'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function payloadError(run: () => unknown): PayloadError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(PayloadError)
    return error as PayloadError
  }
  throw new Error('expected a PayloadError')
}

afterEach(() => {
  vi.useRealTimers()
})

describe('payloads: every event type becomes version 1 with an ISO timestamp and no internal fields', () => {
  for (const type of EVENT_TYPES) {
    it(`${type}`, () => {
      const event = deepFreeze(sampleEvents()[type])
      const payload = toWebhookPayload(event)
      expect(Object.keys(payload)[0]).toBe('version')
      expect(payload.version).toBe(1)
      expect(payload.type).toBe(type)
      expect(payload.timestamp).toMatch(ISO)
      expect(payload.timestamp).toBe('2012-12-02T00:30:08.276Z')
      for (const internal of ['_metadata', 'writeKey', 'options']) {
        expect(payload).not.toHaveProperty(internal)
        expect(encodeEvent(event)).not.toContain(`"${internal}"`)
      }
      // Every other field is carried as is.
      const { _metadata, writeKey, options, timestamp, ...rest } = event
      expect(payload).toEqual({ version: 1, ...rest, timestamp: '2012-12-02T00:30:08.276Z' })
      expect(encodeEvent(event)).not.toContain('wk_should_never_leave')
    })
  }

  it('alias carries previousId and userId (not the spec\'s "Previous ID"/"User ID")', () => {
    const payload = JSON.parse(encodeEvent(sampleEvents().alias))
    expect(payload.previousId).toBe('anon-\ud83d')
    expect(payload.userId).toBe('019mr8mf4r')
    expect(payload).not.toHaveProperty('Previous ID')
    expect(payload).not.toHaveProperty('User ID')
  })

  it('overrides a version the event already had, and keeps it first', () => {
    const payload = toWebhookPayload({ type: 'track', event: 'x', version: 2, timestamp: 0 })
    expect(payload.version).toBe(1)
    expect(Object.keys(payload)).toEqual(['version', 'type', 'event', 'timestamp'])
  })

  it('keeps an own __proto__ field (as JSON.parse makes it) without touching the prototype', () => {
    const event = JSON.parse('{"type":"track","event":"x","__proto__":{"polluted":true}}')
    const payload = toWebhookPayload(event)
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype)
    expect((payload as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.hasOwn(payload, '__proto__')).toBe(true)
    expect(serializePayload(payload)).toContain('"__proto__":{"polluted":true}')
  })
})

describe('payloads: the timestamp is ISO-8601, from a Date or a string', () => {
  it('converts a Date', () => {
    expect(toWebhookPayload({ type: 'page', timestamp: new Date(0) }).timestamp).toBe(
      '1970-01-01T00:00:00.000Z',
    )
  })

  it('normalises an ISO string with an offset to UTC', () => {
    expect(
      toWebhookPayload({ type: 'page', timestamp: '2012-12-02T01:30:08.276+01:00' }).timestamp,
    ).toBe('2012-12-02T00:30:08.276Z')
  })

  it('converts epoch milliseconds', () => {
    expect(toWebhookPayload({ type: 'page', timestamp: 1354408208276 }).timestamp).toBe(
      '2012-12-02T00:30:08.276Z',
    )
  })

  it('uses the injected clock when the event has none', () => {
    const now = () => new Date('2030-01-01T00:00:00.000Z')
    expect(toWebhookPayload({ type: 'page' }, now).timestamp).toBe('2030-01-01T00:00:00.000Z')
    expect(
      toWebhookPayload({ type: 'page', timestamp: null } as unknown as SegmentEvent, now).timestamp,
    ).toBe('2030-01-01T00:00:00.000Z')
  })

  it('writes exactly what Date#toISOString writes, across seconds, before 1970 and past year 9999', () => {
    const edges = [
      0, 1, 999, 1000, -1, -1001, 253_402_300_799_999, 253_402_300_800_000, -62_198_755_200_000,
    ]
    let ms = 1_354_408_208_276
    const sequence = Array.from({ length: 2000 }, (_, i) => (ms += (i * 7919) % 1500))
    for (const at of [...edges, ...sequence]) {
      expect(toWebhookPayload({ type: 'page', timestamp: at }).timestamp).toBe(
        new Date(at).toISOString(),
      )
    }
  })

  it('refuses timestamps that are not dates', () => {
    for (const timestamp of ['yesterday', new Date(Number.NaN), Number.NaN, {}, Symbol('t')]) {
      const error = payloadError(() =>
        toWebhookPayload({ type: 'page', timestamp } as unknown as SegmentEvent),
      )
      expect(error.code).toBe('invalid_timestamp')
      expect(error.field).toBe('timestamp')
    }
  })
})

describe('payloads: the input event is never mutated', () => {
  it('leaves a deep-frozen event of every type exactly as it was', () => {
    for (const type of EVENT_TYPES) {
      const original = sampleEvents()[type]
      const before = JSON.stringify(original)
      const frozen = deepFreeze(original)
      const payload = toWebhookPayload(frozen)
      expect(payload).not.toBe(frozen)
      expect(JSON.stringify(frozen)).toBe(before)
      expect(frozen).toHaveProperty('_metadata')
      expect(frozen).toHaveProperty('writeKey')
      expect(frozen).toHaveProperty('options')
    }
  })

  it('does not share the payload object with the event', () => {
    const event: SegmentEvent = { type: 'track', event: 'x', timestamp: new Date(0) }
    const payload = toWebhookPayload(event) as Record<string, unknown>
    payload.event = 'changed'
    expect(event.event).toBe('x')
    expect(event.timestamp).toBeInstanceOf(Date)
  })
})

describe('payloads: unsupported types are refused', () => {
  it('refuses every type that is not a Segment call', () => {
    for (const type of ['delete', 'batch', 'Track', '', undefined, 42, '__proto__']) {
      const error = payloadError(() => toWebhookPayload({ type } as unknown as SegmentEvent))
      expect(error.code).toBe('unsupported_type')
      expect(error.field).toBe('type')
      expect(error.message).toContain('page, screen, identify, track, alias, group')
    }
  })

  it('refuses an event that is not an object', () => {
    for (const event of [null, undefined, 'track', 7]) {
      const error = payloadError(() => toWebhookPayload(event as unknown as SegmentEvent))
      expect(error.code).toBe('invalid_event')
    }
  })
})

describe('payloads: delete is { type, userId, timestamp } without version', () => {
  it('has exactly the three fields, in order', () => {
    const payload = toDeletePayload({ userId: '019mr8mf4r', timestamp: new Date(1354408208276) })
    expect(serializePayload(payload)).toBe(
      '{"type":"delete","userId":"019mr8mf4r","timestamp":"2012-12-02T00:30:08.276Z"}',
    )
    expect(payload).not.toHaveProperty('version')
  })

  it('takes an ISO string and defaults to now', () => {
    expect(toDeletePayload({ userId: 'u', timestamp: '2012-12-02T00:30:08.276Z' }).timestamp).toBe(
      '2012-12-02T00:30:08.276Z',
    )
    vi.useFakeTimers({ now: new Date('2031-05-06T07:08:09.010Z') })
    expect(toDeletePayload({ userId: 'u' }).timestamp).toBe('2031-05-06T07:08:09.010Z')
  })

  it('refuses a missing or empty userId', () => {
    for (const request of [{ userId: '' }, {}, { userId: 42 }, null]) {
      const error = payloadError(() =>
        toDeletePayload(request as unknown as Parameters<typeof toDeletePayload>[0]),
      )
      expect(error.code).toBe('invalid_user_id')
      expect(error.field).toBe('userId')
    }
  })

  it('refuses an invalid timestamp', () => {
    expect(payloadError(() => toDeletePayload({ userId: 'u', timestamp: 'soon' })).code).toBe(
      'invalid_timestamp',
    )
  })
})

describe('payloads: what JSON cannot carry is a PayloadError "unserializable"', () => {
  it('reports a circular structure clearly', () => {
    const properties: Record<string, unknown> = { a: 1 }
    properties.self = properties
    const error = payloadError(() => encodeEvent({ type: 'track', event: 'x', properties }))
    expect(error.code).toBe('unserializable')
    expect(error.field).toBe('event')
    expect(error.message).toBe('Invalid webhook payload: event: contains a circular reference')
  })

  it('reports a BigInt clearly', () => {
    const error = payloadError(() =>
      encodeEvent({ type: 'track', event: 'x', properties: { n: 10n } }),
    )
    expect(error.code).toBe('unserializable')
    expect(error.message).toContain('BigInt')
  })

  it('reports a toJSON that throws, with the first line of its message', () => {
    const properties = {
      toJSON() {
        throw new Error('nope\nsecond line')
      },
    }
    const error = payloadError(() => encodeEvent({ type: 'track', event: 'x', properties }))
    expect(error.code).toBe('unserializable')
    expect(error.message).toContain('(nope)')
    expect(error.message).not.toContain('second line')
  })

  it('refuses a payload that serialises to nothing', () => {
    const payload = { toJSON: () => undefined } as unknown as Parameters<typeof serializePayload>[0]
    expect(payloadError(() => serializePayload(payload)).code).toBe('unserializable')
  })
})

describe('payloads: one serialisation whose bytes survive a receiver re-serialising them', () => {
  it('encodeEvent is serializePayload(toWebhookPayload(event)), stable for every type', () => {
    for (const type of EVENT_TYPES) {
      const event = sampleEvents()[type]
      const text = encodeEvent(event)
      expect(text).toBe(serializePayload(toWebhookPayload(event)))
      expect(JSON.stringify(JSON.parse(text))).toBe(text)
      // Lone surrogates are escaped, so the text is well-formed UTF-16 and survives UTF-8 intact.
      expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text)
    }
  })

  // Strings over every UTF-16 code unit, so lone surrogates and controls appear often.
  const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
  const anyString = fc.oneof(
    fc.string({ unit: anyCodeUnit }),
    fc.string({ unit: 'grapheme' }),
    fc.string(),
  )
  const key = fc.oneof(anyString, fc.constantFrom('__proto__', 'constructor', '0', '-1', '1e3'))
  const { json } = fc.letrec((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.integer(),
      fc.constantFrom(1e308, 5e-324, -0, 2 ** 53 + 1, Number.MAX_VALUE, -Number.MIN_VALUE),
      anyString,
      fc.array(tie('json'), { maxLength: 5 }),
      fc.dictionary(key, tie('json'), { maxKeys: 5 }),
    ),
  }))
  const eventArb = fc.record({
    type: fc.constantFrom(...EVENT_TYPES),
    userId: anyString,
    properties: fc.oneof(json, fc.jsonValue()),
    traits: fc.dictionary(key, json, { maxKeys: 4 }),
    timestamp: fc.date({ min: new Date(0), max: new Date(4102444800000), noInvalidDate: true }),
  })

  it('JSON.stringify(JSON.parse(s)) === s for arbitrary events (property)', () => {
    fc.assert(
      fc.property(eventArb, (event) => {
        const text = encodeEvent(event)
        expect(JSON.stringify(JSON.parse(text))).toBe(text)
        const parsed = JSON.parse(text)
        expect(parsed.version).toBe(1)
        expect(parsed.type).toBe(event.type)
        expect(parsed.timestamp).toBe(event.timestamp.toISOString())
      }),
      { numRuns: 500 },
    )
  })

  it('JSON.stringify(JSON.parse(s)) === s for fc.jsonValue bodies (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = encodeEvent({ type: 'track', event: 'x', properties: value, timestamp: 0 })
        expect(JSON.stringify(JSON.parse(text))).toBe(text)
      }),
      { numRuns: 300 },
    )
  })
})
