/** The node:http adapter behind a real server. */

import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { verifySignature, type WebhookVerificationError } from '../node.js'
import {
  ADAPTER_OPTIONS,
  describeAdapterContract,
  listen,
  post,
  summary,
} from './adapter-contract.js'
import { signedSingle } from './signed.js'

describe('node:http verifySignature(options, handler)', () => {
  const refused: string[] = []
  describeAdapterContract((witness) =>
    listen(
      createServer(
        verifySignature(
          {
            ...ADAPTER_OPTIONS,
            onError: (error: WebhookVerificationError) => refused.push(error.code),
          },
          (req, res) => {
            witness.saw({ events: req.webhook.events, raw: [req.rawBody, req.webhook.body] })
            res.setHeader('content-type', 'application/json')
            res.end(JSON.stringify({ ...summary(req.webhook), rawBytes: req.rawBody.length }))
          },
        ),
      ),
    ),
  )

  it('reports every refusal to onError', () => {
    expect(refused).toContain('signature_mismatch')
    expect(refused).toContain('body_too_large')
  })

  it('hands the handler the exact raw bytes', async () => {
    const server = await listen(
      createServer(
        verifySignature(ADAPTER_OPTIONS, (req, res) => {
          res.end(JSON.stringify({ raw: req.rawBody.toString('utf8') }))
        }),
      ),
    )
    try {
      const request = signedSingle('classic')
      expect((await post(server.url, request)).json).toEqual({ raw: request.body })
    } finally {
      await server.close()
    }
  })

  it('refuses bad options when the handler is created, not per request', () => {
    expect(() => verifySignature({ secret: '' }, () => undefined)).toThrow(/secret/)
  })
})
