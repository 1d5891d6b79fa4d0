/** Each example receiver behind a real server on 127.0.0.1: a delivery signed by core is accepted, a tampered or unsigned one gets 401. */

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { encodeEvent, singleBody } from '@analytics-webhooks/core'
import { signatureHeadersSync } from '@analytics-webhooks/core/node'
import type { WebhookEvent } from '@analytics-webhooks/verifier'
import { serve } from '@hono/node-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createExpressReceiver } from '../express.js'
import { createFastifyReceiver } from '../fastify.js'
import { createHonoReceiver } from '../hono.js'
import { createRouteHandler, POST } from '../next-route.js'
import { createNodeReceiver } from '../node-http.js'
import type { ReceiverOptions } from '../receiver.js'

const SECRET = 'receivers-test-secret'

interface Running {
  url: string
  close(): Promise<void>
}

function listening(server: Server): Promise<Running> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}/segment`,
        close: () => new Promise((done) => server.close(() => done())),
      })
    })
  })
}

function serveFetch(fetch: (request: Request) => Response | Promise<Response>): Promise<Running> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, ({ port }) =>
      resolve({
        url: `http://127.0.0.1:${port}/segment`,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    ) as Server
  })
}

const receivers: Record<string, (options: ReceiverOptions) => Promise<Running>> = {
  express: (options) => listening(createExpressReceiver(options).listen(0, '127.0.0.1')),
  fastify: async (options) => {
    const app = createFastifyReceiver(options)
    const address = await app.listen({ port: 0, host: '127.0.0.1' })
    return { url: `${address}/segment`, close: () => app.close() }
  },
  hono: (options) => serveFetch(createHonoReceiver(options).fetch),
  'next-route': (options) => serveFetch(createRouteHandler(options)),
  'node-http': (options) => listening(createNodeReceiver(options)),
}

function signedDelivery(secret: string) {
  const body = singleBody(
    encodeEvent({ type: 'track', event: 'Order Completed', userId: 'u1', messageId: 'm1' }),
  )
  const headers = signatureHeadersSync({ sharedSecret: secret, signature: 'classic' }, body, {
    id: 'm1',
    timestamp: Math.floor(Date.now() / 1000),
  })
  return { json: body.json, headers: { 'content-type': 'application/json', ...headers } }
}

let running: Running | undefined

afterEach(async () => {
  await running?.close()
  running = undefined
})

describe.each(Object.entries(receivers))('the %s receiver', (_name, start) => {
  async function startWithLog(): Promise<{ url: string; received: WebhookEvent[][] }> {
    const received: WebhookEvent[][] = []
    running = await start({ secret: SECRET, onEvents: (events) => received.push([...events]) })
    return { url: running.url, received }
  }

  it('accepts a delivery signed with core and hands over its events', async () => {
    const { url, received } = await startWithLog()
    const { json, headers } = signedDelivery(SECRET)
    const response = await fetch(url, { method: 'POST', headers, body: json })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ received: 1 })
    expect(received).toEqual([[JSON.parse(json)]])
  })

  it('answers 401 to a tampered body, a wrong secret and an unsigned delivery', async () => {
    const { url, received } = await startWithLog()
    const { json, headers } = signedDelivery(SECRET)
    const tampered = await fetch(url, { method: 'POST', headers, body: json.replace('u1', 'u2') })
    expect(tampered.status).toBe(401)
    expect(await tampered.json()).toEqual({ error: 'signature_mismatch' })
    const wrong = signedDelivery('another-secret')
    expect(
      (await fetch(url, { method: 'POST', headers: wrong.headers, body: wrong.json })).status,
    ).toBe(401)
    const unsigned = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: json,
    })
    expect(unsigned.status).toBe(401)
    expect(await unsigned.json()).toEqual({ error: 'missing_signature' })
    expect(received).toEqual([])
  })
})

describe('the Next.js route file', () => {
  it('exports POST, which reads WEBHOOK_SECRET', async () => {
    const previous = process.env.WEBHOOK_SECRET
    process.env.WEBHOOK_SECRET = SECRET
    try {
      const { json, headers } = signedDelivery(SECRET)
      const request = new Request('http://localhost/api/segment', {
        method: 'POST',
        headers,
        body: json,
      })
      expect((await POST(request)).status).toBe(200)
      const bad = new Request('http://localhost/api/segment', { method: 'POST', body: json })
      expect((await POST(bad)).status).toBe(401)
    } finally {
      if (previous === undefined) delete process.env.WEBHOOK_SECRET
      else process.env.WEBHOOK_SECRET = previous
    }
  })
})
