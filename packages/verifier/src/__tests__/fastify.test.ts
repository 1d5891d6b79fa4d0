/** The Fastify plugin behind a real Fastify 5 server. */

import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { verifySignature } from '../fastify.js'
import {
  ADAPTER_OPTIONS,
  describeAdapterContract,
  post,
  type RunningServer,
  summary,
  type Witness,
} from './adapter-contract.js'
import { signedSingle } from './signed.js'

async function start(witness?: Witness): Promise<RunningServer> {
  const app = Fastify()
  await app.register(async (webhooks) => {
    await webhooks.register(verifySignature, ADAPTER_OPTIONS)
    webhooks.post('/segment', async (request) => {
      const webhook = request.webhook!
      witness?.saw({ events: webhook.events, raw: [webhook.body], body: request.body })
      return { ...summary(webhook), body: request.body }
    })
  })
  app.post('/elsewhere', async (request) => ({ body: request.body }))
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, close: () => app.close() }
}

describe('fastify verifySignature plugin', () => {
  describeAdapterContract(start)

  it('sets request.body to the parsed JSON and leaves routes outside its scope alone', async () => {
    const server = await start()
    try {
      const request = signedSingle('classic')
      expect((await post(`${server.url}/segment`, request)).json.body).toEqual(
        JSON.parse(request.body),
      )
      expect(await post(`${server.url}/elsewhere`, { body: '{"a":1}', headers: {} })).toEqual({
        status: 200,
        json: { body: { a: 1 } },
      })
    } finally {
      await server.close()
    }
  })

  it('verifies bodies sent with another content type, and without one', async () => {
    const server = await start()
    try {
      const request = signedSingle('standard')
      const asText = { ...request, headers: { ...request.headers, 'content-type': 'text/plain' } }
      expect((await post(`${server.url}/segment`, asText)).status).toBe(200)
      const response = await fetch(`${server.url}/segment`, { method: 'POST' })
      expect(response.status).toBe(401)
      expect(await response.json()).toEqual({ error: 'missing_signature' })
    } finally {
      await server.close()
    }
  })
})
