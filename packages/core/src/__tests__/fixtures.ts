// Segment events of every type, full of the values that break naive serialisers, shared by the tests.

import type { EventType, SegmentEvent } from '../payload.js'

/** Strings that differ between naive and correct UTF-8/JSON handling. */
export const TRICKY_STRINGS = {
  unicode: 'Ünïcödé 日本語 Ελληνικά עברית',
  emoji: 'hi 👋🏽 👨‍👩‍👧 🇫🇷',
  loneHigh: 'a\ud800b',
  loneLow: '\udfffz',
  lonePairReversed: '\udc00\ud800',
  escapes: 'quote " backslash \\ slash / tab \t newline \n nul \u0000 del \u007f',
  separators: 'line\u2028paragraph\u2029',
  empty: '',
} as const

/** Numbers at the edges of what JSON and doubles carry. */
export const TRICKY_NUMBERS = {
  huge: 1e308,
  tiny: 5e-324,
  negativeZero: -0,
  beyondSafe: 2 ** 53 + 1,
  negative: -123.456e-7,
  max: Number.MAX_VALUE,
} as const

/** A deeply nested object holding every tricky value. */
export function nested(depth = 6): Record<string, unknown> {
  let value: Record<string, unknown> = { ...TRICKY_STRINGS, ...TRICKY_NUMBERS, leaf: true }
  for (let i = depth; i > 0; i--) {
    value = { level: i, list: [i, `${i}`, null, [value]], child: value }
  }
  return value
}

const base = {
  messageId: 'ajs-next-1700000000000-0c7c8a8e-3f1b-4d6e-9a2f-5b8c7d6e5f4a',
  anonymousId: 'f1b4c7e0-5d9a-4e8b-9c3f-2a1b0c9d8e7f',
  context: {
    library: { name: 'analytics-node', version: '2.1.0' },
    ip: '203.0.113.7',
    locale: 'fr-FR',
    page: { title: TRICKY_STRINGS.unicode, path: '/prix' },
    deep: nested(),
  },
  integrations: { All: true },
  _metadata: { nodeVersion: '20.20.0', jsRuntime: 'node' },
  writeKey: 'wk_should_never_leave',
  options: { context: { ip: '0.0.0.0' } },
}

/** One event per Segment call type, as analytics-node would hand it to a destination. */
export function sampleEvents(): Record<EventType, SegmentEvent> {
  return {
    page: {
      ...base,
      type: 'page',
      userId: '019mr8mf4r',
      name: 'Pricing',
      properties: {
        path: '/pricing',
        referrer: 'https://segment.com',
        title: TRICKY_STRINGS.emoji,
        url: 'https://segment.com/pricing',
      },
      timestamp: new Date('2012-12-02T00:30:08.276Z'),
    },
    screen: {
      ...base,
      type: 'screen',
      userId: '019mr8mf4r',
      name: 'Main Screen',
      properties: { loneHigh: TRICKY_STRINGS.loneHigh, loneLow: TRICKY_STRINGS.loneLow },
      timestamp: '2012-12-02T00:30:08.276Z',
    },
    identify: {
      ...base,
      type: 'identify',
      userId: '019mr8mf4r',
      traits: {
        email: 'achilles@segment.com',
        name: 'Achillé 👑',
        friendCount: 29,
        balance: TRICKY_NUMBERS.huge,
        epsilon: TRICKY_NUMBERS.tiny,
        zero: TRICKY_NUMBERS.negativeZero,
        id: TRICKY_NUMBERS.beyondSafe,
      },
      timestamp: new Date(1354408208276),
    },
    track: {
      ...base,
      type: 'track',
      userId: '019mr8mf4r',
      event: 'Purchased an Item 🛒',
      properties: {
        revenue: '39.95',
        shippingMethod: '2-day',
        tricky: { ...TRICKY_STRINGS },
        numbers: { ...TRICKY_NUMBERS },
        items: [{ sku: 'é-1', price: 1e-7 }, { sku: TRICKY_STRINGS.lonePairReversed }],
      },
      timestamp: '2012-12-02T01:30:08.276+01:00',
    },
    alias: {
      ...base,
      type: 'alias',
      previousId: 'anon-\ud83d',
      userId: '019mr8mf4r',
      timestamp: new Date('2012-12-02T00:30:08.276Z'),
    },
    group: {
      ...base,
      type: 'group',
      groupId: '0e8c78ea9d97a7b8185e8632',
      userId: '019mr8mf4r',
      traits: {
        name: 'Initech',
        industry: TRICKY_STRINGS.separators,
        employees: 329,
        'total billed': 830,
        escapes: TRICKY_STRINGS.escapes,
      },
      timestamp: new Date('2012-12-02T00:30:08.276Z'),
    },
  }
}

export const EVENT_TYPES: readonly EventType[] = [
  'page',
  'screen',
  'identify',
  'track',
  'alias',
  'group',
]

/** Freezes `value` and everything reachable from it, so any mutation throws in strict mode. */
export function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
  if (value === null || typeof value !== 'object' || seen.has(value)) return value
  seen.add(value)
  for (const key of Reflect.ownKeys(value)) {
    deepFreeze((value as Record<PropertyKey, unknown>)[key], seen)
  }
  return Object.freeze(value)
}
