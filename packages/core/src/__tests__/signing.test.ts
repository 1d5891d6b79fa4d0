// Tests the signatures: the spec's own receiver check, shared vectors for both HMAC paths, and standardwebhooks.

import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { assembleBatch, singleBody, type WebhookBody } from '../body.js'
import { hmacNode, signatureHeadersSync } from '../node.js'
import { encodeEvent, serializePayload, toDeletePayload } from '../payload.js'
import { decodeStandardSecret } from '../secret.js'
import {
  classicSignedText,
  hmacWebCrypto,
  type SigningSettings,
  signatureHeaders,
  standardSignedText,
  toBase64,
  toHex,
} from '../signing.js'
import { EVENT_TYPES, sampleEvents } from './fixtures.js'

const CLASSIC_SECRETS = ['sharedsecretvalue', 'ünï 🔑 \ud800 secret', 'x']
const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

/** What arrives at a receiver: the UTF-8 bytes of the body, decoded again. */
function received(body: WebhookBody): string {
  return Buffer.from(body.json, 'utf8').toString('utf8')
}

/** The spec's receiver check for a single event, verbatim but for `new Buffer`. */
function receiverDigest(secret: string, body: string): string {
  const reqBody = JSON.parse(body)
  return createHmac('sha1', secret)
    .update(Buffer.from(JSON.stringify(reqBody), 'utf-8'))
    .digest('hex')
}

/** The spec's receiver check for a batch: the HMAC of the first event's JSON. */
function receiverBatchDigest(secret: string, body: string): string {
  const reqBody = JSON.parse(body)
  return createHmac('sha1', secret).update(JSON.stringify(reqBody[0]), 'utf-8').digest('hex')
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

function allBodies(): Array<[string, WebhookBody]> {
  const events = sampleEvents()
  const single = EVENT_TYPES.map((type): [string, WebhookBody] => [
    type,
    singleBody(encodeEvent(events[type])),
  ])
  const batch = assembleBatch(
    EVENT_TYPES.map((type) => encodeEvent(events[type])),
    { maxEvents: 100 },
  ).body
  const deletion = singleBody(serializePayload(toDeletePayload({ userId: 'u-ü-👋' })))
  return [...single, ['batch', batch], ['delete', deletion]]
}

describe('signing: HMAC primitives match published test vectors on both paths', () => {
  // RFC 2202 (HMAC-SHA1) and RFC 4231 (HMAC-SHA256) test case 2; hex written out, not computed.
  const vectors = [
    {
      algorithm: 'sha1' as const,
      key: 'Jefe',
      text: 'what do ya want for nothing?',
      hex: 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79',
    },
    {
      algorithm: 'sha256' as const,
      key: 'Jefe',
      text: 'what do ya want for nothing?',
      hex: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    },
  ]
  for (const { algorithm, key, text, hex } of vectors) {
    it(`${algorithm}: node and WebCrypto give the RFC digest, as hex and base64`, async () => {
      const base64 = Buffer.from(hex, 'hex').toString('base64')
      const keyBytes = new TextEncoder().encode(key)
      for (const k of [key, keyBytes]) {
        expect(hmacNode(algorithm, k, text, 'hex')).toBe(hex)
        expect(hmacNode(algorithm, k, text, 'base64')).toBe(base64)
        expect(await hmacWebCrypto(algorithm, k, text, 'hex')).toBe(hex)
        expect(await hmacWebCrypto(algorithm, k, text, 'base64')).toBe(base64)
      }
    })
  }

  it('toHex and toBase64 encode every byte value like Buffer does', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'))
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'))
    expect(toBase64(new Uint8Array(0))).toBe('')
  })
})

