/** The verification rules from DESIGN.md, on both the sync node:crypto path and the async WebCrypto path. */

import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  type HeaderSource,
  type RawBody,
  type VerifiedWebhook,
  type VerifyOptions,
  verifyWebhook,
  verifyWebhookAsync,
  WebhookError,
  WebhookVerificationError,
} from '../index.js'
import {
  event,
  NEXT_SECRET,
  SECRET,
  SIGNED_AT_MS,
  type SignedRequest,
  signedBatch,
  signedSingle,
  tampered,
  WRONG_SECRET,
} from './signed.js'

type Verify = (
  body: RawBody,
  headers: HeaderSource,
  options: VerifyOptions,
) => Promise<VerifiedWebhook>

const paths: Array<[string, Verify]> = [
  ['sync node:crypto', async (body, headers, options) => verifyWebhook(body, headers, options)],
  ['async WebCrypto', verifyWebhookAsync],
]

const options = (extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
  secret: SECRET,
  now: () => SIGNED_AT_MS,
  ...extra,
})

async function refusal(promise: Promise<unknown>): Promise<WebhookVerificationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(WebhookVerificationError)
  // Core's coded base of every package's errors (issue 14).
  expect(error).toBeInstanceOf(WebhookError)
  expect(error).toMatchObject({ name: 'WebhookVerificationError' })
  return error as WebhookVerificationError
}

function hmacSha1(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('hex')
}

