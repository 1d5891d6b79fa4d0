/** The web Request adapter: Hono through @hono/node-server, and a Next.js-style route handler. */

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import {
  refusal,
  verifyRequest,
  type WebhookVariables,
  WebhookVerificationError,
  webhookMiddleware,
} from '../web.js'
import {
  ADAPTER_OPTIONS,
  describeAdapterContract,
  type RunningServer,
  summary,
  Witness,
} from './adapter-contract.js'
import { signedBatch, signedSingle, tampered } from './signed.js'

// A Next.js App Router route handler (app/api/segment/route.ts), exactly as a user writes it.
function routeHandler(witness: Witness) {
  return async function POST(request: Request): Promise<Response> {
    const webhook = await verifyRequest(request, ADAPTER_OPTIONS)
    if (webhook instanceof Response) return webhook
    witness.saw({ events: webhook.events, raw: [webhook.body] })
    return Response.json(summary(webhook))
  }
}
const POST = routeHandler(new Witness())

function serveFetch(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<RunningServer> {
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise((done) => {
            ;(server as Server).closeAllConnections()
            server.close(() => done())
          }),
      })
    })
  })
}

function honoApp(witness: Witness) {
  const app = new Hono<{ Variables: WebhookVariables }>()
  app.post('/segment', webhookMiddleware(ADAPTER_OPTIONS), (c) => {
    const webhook = c.get('webhook')
    witness.saw({ events: webhook.events, raw: [webhook.body] })
    return c.json(summary(webhook))
  })
  return app
}

describe('hono webhookMiddleware() via @hono/node-server', () => {
  describeAdapterContract((witness) => serveFetch(honoApp(witness).fetch))
})

describe('Next.js-style route handler with verifyRequest() via a real server', () => {
  describeAdapterContract((witness) => serveFetch(routeHandler(witness)), '/api/segment')
})

describe('verifyRequest() with a Request built in process', () => {
  const url = 'http://localhost/api/segment'
  const make = (request: { body: string; headers: Record<string, string> }) =>
    new Request(url, { method: 'POST', body: request.body, headers: request.headers })

  it('accepts a signed batch and refuses a tampered one', async () => {
    expect(await (await POST(make(signedBatch(2, 'standard')))).json()).toMatchObject({ count: 2 })
    const response = await POST(make(tampered(signedSingle('classic'))))
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({ error: 'signature_mismatch' })
  })

  it('refuses a streamed body over the limit without Content-Length', async () => {
    const chunk = new Uint8Array(64 * 1024)
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent++
        if (sent > 32) controller.close()
        else controller.enqueue(chunk)
      },
    })
    const request = new Request(url, { method: 'POST', body, duplex: 'half' } as RequestInit)
    const response = await verifyRequest(request, { ...ADAPTER_OPTIONS, maxBodyBytes: 256 * 1024 })
    expect(response).toBeInstanceOf(Response)
    expect((response as Response).status).toBe(413)
    expect(sent).toBeLessThan(32)
  })

  it('explains a body that was read before verification', async () => {
    const request = make(signedSingle('classic'))
    await request.json()
    const response = (await verifyRequest(request, ADAPTER_OPTIONS)) as Response
    expect(response.status).toBe(500)
    expect(await response.json()).toMatchObject({ error: 'body_already_parsed' })
  })

  it('refusal() answers any verification error', async () => {
    const response = refusal(new WebhookVerificationError('invalid_json', 'not JSON'))
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ error: 'invalid_json' })
  })
})
