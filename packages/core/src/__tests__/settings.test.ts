// Tests parseSettings against every rule in DESIGN.md's "Bad input" and issue 2's settings list.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SettingsError, type SettingsErrorCode } from '../errors.js'
import {
  DEFAULTS,
  LIMITS,
  parseSettings,
  RESERVED_HEADERS,
  type WebhookSettingsInput,
} from '../settings.js'

const URL_A = 'https://hooks.example.com/segment'

/** Parses `input` and returns the SettingsError it must throw. */
function settingsError(input: unknown): SettingsError {
  try {
    parseSettings(input as WebhookSettingsInput)
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError)
    return error as SettingsError
  }
  throw new Error(`parseSettings accepted ${JSON.stringify(input)}`)
}

function expectRejected(input: unknown, field: string, code: SettingsErrorCode): SettingsError {
  const error = settingsError(input)
  expect({ field: error.field, code: error.code }).toEqual({ field, code })
  expect(error.name).toBe('SettingsError')
  expect(error.message).toContain(field)
  return error
}

describe('settings: the minimal input gets the documented defaults', () => {
  it('fills in every default and normalises the URL', () => {
    const settings = parseSettings({ webhooks: [URL_A] })
    expect(settings).toEqual({
      webhooks: [URL_A],
      headers: {},
      sharedSecret: undefined,
      signature: 'classic',
      batchSize: 1,
      method: 'POST',
      timeoutMs: 5_000,
      retryWindowMs: 4 * 60 * 60 * 1000,
      events: undefined,
    })
    expect(DEFAULTS.timeoutMs).toBe(5_000)
    expect(DEFAULTS.retryWindowMs).toBe(14_400_000)
  })

  it('returns frozen settings, headers and URL list', () => {
    const settings = parseSettings({ webhooks: [URL_A], headers: { 'X-Team': 'growth' } })
    expect(Object.isFrozen(settings)).toBe(true)
    expect(Object.isFrozen(settings.webhooks)).toBe(true)
    expect(Object.isFrozen(settings.headers)).toBe(true)
  })

  it('keeps every valid option as given', () => {
    const settings = parseSettings({
      webhooks: [URL_A, 'http://127.0.0.1:8080/in'],
      headers: { 'X-Team': 'growth', Authorization: 'Bearer abc' },
      sharedSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      signature: 'both',
      batchSize: 1000,
      method: 'PATCH',
      timeoutMs: 60_000,
      retryWindowMs: 0,
    })
    expect(settings.webhooks).toEqual([URL_A, 'http://127.0.0.1:8080/in'])
    expect(settings.headers).toEqual({ 'X-Team': 'growth', Authorization: 'Bearer abc' })
    expect(settings.signature).toBe('both')
    expect(settings.batchSize).toBe(1000)
    expect(settings.method).toBe('PATCH')
    expect(settings.timeoutMs).toBe(60_000)
    expect(settings.retryWindowMs).toBe(0)
  })

  it('refuses what is not a settings object', () => {
    for (const input of [null, undefined, 'https://a.example', 42, [URL_A]]) {
      expectRejected(input, 'settings', 'invalid_type')
    }
  })
})

