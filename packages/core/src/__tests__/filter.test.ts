/** The `events` setting (which calls a destination sends) and the `transform` rule (what each becomes), as both plugins apply them. */

import { describe, expect, it } from 'vitest'
import { PayloadError, SettingsError } from '../errors.js'
import { CALL_TYPES, sendsEvent } from '../filter.js'
import { encodeEvent } from '../payload.js'
import { parseEvents, parseSettings } from '../settings.js'
import { transformBody } from '../transform.js'

const HOOK = 'https://hooks.example.com/segment'

/** The SettingsError parseSettings throws for this `events` value. */
function eventsError(events: unknown): SettingsError {
  try {
    parseSettings({ webhooks: [HOOK], events } as never)
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError)
    return error as SettingsError
  }
  throw new Error(`parseSettings accepted events ${JSON.stringify(events)}`)
}

describe('events: validated with the other settings', () => {
  it('is undefined when left out, and frozen lists when given', () => {
    expect(parseSettings({ webhooks: [HOOK] }).events).toBeUndefined()
    const { events } = parseSettings({
      webhooks: [HOOK],
      events: { include: ['track', 'identify'], exclude: ['track:Heartbeat'] },
    })
    expect(events).toEqual({ include: ['track', 'identify'], exclude: ['track:Heartbeat'] })
    expect(Object.isFrozen(events)).toBe(true)
    expect(Object.isFrozen(events?.include)).toBe(true)
    expect(parseEvents({ exclude: ['alias'] })).toEqual({ include: undefined, exclude: ['alias'] })
  })

  it('takes every call type, and any track event name (spaces and case as written)', () => {
    expect(parseEvents({ include: [...CALL_TYPES, 'track:Order Completed', 'track: x'] })).toEqual({
      include: [...CALL_TYPES, 'track:Order Completed', 'track: x'],
      exclude: [],
    })
  })

  it.each([
    [null, 'events', 'invalid_type', 'must be an object'],
    [['track'], 'events', 'invalid_type', 'must be an object'],
    [
      { includes: ['track'] },
      'events.includes',
      'unknown_field',
      'is not a setting, did you mean include? (known: include, exclude)',
    ],
    [{ include: 'track' }, 'events.include', 'invalid_type', 'must be an array'],
    [
      { include: [] },
      'events.include',
      'too_few',
      'must not be empty (leave it out to send every call)',
    ],
    [{ exclude: [1] }, 'events.exclude[0]', 'invalid_type', 'must be a string'],
    [
      { include: ['track', 'trak'] },
      'events.include[1]',
      'invalid_choice',
      '"trak" is not a call type or track:<event name>, did you mean track? (known: page, screen, identify, track, alias, group, delete)',
    ],
    [
      { include: ['Track'] },
      'events.include[0]',
      'invalid_choice',
      '"Track" is not a call type or track:<event name>, did you mean track?',
    ],
    [
      { exclude: ['track:'] },
      'events.exclude[0]',
      'invalid_choice',
      '"track:" is not a call type or track:<event name>',
    ],
    [
      { exclude: ['page:Home'] },
      'events.exclude[0]',
      'invalid_choice',
      '"page:Home" is not a call type or track:<event name>',
    ],
  ])('refuses %j: %s %s', (events, field, code, rule) => {
    const error = eventsError(events)
    expect({ field: error.field, code: error.code }).toEqual({ field, code })
    expect(error.message).toContain(`Invalid webhook settings: ${field}: ${rule}`)
  })
})

describe('sendsEvent', () => {
  const calls: Array<[string, string?]> = [
    ['track', 'Order Completed'],
    ['track', 'Heartbeat'],
    ['identify'],
    ['page', 'Home'],
    ['screen'],
    ['group'],
    ['alias'],
    ['delete'],
  ]
  const sent = (events: unknown) =>
    calls
      .filter(([type, name]) => sendsEvent(parseEvents(events), type, name))
      .map((c) => c.join(':'))

  it('sends every call without the setting', () => {
    expect(sent(undefined)).toHaveLength(calls.length)
  })

  it('include: only the listed types and track names', () => {
    expect(sent({ include: ['identify', 'track:Order Completed'] })).toEqual([
      'track:Order Completed',
      'identify',
    ])
    expect(sent({ include: ['track'] })).toEqual(['track:Order Completed', 'track:Heartbeat'])
  })

  it('exclude: everything but the listed, and it wins over include', () => {
    expect(sent({ exclude: ['track:Heartbeat', 'delete', 'alias'] })).toEqual([
      'track:Order Completed',
      'identify',
      'page:Home',
      'screen',
      'group',
    ])
    expect(sent({ include: ['track'], exclude: ['track:Heartbeat'] })).toEqual([
      'track:Order Completed',
    ])
  })

  it('a track name never matches another type, and names match exactly', () => {
    const filter = parseEvents({ include: ['track:Home', 'track:Order Completed'] })
    expect(sendsEvent(filter, 'page', 'Home')).toBe(false)
    expect(sendsEvent(filter, 'track', 'order completed')).toBe(false)
    expect(sendsEvent(filter, 'track', undefined)).toBe(false)
    expect(sendsEvent(parseEvents({ include: ['track'] }), 'track', undefined)).toBe(true)
  })
})

describe('transformBody', () => {
  const body = encodeEvent({
    type: 'track',
    event: 'Signed Up',
    userId: 'u1',
    messageId: 'm1',
    timestamp: '2026-12-06T10:00:00.000Z',
  })

  it('returns the serialised payload the transform returns, from a copy of the body', () => {
    let seen: Record<string, unknown> | undefined
    const out = transformBody((payload) => {
      seen = payload
      const { userId, ...rest } = payload
      return { ...rest, user_id: userId }
    }, body)
    expect(seen).toEqual(JSON.parse(body))
    expect(out).toBe(
      '{"version":1,"type":"track","event":"Signed Up","messageId":"m1","timestamp":"2026-12-06T10:00:00.000Z","user_id":"u1"}',
    )
    expect(JSON.stringify(JSON.parse(out as string))).toBe(out)
  })

  it('null skips the event', () => {
    expect(transformBody(() => null, body)).toBeNull()
  })

  it.each([
    [
      'throws',
      () => {
        throw new Error('no plan for Signed Up')
      },
      'Invalid webhook payload: transform: threw: no plan for Signed Up',
    ],
    ['returns undefined', () => undefined, 'must return an object with a type, or null'],
    ['returns a Promise', async () => ({ type: 'track' }), '(not a Promise)'],
    ['returns an array', () => [{ type: 'track' }], 'must return an object with a type'],
    ['returns no type', () => ({ event: 'x' }), 'must return an object with a type'],
    ['returns an empty type', () => ({ type: '' }), 'must return an object with a type'],
    ['returns a BigInt', () => ({ type: 'track', n: 1n }), 'BigInt'],
  ])('refuses a transform that %s', (_what, transform, message) => {
    let error: unknown
    try {
      transformBody(transform as never, body)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(PayloadError)
    expect((error as Error).message).toContain(message)
    expect((error as PayloadError).code).toBe(
      message === 'BigInt' ? 'unserializable' : 'transform_failed',
    )
  })

  it('a throw that is not an Error is reported as text, cut to 200 characters', () => {
    expect(() =>
      transformBody(() => {
        throw 'x'.repeat(500)
      }, body),
    ).toThrow(/threw: x{200}$/)
  })
})
