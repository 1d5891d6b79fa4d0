/** Fuzz: hostile bodies and headers never make the verifier raise anything but WebhookVerificationError. FUZZ_RUNS sets the case count. */

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type VerifyOptions,
  verifyWebhook,
  verifyWebhookAsync,
  WebhookVerificationError,
} from '../index.js'
import { mutated, unsignedDifference } from './respell.js'
import { SECRET, SIGNED_AT_MS, signedBatch, signedSingle, targetRequests } from './signed.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000)
const HEADER_NAMES = [
  'x-signature',
  'X-Signature',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'content-type',
]

const options: VerifyOptions[] = [
  { secret: SECRET, now: () => SIGNED_AT_MS },
  { secret: [SECRET, 'not base64 ✓'], scheme: 'classic', maxBodyBytes: 4096 },
  { secret: SECRET, scheme: 'standard', toleranceSeconds: 0, now: () => SIGNED_AT_MS },
]

const signed = [
  signedSingle('classic'),
  signedBatch(3),
  signedSingle('standard'),
  signedBatch(2, 'both'),
]

// Header values: random text, near-valid signatures, arrays and non-strings.
const headerValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.stringMatching(/^[0-9a-fA-F]{38,42}$/),
  fc.stringMatching(/^(v1,[A-Za-z0-9+/=]{40,46} ?){1,3}$/),
  fc.stringMatching(/^[0-9 .-]{0,16}$/),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.constantFrom(undefined, null, 42, {}),
)
const headers = fc.dictionary(
  fc.oneof(fc.constantFrom(...HEADER_NAMES), fc.string()),
  headerValue,
  {
    maxKeys: 8,
  },
)
// Bodies: random bytes, random text, JSON-ish text, deep nesting, and real signed bodies mutated.
const body = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  fc.string({ unit: 'binary', maxLength: 512 }),
  fc.json().map((json) => `[${json},${json}]`),
  fc.nat({ max: 5000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc
    .tuple(fc.constantFrom(...signed), fc.nat(), fc.integer({ min: 0, max: 255 }))
    .map(([request, at, byte]) => {
      const bytes = Buffer.from(request.body)
      bytes[at % bytes.length] = byte
      return bytes
    }),
)
// Half the cases keep a real request's headers, so the checks past the header parsing run too.
const requestHeaders = fc.oneof(
  headers,
  fc
    .tuple(fc.constantFrom(...signed), headers)
    .map(([request, extra]) => ({ ...request.headers, ...extra })),
  fc.constantFrom(...signed).map((request) => request.headers),
)

function onlyVerificationErrors(run: () => unknown): void {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError)
  }
}

describe(`fuzz (${RUNS} cases each)`, () => {
  it('verifyWebhook raises nothing but WebhookVerificationError', () => {
    fc.assert(
      fc.property(body, requestHeaders, fc.constantFrom(...options), (b, h, o) => {
        onlyVerificationErrors(() => verifyWebhook(b, h as never, o))
      }),
      { numRuns: RUNS },
    )
  })

  it('verifyWebhookAsync rejects with nothing but WebhookVerificationError', async () => {
    await fc.assert(
      fc.asyncProperty(body, requestHeaders, fc.constantFrom(...options), async (b, h, o) => {
        const error = await verifyWebhookAsync(b, h as never, o).then(
          () => undefined,
          (e: unknown) => e,
        )
        if (error !== undefined) expect(error).toBeInstanceOf(WebhookVerificationError)
      }),
      { numRuns: Math.max(1, Math.floor(RUNS / 4)) },
    )
  })

  it('both paths agree on every input', async () => {
    await fc.assert(
      fc.asyncProperty(body, requestHeaders, fc.constantFrom(...options), async (b, h, o) => {
        const outcome = (run: () => unknown) => {
          try {
            const result = run() as { events: unknown }
            return result.events
          } catch (error) {
            return (error as WebhookVerificationError).code
          }
        }
        const sync = outcome(() => verifyWebhook(b, h as never, o))
        const async = await verifyWebhookAsync(b, h as never, o).then(
          (result) => result.events,
          (error: WebhookVerificationError) => error.code,
        )
        expect(async).toEqual(sync)
      }),
      { numRuns: Math.max(1, Math.floor(RUNS / 4)) },
    )
  })

  it('a mutated signed body never verifies with different events', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...signed.slice(0, 3)),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (request, at, delta) => {
          const bytes = Buffer.from(request.body)
          const i = at % bytes.length
          bytes[i] = ((bytes[i] as number) + delta) % 256
          try {
            const result = verifyWebhook(bytes, request.headers, options[0] as VerifyOptions)
            // Only a change outside the signed first event of a classic batch can pass.
            expect(result.isBatch).toBe(true)
            expect(result.events[0]).toEqual(JSON.parse(request.body)[0])
          } catch (error) {
            expect(error).toBeInstanceOf(WebhookVerificationError)
          }
        },
      ),
      { numRuns: RUNS },
    )
  })

  describe('whatever is accepted, the handler gets only the signed text and its values', () => {
    const requests = targetRequests()
    const verifyOptions = { secret: SECRET, now: () => SIGNED_AT_MS }
    const seen = { accepted: 0, reserialized: 0, refused: 0 }

    it(
      'verifyWebhook: respelled signed bodies are refused, or give exactly what was signed',
      () => {
        fc.assert(
          fc.property(fc.constantFrom(...requests), fc.integer(), (request, seed) => {
            const bytes = mutated(request, seed)
            let result: ReturnType<typeof verifyWebhook>
            try {
              result = verifyWebhook(bytes, request.headers, verifyOptions)
            } catch (error) {
              expect(error).toBeInstanceOf(WebhookVerificationError)
              seen.refused++
              return
            }
            seen.accepted++
            if (result.reserialized) seen.reserialized++
            expect(unsignedDifference(request, result.events, result.body)).toBeUndefined()
          }),
          { numRuns: RUNS },
        )
        // The property holds on both branches: some respellings are accepted after re-serialising, most refused.
        expect(seen.reserialized).toBeGreaterThan(0)
        expect(seen.refused).toBeGreaterThan(seen.accepted)
      },
      30_000 + RUNS,
    )

    it(
      'verifyWebhookAsync: the same',
      async () => {
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(...requests), fc.integer(), async (request, seed) => {
            const bytes = mutated(request, seed)
            const result = await verifyWebhookAsync(bytes, request.headers, verifyOptions).catch(
              (error: unknown) => {
                expect(error).toBeInstanceOf(WebhookVerificationError)
                return undefined
              },
            )
            if (result === undefined) return
            expect(unsignedDifference(request, result.events, result.body)).toBeUndefined()
          }),
          { numRuns: Math.max(1, Math.floor(RUNS / 4)) },
        )
      },
      30_000 + RUNS,
    )
  })
})