describe.each(paths)('%s', (_, verify) => {
  describe('classic X-Signature: hex HMAC-SHA1 of the body', () => {
    it('accepts a single event signed by core, as string, Buffer, Uint8Array and ArrayBuffer', async () => {
      const request = signedSingle('classic')
      const bytes = new TextEncoder().encode(request.body)
      for (const body of [request.body, Buffer.from(request.body), bytes, bytes.slice().buffer]) {
        const result = await verify(body, request.headers, options())
        expect(result).toMatchObject({ isBatch: false, scheme: 'classic', id: undefined })
        expect(result.events).toEqual([JSON.parse(request.body)])
      }
    })

    it('accepts a batch whose signature covers the first event, as our sender signs it', async () => {
      const request = signedBatch(5)
      const result = await verify(request.body, request.headers, options())
      expect(result.isBatch).toBe(true)
      expect(result.events.map((e) => e.type)).toEqual([
        'track',
        'identify',
        'track',
        'identify',
        'track',
      ])
    })

    it("accepts Segment's own batches: pretty-printed, signed over JSON.stringify(body[0])", async () => {
      const events = [
        JSON.parse(JSON.stringify(event())),
        JSON.parse(JSON.stringify(event('page'))),
      ]
      const body = JSON.stringify(events, null, 2)
      const headers = { 'X-Signature': hmacSha1(SECRET, JSON.stringify(events[0])) }
      const result = await verify(body, headers, options())
      expect(result.events).toEqual(events)
      // What the handler gets is the signed text, re-serialised, not the pretty-printed bytes.
      expect(result).toMatchObject({ reserialized: true, body: JSON.stringify(events) })
    })

    it("accepts a single event signed over JSON.stringify(JSON.parse(body)), the spec's receiver", async () => {
      const parsed = JSON.parse(JSON.stringify(event()))
      const body = JSON.stringify(parsed, null, 4)
      const headers = { 'x-signature': hmacSha1(SECRET, JSON.stringify(parsed)) }
      const result = await verify(body, headers, options())
      expect(result).toMatchObject({ events: [parsed], reserialized: true })
      expect(result.body).toBe(JSON.stringify(parsed))
    })

    it('gives the received text as body, and reserialized: false, when the bytes are what was signed', async () => {
      for (const request of [signedSingle('classic'), signedBatch(3), signedSingle('standard')]) {
        const result = await verify(Buffer.from(request.body), request.headers, options())
        expect(result).toMatchObject({ body: request.body, reserialized: false })
      }
    })

    it('unsignedBatchEvents: refuse answers a classic batch of several events with 401, and takes single events, batches of one and standard batches', async () => {
      const refuse = options({ unsignedBatchEvents: 'refuse' })
      const batch = signedBatch(3)
      const error = await refusal(verify(batch.body, batch.headers, refuse))
      expect(error).toMatchObject({ code: 'unsigned_batch_events', status: 401 })
      expect(error.message).toContain('standard scheme')
      for (const request of [signedBatch(1), signedSingle('classic'), signedBatch(3, 'standard')]) {
        expect((await verify(request.body, request.headers, refuse)).events.length).toBeGreaterThan(
          0,
        )
      }
      // The default keeps Segment's classic batches working.
      expect((await verify(batch.body, batch.headers, options())).events).toHaveLength(3)
    })

    it('accepts upper-case hex and any header casing', async () => {
      const request = signedSingle('classic')
      const headers = { 'X-SIGNATURE': request.headers['X-Signature']!.toUpperCase() }
      expect((await verify(request.body, headers, options())).scheme).toBe('classic')
    })

    it('refuses a tampered body, a tampered batch head and a wrong secret', async () => {
      const single = signedSingle('classic')
      expect((await refusal(verify(tampered(single).body, single.headers, options()))).code).toBe(
        'signature_mismatch',
      )
      const batch = signedBatch(2)
      const head = batch.body.replace('"u1"', '"u9"')
      expect((await refusal(verify(head, batch.headers, options()))).code).toBe(
        'signature_mismatch',
      )
      const error = await refusal(
        verify(single.body, single.headers, options({ secret: WRONG_SECRET })),
      )
      expect(error).toMatchObject({ code: 'signature_mismatch', status: 401 })
    })

    it('refuses a missing or malformed X-Signature', async () => {
      const { body } = signedSingle('classic')
      expect((await refusal(verify(body, {}, options()))).code).toBe('missing_signature')
      for (const value of ['', 'sha1=abc', 'z'.repeat(40), 'a'.repeat(39), 'a'.repeat(64)]) {
        const error = await refusal(verify(body, { 'x-signature': value }, options()))
        expect(error.code).toMatch(/^(missing|malformed)_signature$/)
      }
    })

    it('says invalid_json (400) when the signature matches but the body is not JSON', async () => {
      const body = '{"type":"track",'
      const error = await refusal(
        verify(body, { 'x-signature': hmacSha1(SECRET, body) }, options()),
      )
      expect(error).toMatchObject({ code: 'invalid_json', status: 400 })
    })

    it('says invalid_payload (400) when a verified body holds no events', async () => {
      for (const body of ['"text"', '{"no":"type"}', '[{"type":"track"},3]']) {
        const signed = body.startsWith('[') ? '{"type":"track"}' : body
        const error = await refusal(
          verify(body, { 'x-signature': hmacSha1(SECRET, signed) }, options()),
        )
        expect(error).toMatchObject({ code: 'invalid_payload', status: 400 })
      }
    })
  })

  describe('Standard Webhooks: v1 HMAC-SHA256 of id.timestamp.body', () => {
    it('accepts single events and batches signed by core, and reports the webhook-id', async () => {
      for (const request of [signedSingle('standard'), signedBatch(4, 'standard')]) {
        const result = await verify(request.body, request.headers, options())
        expect(result.scheme).toBe('standard')
        expect(result.id).toBe(request.headers['webhook-id'])
        expect(result.events).toHaveLength(request.body.startsWith('[') ? 4 : 1)
      }
    })

    it('accepts a space-separated list where any v1 entry matches, ignoring other versions', async () => {
      const request = signedSingle('standard')
      const good = request.headers['webhook-signature']!
      const headers = {
        ...request.headers,
        'webhook-signature': `v1a,xyz v1,${'A'.repeat(43)}= ${good}`,
      }
      expect((await verify(request.body, headers, options())).scheme).toBe('standard')
    })

    it('refuses a tampered body, a wrong secret, a changed id or timestamp', async () => {
      const request = signedSingle('standard')
      const cases: SignedRequest[] = [
        tampered(request),
        { ...request, headers: { ...request.headers, 'webhook-id': 'other' } },
        {
          ...request,
          headers: {
            ...request.headers,
            'webhook-timestamp': String(Number(request.headers['webhook-timestamp']) + 1),
          },
        },
      ]
      for (const c of cases) {
        expect((await refusal(verify(c.body, c.headers, options()))).code).toBe(
          'signature_mismatch',
        )
      }
      const wrong = await refusal(
        verify(request.body, request.headers, options({ secret: WRONG_SECRET })),
      )
      expect(wrong.code).toBe('signature_mismatch')
    })

    it('names each missing or malformed header', async () => {
      const { body, headers } = signedSingle('standard')
      const without = (name: string) =>
        Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name))
      const standard = options({ scheme: 'standard' })
      expect((await refusal(verify(body, without('webhook-signature'), standard))).code).toBe(
        'missing_signature',
      )
      expect((await refusal(verify(body, without('webhook-id'), standard))).code).toBe('missing_id')
      expect((await refusal(verify(body, without('webhook-timestamp'), standard))).code).toBe(
        'missing_timestamp',
      )
      for (const [name, value, code] of [
        ['webhook-timestamp', '12.5', 'invalid_timestamp'],
        ['webhook-timestamp', '-1', 'invalid_timestamp'],
        ['webhook-signature', 'v1,not-base64', 'malformed_signature'],
        ['webhook-signature', 'v2,abc', 'malformed_signature'],
      ] as const) {
        const error = await refusal(verify(body, { ...headers, [name]: value }, standard))
        expect(error.code).toBe(code)
      }
    })

    it('enforces a 300 s tolerance by default, configurable, both ways', async () => {
      const { body, headers } = signedSingle('standard')
      const at = (seconds: number, extra: Partial<VerifyOptions> = {}) =>
        verify(body, headers, options({ now: () => SIGNED_AT_MS + seconds * 1000, ...extra }))
      await expect(at(300)).resolves.toBeDefined()
      await expect(at(-300)).resolves.toBeDefined()
      expect((await refusal(at(301))).code).toBe('timestamp_out_of_tolerance')
      expect((await refusal(at(-301))).code).toBe('timestamp_out_of_tolerance')
      await expect(at(3600, { toleranceSeconds: 3600 })).resolves.toBeDefined()
      expect((await refusal(at(61, { toleranceSeconds: 60 }))).code).toBe(
        'timestamp_out_of_tolerance',
      )
    })
  })

  describe('scheme selection', () => {
    it('auto picks standard when webhook-signature is present, else classic', async () => {
      const both = signedSingle('both')
      expect((await verify(both.body, both.headers, options())).scheme).toBe('standard')
      const classicOnly = { 'x-signature': both.headers['X-Signature']! }
      expect((await verify(both.body, classicOnly, options())).scheme).toBe('classic')
    })

    it('a fixed scheme refuses the other one', async () => {
      const classic = signedSingle('classic')
      const standard = signedSingle('standard')
      const onlyStandard = options({ scheme: 'standard' })
      expect((await refusal(verify(classic.body, classic.headers, onlyStandard))).code).toBe(
        'missing_signature',
      )
      const onlyClassic = options({ scheme: 'classic' })
      expect((await refusal(verify(standard.body, standard.headers, onlyClassic))).code).toBe(
        'missing_signature',
      )
    })
  })

  describe('secret rotation', () => {
    it('either of two secrets verifies, for both schemes', async () => {
      const rotating = options({ secret: [SECRET, NEXT_SECRET] })
      for (const secret of [SECRET, NEXT_SECRET]) {
        for (const scheme of ['classic', 'standard'] as const) {
          const request = signedSingle(scheme, secret)
          expect((await verify(request.body, request.headers, rotating)).scheme).toBe(scheme)
        }
      }
      const other = signedSingle('classic', WRONG_SECRET)
      expect((await refusal(verify(other.body, other.headers, rotating))).code).toBe(
        'signature_mismatch',
      )
    })

    it('a secret that is not base64 still verifies classic, and is refused for standard only', async () => {
      const request = signedSingle('classic', 'plain secret!')
      expect(
        (await verify(request.body, request.headers, options({ secret: 'plain secret!' }))).scheme,
      ).toBe('classic')
      const error = await refusal(
        verify(
          request.body,
          request.headers,
          options({ secret: 'plain secret!', scheme: 'standard' }),
        ),
      )
      expect(error).toMatchObject({ code: 'invalid_secret', status: 500 })
    })
  })

  describe('inputs', () => {
    it('reads headers from Headers, node-style arrays and mixed-case objects', async () => {
      const request = signedSingle('standard')
      const webHeaders = new Headers(request.headers)
      expect((await verify(request.body, webHeaders, options())).scheme).toBe('standard')
      const mixed = Object.fromEntries(
        Object.entries(request.headers).map(([k, v]) => [k.toUpperCase(), v]),
      )
      expect((await verify(request.body, mixed, options())).scheme).toBe('standard')
      const arrays = {
        ...request.headers,
        'webhook-signature': [request.headers['webhook-signature']!],
      }
      expect((await verify(request.body, arrays, options())).scheme).toBe('standard')
    })

    it('refuses bodies over maxBodyBytes (1 MiB by default) with body_too_large (413)', async () => {
      const request = signedSingle('classic')
      const big = ' '.repeat(1024 * 1024 + 1)
      expect(await refusal(verify(big, request.headers, options()))).toMatchObject({
        code: 'body_too_large',
        status: 413,
      })
      const size = Buffer.byteLength(request.body)
      const small = options({ maxBodyBytes: size - 1 })
      expect((await refusal(verify(Buffer.from(request.body), request.headers, small))).code).toBe(
        'body_too_large',
      )
      await expect(
        verify(request.body, request.headers, options({ maxBodyBytes: size })),
      ).resolves.toBeDefined()
    })

    it('explains a parsed body passed instead of the raw bytes', async () => {
      const request = signedSingle('classic')
      const error = await refusal(
        verify(JSON.parse(request.body) as never, request.headers, options()),
      )
      expect(error.code).toBe('body_already_parsed')
      expect(error.message).toContain('express.raw')
    })

    it('refuses bad options with invalid_secret / invalid_options, never echoing the secret', async () => {
      const { body, headers } = signedSingle('classic')
      for (const bad of [{ secret: '' }, { secret: [] }, { secret: ['ok', 3 as never] }]) {
        expect((await refusal(verify(body, headers, bad as VerifyOptions))).code).toBe(
          'invalid_secret',
        )
      }
      for (const bad of [
        { scheme: 'both' as never },
        { toleranceSeconds: -1 },
        { maxBodyBytes: 0 },
        { unsignedBatchEvents: 'ignore' as never },
      ]) {
        const error = await refusal(verify(body, headers, options(bad)))
        expect(error.code).toBe('invalid_options')
        expect(error.message).not.toContain(SECRET)
      }
    })
  })
})