describe('settings: 1 to 5 distinct http(s) URLs', () => {
  it('requires webhooks', () => {
    expectRejected({}, 'webhooks', 'required')
  })

  it('refuses 0 URLs', () => {
    expectRejected({ webhooks: [] }, 'webhooks', 'too_few')
  })

  it('accepts 5 URLs and refuses 6 or more', () => {
    const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://h${i}.example/x`)
    expect(parseSettings({ webhooks: urls(5) }).webhooks).toHaveLength(LIMITS.maxWebhooks)
    expectRejected({ webhooks: urls(6) }, 'webhooks', 'too_many')
    expectRejected({ webhooks: urls(50) }, 'webhooks', 'too_many')
  })

  it('refuses a list that is not an array, and entries that are not strings', () => {
    expectRejected({ webhooks: URL_A }, 'webhooks', 'invalid_type')
    expectRejected({ webhooks: [URL_A, 42] }, 'webhooks[1]', 'invalid_type')
  })

  it('refuses the holes of a sparse array instead of skipping them', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point of this test
    expectRejected({ webhooks: [, URL_A] }, 'webhooks[0]', 'invalid_type')
  })

  it('refuses text that is not an absolute URL', () => {
    for (const bad of ['', 'hooks.example.com', '/segment', 'http://', 'https://exa mple.com']) {
      expectRejected({ webhooks: [bad] }, 'webhooks[0]', 'invalid_url')
    }
  })

  it('refuses protocols other than http: and https:', () => {
    for (const bad of [
      'ftp://example.com/x',
      'file:///etc/passwd',
      'ws://example.com',
      'javascript:alert(1)',
      'data:text/plain,hi',
    ]) {
      expectRejected({ webhooks: [URL_A, bad] }, 'webhooks[1]', 'unsupported_protocol')
    }
  })

  it('refuses a URL repeated, after normalisation', () => {
    expectRejected({ webhooks: [URL_A, URL_A] }, 'webhooks[1]', 'duplicate')
    expectRejected(
      { webhooks: ['https://A.example.com', 'https://a.example.com/'] },
      'webhooks[1]',
      'duplicate',
    )
    expectRejected(
      { webhooks: ['https://a.example.com:443/x', 'https://a.example.com/x'] },
      'webhooks[1]',
      'duplicate',
    )
  })

  it('refuses credentials in the URL and never echoes them', () => {
    for (const bad of ['https://user:pa55word@example.com/x', 'https://user@example.com/x']) {
      const error = expectRejected({ webhooks: [bad] }, 'webhooks[0]', 'credentials_in_url')
      expect(error.message).not.toContain('pa55word')
      expect(error.message).not.toContain('user')
    }
  })
})

describe('settings: header names are tokens, values have no CR/LF/NUL, reserved headers refused', () => {
  it('refuses header names that are not RFC 9110 tokens', () => {
    for (const name of ['', 'X Team', 'X-Team:', 'X"Q', 'X(Team)', 'Ünïcode', 'X\nY', 'a/b']) {
      expectRejected(
        { webhooks: [URL_A], headers: { [name]: 'v' } },
        `headers.${name}`,
        'invalid_header_name',
      )
    }
  })

  it('accepts every token character in a name', () => {
    const name = "!#$%&'*+-.^_`|~09AZaz"
    expect(parseSettings({ webhooks: [URL_A], headers: { [name]: 'v' } }).headers).toEqual({
      [name]: 'v',
    })
  })

  it('refuses CR, LF and NUL anywhere in a value', () => {
    for (const value of ['a\rb', 'a\nb', 'a\0b', '\r\nX-Injected: 1', 'end\n']) {
      expectRejected(
        { webhooks: [URL_A], headers: { 'X-Team': value } },
        'headers.X-Team',
        'invalid_header_value',
      )
    }
  })

  it('refuses values no HTTP client would send: other controls and characters above U+00FF', () => {
    for (const value of ['a\u0001b', 'a\u007fb', 'price €', 'emoji 👋']) {
      expectRejected(
        { webhooks: [URL_A], headers: { 'X-Team': value } },
        'headers.X-Team',
        'invalid_header_value',
      )
    }
  })

  it('accepts tabs, spaces, visible ASCII and Latin-1 values', () => {
    const headers = { 'X-A': 'a\tb c', 'X-B': '~!@#', 'X-C': 'café', 'X-D': '' }
    expect(parseSettings({ webhooks: [URL_A], headers }).headers).toEqual(headers)
  })

  it('refuses values that are not strings, and headers that are not an object', () => {
    expectRejected({ webhooks: [URL_A], headers: { 'X-N': 1 } }, 'headers.X-N', 'invalid_type')
    expectRejected({ webhooks: [URL_A], headers: [['X-N', 'v']] }, 'headers', 'invalid_type')
    expectRejected({ webhooks: [URL_A], headers: null }, 'headers', 'invalid_type')
  })

  it('refuses every reserved header, in any letter case', () => {
    expect(RESERVED_HEADERS.has('content-type')).toBe(true)
    expect(RESERVED_HEADERS.has('x-signature')).toBe(true)
    for (const reserved of RESERVED_HEADERS) {
      const variants = [reserved, reserved.toUpperCase(), titleCase(reserved)]
      for (const name of variants) {
        expectRejected(
          { webhooks: [URL_A], headers: { [name]: 'x' } },
          `headers.${name}`,
          'reserved_header',
        )
      }
    }
    expectRejected(
      { webhooks: [URL_A], headers: { 'Content-Type': 'text/plain' } },
      'headers.Content-Type',
      'reserved_header',
    )
    expectRejected(
      { webhooks: [URL_A], headers: { 'X-SIGNATURE': 'forged' } },
      'headers.X-SIGNATURE',
      'reserved_header',
    )
  })

  it.each([
    [
      'is set by the destination',
      [
        'Content-Type',
        'User-Agent',
        'X-Signature',
        'webhook-id',
        'webhook-timestamp',
        'webhook-signature',
      ],
    ],
    ['is set by the HTTP client', ['Host', 'Content-Length']],
    [
      'is a hop-by-hop header the client may not set',
      [
        'Connection',
        'Keep-Alive',
        'Proxy-Authenticate',
        'Proxy-Authorization',
        'Proxy-Connection',
        'TE',
        'Trailer',
        'Transfer-Encoding',
        'Upgrade',
      ],
    ],
    ['is refused by the HTTP client', ['Expect']],
  ] as const)('refuses, saying it %s: %j', (rule, names) => {
    for (const header of names) {
      expect(RESERVED_HEADERS.has(header.toLowerCase())).toBe(true)
      for (const name of [header, header.toLowerCase(), header.toUpperCase()]) {
        const error = expectRejected(
          { webhooks: [URL_A], headers: { [name]: 'x' } },
          `headers.${name}`,
          'reserved_header',
        )
        expect(error.message).toBe(`Invalid webhook settings: headers.${name}: ${rule}`)
      }
    }
  })

  it('reserves exactly the headers above: 18 names', () => {
    expect([...RESERVED_HEADERS].sort()).toEqual([
      'connection',
      'content-length',
      'content-type',
      'expect',
      'host',
      'keep-alive',
      'proxy-authenticate',
      'proxy-authorization',
      'proxy-connection',
      'te',
      'trailer',
      'transfer-encoding',
      'upgrade',
      'user-agent',
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
      'x-signature',
    ])
  })

  it('refuses the same header name twice in different letter cases', () => {
    expectRejected(
      { webhooks: [URL_A], headers: { 'X-Team': 'a', 'x-team': 'b' } },
      'headers.x-team',
      'duplicate',
    )
  })
})

