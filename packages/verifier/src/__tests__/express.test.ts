/** The Express middleware behind a real Express 5 server. */

import { createServer } from 'node:http'
import express from 'express'
import express4 from 'express4'
import { describe, expect, it } from 'vitest'
import { verifySignature } from '../express.js'
import {
  ADAPTER_OPTIONS,
  describeAdapterContract,
  listen,
  post,
  summary,
  type Witness,
} from './adapter-contract.js'
import { signedBatch, signedSingle, targetRequests } from './signed.js'

function app(mount: (app: express.Express) => void) {
  const instance = express()
  mount(instance)
  return listen(createServer(instance))
}

/** The route a user writes: verify, then read `req.webhook`, `req.body` and `req.rawBody`. */
function route(witness: Witness) {
  return (req: express.Request, res: express.Response) => {
    const webhook = req.webhook!
    witness.saw({
      events: webhook.events,
      raw: [(req as { rawBody?: Buffer }).rawBody as Buffer, webhook.body],
      body: req.body,
    })
    res.json({ ...summary(webhook), body: req.body })
  }
}

describe('express verifySignature()', () => {
  describe('Express 5, mounted on the route, reading the raw body itself', () => {
    describeAdapterContract((witness) =>
      app((a) => a.post('/segment', verifySignature(ADAPTER_OPTIONS), route(witness))),
    )
  })

  describe('Express 4, mounted on the route, reading the raw body itself', () => {
    describeAdapterContract((witness) => {
      const instance = express4()
      instance.post('/segment', verifySignature(ADAPTER_OPTIONS), route(witness) as never)
      return listen(createServer(instance))
    })
  })

  it('leaves req.body as the parsed JSON, and a later express.json() harmless', async () => {
    const server = await app((a) => {
      a.use('/segment', verifySignature(ADAPTER_OPTIONS))
      a.use(express.json())
      a.post('/segment', (req, res) => res.json({ body: req.body, isBatch: req.webhook?.isBatch }))
    })
    try {
      const request = signedBatch(2)
      expect((await post(`${server.url}/segment`, request)).json).toEqual({
        body: JSON.parse(request.body),
        isBatch: true,
      })
    } finally {
      await server.close()
    }
  })

  it('works after express.raw({ type: "application/json" })', async () => {
    const server = await app((a) =>
      a.post(
        '/segment',
        express.raw({ type: 'application/json' }),
        verifySignature(ADAPTER_OPTIONS),
        (req, res) => res.json(summary(req.webhook!)),
      ),
    )
    try {
      expect(await post(`${server.url}/segment`, signedSingle('standard'))).toMatchObject({
        status: 200,
        json: { scheme: 'standard' },
      })
    } finally {
      await server.close()
    }
  })

  it('works after express.json({ verify }) that saved req.rawBody, and replaces it with the signed bytes', async () => {
    const server = await app((a) => {
      a.use(
        express.json({
          verify: (req, _res, buf) => {
            ;(req as { rawBody?: Buffer }).rawBody = buf
          },
        }),
      )
      a.post('/segment', verifySignature(ADAPTER_OPTIONS), (req, res) =>
        res.json({
          ...summary(req.webhook!),
          rawBody: (req as { rawBody?: Buffer }).rawBody?.toString('utf8'),
          body: req.body,
        }),
      )
    })
    try {
      expect((await post(`${server.url}/segment`, signedBatch(3))).json).toMatchObject({ count: 3 })
      // The parser saved the received bytes, with a smuggled key; the handler sees only the signed ones.
      const [signed] = targetRequests()
      const forged = signed!.body.replace('"userId":"u1"', '"userId":"attacker","userId":"u1"')
      const { status, json } = await post(`${server.url}/segment`, { ...signed!, body: forged })
      expect(status).toBe(200)
      expect(json.rawBody).toBe(signed!.body)
      expect(json.body).toEqual(JSON.parse(signed!.body))
    } finally {
      await server.close()
    }
  })

  it('explains the parsed-body mistake: express.json() mounted first', async () => {
    const server = await app((a) => {
      a.use(express.json())
      a.post('/segment', verifySignature(ADAPTER_OPTIONS), (_req, res) =>
        res.json({ reached: true }),
      )
    })
    try {
      const { status, json } = await post(`${server.url}/segment`, signedSingle('classic'))
      expect(status).toBe(500)
      expect(json.error).toBe('body_already_parsed')
      expect(json.message).toContain('before express.json()')
      expect(json.message).toContain("express.raw({ type: 'application/json' })")
    } finally {
      await server.close()
    }
  })
})