describe('signing: shared vectors, where the node and WebCrypto paths give identical headers', () => {
  // Inputs fixed here; the expected values computed independently with node:crypto.
  const timestamp = 1_700_000_000
  const table = allBodies().flatMap(([name, body]) =>
    CLASSIC_SECRETS.map((secret) => ({ name, body, secret, id: `msg_${name}` })),
  )

  for (const { name, body, secret, id } of table) {
    it(`classic ${name} with secret #${CLASSIC_SECRETS.indexOf(secret)}`, async () => {
      const settings: SigningSettings = { sharedSecret: secret, signature: 'classic' }
      const expected = {
        'X-Signature': createHmac('sha1', Buffer.from(secret, 'utf8'))
          .update(Buffer.from(body.firstEventJson, 'utf8'))
          .digest('hex'),
      }
      const context = { id, timestamp }
      expect(signatureHeadersSync(settings, body, context)).toEqual(expected)
      expect(await signatureHeaders(settings, body, context)).toEqual(expected)
    })
  }

  for (const [name, body] of allBodies()) {
    it(`both schemes ${name}`, async () => {
      const settings: SigningSettings = { sharedSecret: STANDARD_SECRET, signature: 'both' }
      const id = `msg_${name}_2a1b`
      const key = Buffer.from(STANDARD_SECRET.slice('whsec_'.length), 'base64')
      const expected = {
        'X-Signature': createHmac('sha1', STANDARD_SECRET)
          .update(body.firstEventJson)
          .digest('hex'),
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': `v1,${createHmac('sha256', key)
          .update(`${id}.${timestamp}.${body.json}`)
          .digest('base64')}`,
      }
      expect(signatureHeadersSync(settings, body, { id, timestamp })).toEqual(expected)
      expect(await signatureHeaders(settings, body, { id, timestamp })).toEqual(expected)
    })
  }

  it('agree on random secrets, bodies and schemes (property)', async () => {
    const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: anyCodeUnit, minLength: 1 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.string({ unit: anyCodeUnit }),
        fc.constantFrom('classic', 'standard', 'both') as fc.Arbitrary<
          SigningSettings['signature']
        >,
        async (classicSecret, keyBytes, text, signature) => {
          const secret = signature === 'classic' ? classicSecret : `whsec_${toBase64(keyBytes)}`
          const body = singleBody(text)
          const context = { id: 'msg_1', timestamp: 1_700_000_000 }
          const settings = { sharedSecret: secret, signature }
          const sync = signatureHeadersSync(settings, body, context)
          expect(await signatureHeaders(settings, body, context)).toEqual(sync)
          if (signature !== 'standard') {
            expect(sync['X-Signature']).toBe(
              createHmac('sha1', secret).update(text, 'utf8').digest('hex'),
            )
          }
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe("signing: the spec's receiver check accepts our X-Signature for every event type", () => {
  for (const [name, body] of allBodies().filter(([n]) => n !== 'batch')) {
    it(`${name}: HMAC-SHA1 of JSON.stringify(JSON.parse(body)) equals X-Signature`, async () => {
      for (const secret of CLASSIC_SECRETS) {
        const settings: SigningSettings = { sharedSecret: secret, signature: 'classic' }
        const context = { id: 'msg', timestamp: nowSeconds() }
        const digest = receiverDigest(secret, received(body))
        expect(signatureHeadersSync(settings, body, context)['X-Signature']).toBe(digest)
        expect((await signatureHeaders(settings, body, context))['X-Signature']).toBe(digest)
      }
    })
  }

  it('the signed text is the body itself for a single event', () => {
    const body = singleBody(encodeEvent(sampleEvents().track))
    expect(classicSignedText(body)).toBe(body.json)
  })

  it('a changed body no longer matches', () => {
    const body = singleBody(encodeEvent(sampleEvents().track))
    const header = signatureHeadersSync({ sharedSecret: 's', signature: 'classic' }, body, {
      id: 'm',
      timestamp: 0,
    })['X-Signature']
    const tampered = body.json.replace('Purchased', 'Refunded')
    expect(receiverDigest('s', tampered)).not.toBe(header)
    expect(receiverDigest('t', body.json)).not.toBe(header)
  })
})

describe("signing: a batch's X-Signature is the HMAC of its first event, as the spec's receiver computes it", () => {
  it('matches HMAC-SHA1 of JSON.stringify(JSON.parse(body)[0]) for every first event type', async () => {
    const events = sampleEvents()
    for (const first of EVENT_TYPES) {
      const order = [first, ...EVENT_TYPES.filter((t) => t !== first)]
      const { body } = assembleBatch(
        order.map((t) => encodeEvent(events[t])),
        { maxEvents: 1000 },
      )
      expect(JSON.parse(body.json)).toHaveLength(EVENT_TYPES.length)
      for (const secret of CLASSIC_SECRETS) {
        const settings: SigningSettings = { sharedSecret: secret, signature: 'classic' }
        const context = { id: 'msg', timestamp: nowSeconds() }
        const digest = receiverBatchDigest(secret, received(body))
        expect(signatureHeadersSync(settings, body, context)['X-Signature']).toBe(digest)
        expect((await signatureHeaders(settings, body, context))['X-Signature']).toBe(digest)
        // Not the HMAC of the whole array: the spec signs the first event only.
        expect(digest).not.toBe(receiverDigest(secret, body.json))
      }
    }
  })
})

describe('signing: the public standardwebhooks package verifies our Standard Webhooks headers', () => {
  const secrets = [STANDARD_SECRET, STANDARD_SECRET.slice('whsec_'.length), 'whsec_c2VjcmV0']

  for (const [name, body] of allBodies()) {
    it(`${name}`, async () => {
      for (const secret of secrets) {
        for (const signature of ['standard', 'both'] as const) {
          const context = { id: `msg_${name}`, timestamp: nowSeconds() }
          const settings: SigningSettings = { sharedSecret: secret, signature }
          const receiver = new Webhook(secret)
          for (const headers of [
            signatureHeadersSync(settings, body, context),
            await signatureHeaders(settings, body, context),
          ]) {
            expect(receiver.verify(received(body), headers)).toEqual(JSON.parse(body.json))
            expect(() => receiver.verify(`${body.json} `, headers)).toThrow('No matching signature')
          }
        }
      }
    })
  }

  it('a receiver with another secret refuses the request', () => {
    const body = singleBody(encodeEvent(sampleEvents().page))
    const headers = signatureHeadersSync(
      { sharedSecret: STANDARD_SECRET, signature: 'standard' },
      body,
      { id: 'msg', timestamp: nowSeconds() },
    )
    expect(() => new Webhook('whsec_c2VjcmV0').verify(body.json, headers)).toThrow()
  })

  it('signs id.timestamp.body over the whole body, batches included', () => {
    const { body } = assembleBatch(['{"a":1}', '{"b":2}'], { maxEvents: 10 })
    expect(standardSignedText(body, { id: 'msg_1', timestamp: 42 })).toBe(
      'msg_1.42.[{"a":1},{"b":2}]',
    )
    expect(classicSignedText(body)).toBe('{"a":1}')
  })
})

describe('signing: the scheme decides which headers are sent', () => {
  const body = singleBody('{"version":1,"type":"track","timestamp":"1970-01-01T00:00:00.000Z"}')
  const context = { id: 'msg_7', timestamp: 1_700_000_000 }

  it('no secret: no signature headers', async () => {
    for (const signature of ['classic', 'standard', 'both'] as const) {
      const settings = { sharedSecret: undefined, signature }
      expect(signatureHeadersSync(settings, body, context)).toEqual({})
      expect(await signatureHeaders(settings, body, context)).toEqual({})
    }
  })

  it('classic: X-Signature only; standard: webhook-* only; both: all four', () => {
    const keys = (signature: SigningSettings['signature']) =>
      Object.keys(
        signatureHeadersSync({ sharedSecret: STANDARD_SECRET, signature }, body, context),
      ).sort()
    expect(keys('classic')).toEqual(['X-Signature'])
    expect(keys('standard')).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp'])
    expect(keys('both')).toEqual([
      'X-Signature',
      'webhook-id',
      'webhook-signature',
      'webhook-timestamp',
    ])
  })

  it('both paths refuse an empty secret and a standard secret that is not base64', async () => {
    const bad: SigningSettings[] = [
      { sharedSecret: '', signature: 'classic' },
      { sharedSecret: 'not base64!', signature: 'standard' },
      { sharedSecret: 'YWI', signature: 'both' },
    ]
    for (const settings of bad) {
      expect(() => signatureHeadersSync(settings, body, context)).toThrow(TypeError)
      await expect(signatureHeaders(settings, body, context)).rejects.toThrow(TypeError)
    }
  })
})

describe('signing: decodeStandardSecret reads secrets as standardwebhooks does', () => {
  it('decodes whsec_ and bare base64 to the same bytes', () => {
    const bytes = decodeStandardSecret(STANDARD_SECRET)
    expect(bytes).toHaveLength(24)
    expect(decodeStandardSecret(STANDARD_SECRET.slice(6))).toEqual(bytes)
    expect(Buffer.from(bytes!).toString('base64')).toBe(STANDARD_SECRET.slice(6))
  })

  it('decodes the base64 of any key, with or without whsec_ (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.boolean(), (key, prefixed) => {
        const text = Buffer.from(key).toString('base64')
        expect(decodeStandardSecret(prefixed ? `whsec_${text}` : text)).toEqual(key)
      }),
    )
  })

  it('accepts exactly the secrets standardwebhooks accepts, with the same key (property)', () => {
    const base64ish = fc.string({
      unit: fc.constantFrom(
        ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ !',
      ),
      maxLength: 16,
    })
    // Padded and unpadded encodings of real keys, and the same with a stray last character.
    const encoded = fc
      .tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.constantFrom('', '=', 'A', '!'))
      .map(([key, tail]) => Buffer.from(key).toString('base64').replace(/=+$/, '') + tail)
    let accepted = 0
    fc.assert(
      fc.property(fc.boolean(), fc.oneof(base64ish, encoded), (prefixed, text) => {
        const secret = prefixed ? `whsec_${text}` : text
        const ours = decodeStandardSecret(secret)
        let theirs: Uint8Array | undefined
        try {
          theirs = (new Webhook(secret) as unknown as { key: Uint8Array }).key
        } catch {
          theirs = undefined
        }
        expect(ours).toEqual(theirs)
        if (ours !== undefined) accepted++
      }),
      { numRuns: 5000 },
    )
    expect(accepted).toBeGreaterThan(1000)
  })

  describe('unpadded whsec_ secrets, signed by one side and verified by the other', () => {
    const secrets = ['whsec_c2VjcmV0cw', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAB', 'c2VjcmV0cw']
    const body = singleBody('{"type":"track","userId":"u1"}')
    const context = { id: 'msg_unpadded', timestamp: Math.floor(Date.now() / 1000) }

    it.each(secrets)('%s: ours signs, standardwebhooks verifies', (secret) => {
      const headers = signatureHeadersSync(
        { sharedSecret: secret, signature: 'standard' },
        body,
        context,
      )
      expect(new Webhook(secret).verify(body.json, headers)).toEqual(JSON.parse(body.json))
    })

    it.each(secrets)('%s: standardwebhooks signs, ours signs the same', async (secret) => {
      const theirs = new Webhook(secret).sign(
        context.id,
        new Date(context.timestamp * 1000),
        body.json,
      )
      const settings = { sharedSecret: secret, signature: 'standard' } as const
      expect(signatureHeadersSync(settings, body, context)['webhook-signature']).toBe(theirs)
      expect((await signatureHeaders(settings, body, context))['webhook-signature']).toBe(theirs)
    })
  })

  it('refuses what standardwebhooks cannot read: short text, bad characters, three =, nothing', () => {
    for (const secret of ['YWI', 'YQ', 'whsec_', '', 'AA!A', 'A=A=', '====', 'whsec_-_', 'YQ===']) {
      expect(decodeStandardSecret(secret)).toBeUndefined()
    }
  })
})
