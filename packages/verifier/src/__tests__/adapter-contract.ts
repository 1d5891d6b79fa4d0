/** The behaviour every adapter shares, checked over real HTTP against a server on 127.0.0.1. */

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { VerifiedWebhook } from '../index.js'
import {
  NEXT_SECRET,
  SECRET,
  SIGNED_AT_MS,
  type SignedRequest,
  signedBatch,
  signedSingle,
  tampered,
  WRONG_SECRET,
} from './signed.js'

/** A server under test. */
export interface RunningServer {
  url: string
  close(): Promise<void>
}

/** The options every adapter under test is configured with: rotation between two secrets, the fixtures' clock. */
export const ADAPTER_OPTIONS = { secret: [SECRET, NEXT_SECRET], now: () => SIGNED_AT_MS }

/** What each test server answers for a verified webhook. */
export function summary(webhook: VerifiedWebhook): Record<string, unknown> {
  return {
    count: webhook.events.length,
    isBatch: webhook.isBatch,
    scheme: webhook.scheme,
    types: webhook.events.map((e) => e.type),
  }
}

/** Starts a node server on 127.0.0.1, port 0. */
export async function listen(server: Server): Promise<RunningServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** POSTs a request; the body may be given as a string or bytes. */
export async function post(
  url: string,
  request: { body: string | Uint8Array; headers: Record<string, string> },
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    body: request.body,
    headers: { 'content-type': 'application/json', ...request.headers },
  })
  const text = await response.text()
  return {
    status: response.status,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

/** Registers the shared adapter tests; `path` is the webhook route on the started server. */
export function describeAdapterContract(
  start: () => Promise<RunningServer>,
  path = '/segment',
): void {
  let server: RunningServer
  let url: string
  beforeAll(async () => {
    server = await start()
    url = server.url + path
  })
  afterAll(() => server.close())

  describe('accepts webhooks signed by core', () => {
    it.each([
      [
        'a classic single event',
        () => signedSingle('classic'),
        { count: 1, isBatch: false, scheme: 'classic' },
      ],
      ['a classic batch', () => signedBatch(3), { count: 3, isBatch: true, scheme: 'classic' }],
      [
        'a standard single event',
        () => signedSingle('standard'),
        { count: 1, isBatch: false, scheme: 'standard' },
      ],
      [
        'a standard batch',
        () => signedBatch(4, 'standard'),
        { count: 4, isBatch: true, scheme: 'standard' },
      ],
      [
        'a request signed with the rotated-in secret',
        () => signedSingle('classic', NEXT_SECRET),
        { count: 1 },
      ],
    ] as Array<[string, () => SignedRequest, Record<string, unknown>]>)(
      '%s',
      async (_, make, expected) => {
        const { status, json } = await post(url, make())
        expect(status).toBe(200)
        expect(json).toMatchObject(expected)
      },
    )
  })

  describe('refuses with 401/400/413 and { error: code }', () => {
    it('a tampered body', async () => {
      expect(await post(url, tampered(signedSingle('classic')))).toEqual({
        status: 401,
        json: { error: 'signature_mismatch' },
      })
      expect((await post(url, tampered(signedBatch(2, 'standard')))).json).toEqual({
        error: 'signature_mismatch',
      })
    })

    it('a wrong secret', async () => {
      expect(await post(url, signedSingle('classic', WRONG_SECRET))).toEqual({
        status: 401,
        json: { error: 'signature_mismatch' },
      })
    })

    it('a missing or malformed signature header', async () => {
      const { body } = signedSingle('classic')
      expect(await post(url, { body, headers: {} })).toEqual({
        status: 401,
        json: { error: 'missing_signature' },
      })
      expect(await post(url, { body, headers: { 'x-signature': 'nope' } })).toEqual({
        status: 401,
        json: { error: 'malformed_signature' },
      })
    })

    it('a body over 1 MiB, with 413', async () => {
      const request = signedSingle('classic')
      const body = `${request.body}${' '.repeat(1024 * 1024)}`
      expect(await post(url, { body, headers: request.headers })).toEqual({
        status: 413,
        json: { error: 'body_too_large' },
      })
    })

    it('keeps serving after refusals', async () => {
      expect((await post(url, signedSingle('standard'))).status).toBe(200)
    })
  })
}
