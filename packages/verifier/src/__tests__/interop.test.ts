/** Interoperability: Standard Webhooks messages signed by the public `standardwebhooks` and `svix` packages verify with ours, and ours with them. */

import { assembleBatch, encodeEvent, singleBody } from '@analytics-webhooks/core'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { Webhook as SvixWebhook } from 'svix'
import { describe, expect, it } from 'vitest'
import { verifyWebhook, verifyWebhookAsync, WebhookVerificationError } from '../index.js'
import { event, NEXT_SECRET, SECRET, sign, WRONG_SECRET } from './signed.js'

const nowSeconds = () => Math.floor(Date.now() / 1000)

const libraries = [
  ['standardwebhooks', (secret: string) => new StandardWebhook(secret)],
  ['svix', (secret: string) => new SvixWebhook(secret)],
] as const

const bodies = () => [
  singleBody(encodeEvent(event())),
  assembleBatch([encodeEvent(event()), encodeEvent(event('page'))], { maxEvents: 2 }).body,
]

describe.each(libraries)('%s', (_, library) => {
  it('verifies what core signs for our sender, single events and batches', () => {
    for (const body of bodies()) {
      const request = sign(body, 'standard', SECRET, nowSeconds())
      expect(library(SECRET).verify(request.body, request.headers)).toEqual(
        JSON.parse(request.body),
      )
      expect(() => library(WRONG_SECRET).verify(request.body, request.headers)).toThrow()
    }
  })

  it('signs messages that our verifier accepts, on both paths, and refuses when tampered', async () => {
    for (const body of bodies()) {
      const id = `msg_${Math.random().toString(36).slice(2)}`
      const timestamp = new Date()
      const headers = {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': library(SECRET).sign(id, timestamp, body.json),
      }
      const options = { secret: [NEXT_SECRET, SECRET], scheme: 'standard' as const }
      expect(verifyWebhook(body.json, headers, options).events).toEqual(
        [JSON.parse(body.json)].flat(),
      )
      expect((await verifyWebhookAsync(body.json, headers, options)).id).toBe(id)
      const forged = body.json.replace('"u1"', '"u3"')
      expect(() => verifyWebhook(forged, headers, options)).toThrow(WebhookVerificationError)
    }
  })
})

describe('svix-branded headers', () => {
  it('are not Standard Webhooks headers: ours needs the webhook-* names', () => {
    const id = 'msg_1'
    const timestamp = new Date()
    const headers = {
      'svix-id': id,
      'svix-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'svix-signature': new SvixWebhook(SECRET).sign(id, timestamp, '{"type":"track"}'),
    }
    expect(() =>
      verifyWebhook('{"type":"track"}', headers, { secret: SECRET, scheme: 'standard' }),
    ).toThrow(expect.objectContaining({ code: 'missing_signature' }))
  })
})

describe('unpadded whsec_ secrets, which standardwebhooks accepts', () => {
  const secrets = ['whsec_c2VjcmV0cw', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAB']

  it.each(secrets)('%s: core signs, standardwebhooks verifies', (secret) => {
    const body = singleBody(encodeEvent(event()))
    const request = sign(body, 'standard', secret, nowSeconds())
    expect(new StandardWebhook(secret).verify(request.body, request.headers)).toEqual(
      JSON.parse(request.body),
    )
  })

  it.each(secrets)('%s: standardwebhooks signs, ours verifies on both paths', async (secret) => {
    const body = singleBody(encodeEvent(event()))
    const id = 'msg_unpadded'
    const timestamp = new Date()
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': new StandardWebhook(secret).sign(id, timestamp, body.json),
    }
    const options = { secret, scheme: 'standard' as const }
    expect(verifyWebhook(body.json, headers, options).events).toEqual([JSON.parse(body.json)])
    expect((await verifyWebhookAsync(body.json, headers, options)).id).toBe(id)
  })
})