describe('settings: the shared secret', () => {
  it('is optional', () => {
    expect(parseSettings({ webhooks: [URL_A] }).sharedSecret).toBeUndefined()
  })

  it('refuses an empty secret', () => {
    expectRejected({ webhooks: [URL_A], sharedSecret: '' }, 'sharedSecret', 'empty_secret')
  })

  it('refuses a secret that is not a string', () => {
    expectRejected({ webhooks: [URL_A], sharedSecret: 42 }, 'sharedSecret', 'invalid_type')
  })

  it('takes any non-empty text for the classic scheme', () => {
    const secret = 'not base64 at all: ✓ 👋'
    expect(parseSettings({ webhooks: [URL_A], sharedSecret: secret }).sharedSecret).toBe(secret)
  })

  it('requires base64 (optionally whsec_, padding optional) for the standard and both schemes', () => {
    for (const signature of ['standard', 'both'] as const) {
      for (const good of [
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'c2VjcmV0',
        'YWI=',
        'whsec_c2VjcmV0cw',
      ]) {
        expect(
          parseSettings({ webhooks: [URL_A], sharedSecret: good, signature }).sharedSecret,
        ).toBe(good)
      }
      for (const bad of ['whsec_', 'not base64!', 'YWI', 'whsec_YQ', 'a', '====']) {
        const error = expectRejected(
          { webhooks: [URL_A], sharedSecret: bad, signature },
          'sharedSecret',
          'invalid_secret',
        )
        if (bad.length >= 8) expect(error.message).not.toContain(bad)
      }
    }
  })

  it('never puts the secret in any error message', () => {
    // Every way a settings object can be wrong while carrying a secret.
    const breakers: Array<(secret: string) => Record<string, unknown>> = [
      (s) => ({ webhooks: undefined, sharedSecret: s }),
      (s) => ({ webhooks: [], sharedSecret: s }),
      // A '!' first is always read, so never base64 (a lone last digit is not read, as standardwebhooks does).
      (s) => ({ webhooks: [URL_A], sharedSecret: `!${s}`, signature: 'standard' }),
      (s) => ({ webhooks: [URL_A], sharedSecret: s, batchSize: 0 }),
      (s) => ({ webhooks: [URL_A], sharedSecret: s, signature: 'nope' }),
      (s) => ({ webhooks: [URL_A], sharedSecret: s, headers: { 'X-Signature': s } }),
      (s) => ({ webhooks: [URL_A], sharedSecret: s, headers: { 'X-Key': `${s}\n` } }),
      (s) => ({ webhooks: [URL_A], sharedSecret: s, extra: true }),
      (s) => ({ webhooks: [`https://u:${encodeURIComponent(s)}@a.example/`], sharedSecret: s }),
    ]
    fc.assert(
      fc.property(
        fc.string({ minLength: 8, maxLength: 64, unit: 'grapheme' }),
        fc.nat({ max: breakers.length - 1 }),
        (secret, which) => {
          const error = settingsError({ webhooks: [URL_A], ...breakers[which]!(secret) })
          expect(error.message).not.toContain(secret)
          expect(String(error)).not.toContain(secret)
          expect(JSON.stringify(error)).not.toContain(secret)
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('settings: batchSize is a whole number from 1 to 1000', () => {
  it('accepts the bounds', () => {
    expect(parseSettings({ webhooks: [URL_A], batchSize: 1 }).batchSize).toBe(1)
    expect(parseSettings({ webhooks: [URL_A], batchSize: 1000 }).batchSize).toBe(1000)
  })

  it('refuses values out of range', () => {
    for (const batchSize of [0, -1, 1001, 1e9]) {
      expectRejected({ webhooks: [URL_A], batchSize }, 'batchSize', 'out_of_range')
    }
  })

  it('refuses what is not a whole number', () => {
    for (const batchSize of [1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null]) {
      expectRejected({ webhooks: [URL_A], batchSize }, 'batchSize', 'invalid_type')
    }
  })
})

describe('settings: method is POST, PUT or PATCH', () => {
  it('accepts the three methods', () => {
    for (const method of ['POST', 'PUT', 'PATCH'] as const) {
      expect(parseSettings({ webhooks: [URL_A], method }).method).toBe(method)
    }
  })

  it('refuses anything else, including other letter cases', () => {
    for (const method of ['GET', 'DELETE', 'post', '', 1]) {
      expectRejected({ webhooks: [URL_A], method }, 'method', 'invalid_choice')
    }
  })
})

describe('settings: timeoutMs (default 5 s) and retryWindowMs (default 4 h)', () => {
  it('defaults to 5 s and 4 h', () => {
    const settings = parseSettings({ webhooks: [URL_A] })
    expect(settings.timeoutMs).toBe(5_000)
    expect(settings.retryWindowMs).toBe(14_400_000)
  })

  it('takes timeoutMs from 1 ms to 60 s', () => {
    expect(parseSettings({ webhooks: [URL_A], timeoutMs: 1 }).timeoutMs).toBe(1)
    expect(parseSettings({ webhooks: [URL_A], timeoutMs: 60_000 }).timeoutMs).toBe(60_000)
    for (const timeoutMs of [0, -5, 60_001]) {
      expectRejected({ webhooks: [URL_A], timeoutMs }, 'timeoutMs', 'out_of_range')
    }
    expectRejected({ webhooks: [URL_A], timeoutMs: 2.5 }, 'timeoutMs', 'invalid_type')
  })

  it('takes retryWindowMs from 0 to 72 h', () => {
    const max = LIMITS.maxRetryWindowMs
    expect(max).toBe(72 * 3_600_000)
    expect(parseSettings({ webhooks: [URL_A], retryWindowMs: max }).retryWindowMs).toBe(max)
    for (const retryWindowMs of [-1, max + 1]) {
      expectRejected({ webhooks: [URL_A], retryWindowMs }, 'retryWindowMs', 'out_of_range')
    }
    expectRejected({ webhooks: [URL_A], retryWindowMs: '4h' }, 'retryWindowMs', 'invalid_type')
  })
})

describe('settings: signature scheme is classic (default), standard or both', () => {
  it('defaults to classic', () => {
    expect(parseSettings({ webhooks: [URL_A], sharedSecret: 's' }).signature).toBe('classic')
  })

  it('refuses other schemes', () => {
    for (const signature of ['v1', 'Classic', 'hmac', null]) {
      expectRejected({ webhooks: [URL_A], signature }, 'signature', 'invalid_choice')
    }
  })
})

describe('settings: unknown fields are refused', () => {
  it('names the unknown field, including likely typos', () => {
    for (const field of ['webhook', 'secret', 'shared_secret', 'timeout', '__proto__x']) {
      const error = expectRejected({ webhooks: [URL_A], [field]: 1 }, field, 'unknown_field')
      expect(error.message).toContain('webhooks')
    }
  })

  const known =
    'known: webhooks, headers, sharedSecret, signature, batchSize, method, timeoutMs, retryWindowMs, events'

  it.each([
    ['sharedSecrets', 'sharedSecret'],
    ['shared_secret', 'sharedSecret'],
    ['webhook', 'webhooks'],
    ['Headers', 'headers'],
    ['hedaers', 'headers'],
    ['timeout', 'timeoutMs'],
    ['batchsize', 'batchSize'],
    ['retryWindow', 'retryWindowMs'],
  ])('%s: suggests %s, the nearest known name', (field, near) => {
    const error = expectRejected({ webhooks: [URL_A], [field]: 1 }, field, 'unknown_field')
    expect(error.message).toBe(
      `Invalid webhook settings: ${field}: is not a setting, did you mean ${near}? (${known})`,
    )
  })

  it.each(['secret', 'url', 'retries', '__proto__x'])(
    '%s: suggests nothing, as no known name is close',
    (field) => {
      const error = expectRejected({ webhooks: [URL_A], [field]: 1 }, field, 'unknown_field')
      expect(error.message).toBe(`Invalid webhook settings: ${field}: is not a setting (${known})`)
    },
  )
})

describe('settings: random input parses or throws SettingsError, never anything else (property)', () => {
  const field = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.anything())
  const arbitrarySettings = fc.oneof(
    fc.anything({ withSparseArray: true, withNullPrototype: true, withBoxedValues: true }),
    fc.record(
      {
        webhooks: field(
          fc.array(
            fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.string()),
            { maxLength: 7 },
          ),
        ),
        headers: field(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.anything()))),
        sharedSecret: field(fc.string()),
        signature: field(fc.constantFrom('classic', 'standard', 'both', 'other')),
        batchSize: field(fc.integer({ min: -5, max: 1200 })),
        method: field(fc.constantFrom('POST', 'PUT', 'PATCH', 'GET')),
        timeoutMs: field(fc.double()),
        retryWindowMs: field(fc.integer()),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    ),
  )

  it('never throws anything but SettingsError, and what it returns obeys every rule', () => {
    fc.assert(
      fc.property(arbitrarySettings, (input) => {
        let settings: ReturnType<typeof parseSettings>
        try {
          settings = parseSettings(input as WebhookSettingsInput)
        } catch (error) {
          expect(error).toBeInstanceOf(SettingsError)
          return
        }
        expect(settings.webhooks.length).toBeGreaterThanOrEqual(1)
        expect(settings.webhooks.length).toBeLessThanOrEqual(5)
        expect(new Set(settings.webhooks).size).toBe(settings.webhooks.length)
        for (const url of settings.webhooks) expect(url).toMatch(/^https?:\/\//)
        for (const name of Object.keys(settings.headers)) {
          expect(RESERVED_HEADERS.has(name.toLowerCase())).toBe(false)
        }
        expect(settings.batchSize).toBeGreaterThanOrEqual(1)
        expect(settings.batchSize).toBeLessThanOrEqual(1000)
        expect(['POST', 'PUT', 'PATCH']).toContain(settings.method)
        expect(['classic', 'standard', 'both']).toContain(settings.signature)
      }),
      { numRuns: 1000 },
    )
  })
})

function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())
}
