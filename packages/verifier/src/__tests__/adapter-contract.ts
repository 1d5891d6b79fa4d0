/** The behaviour every adapter shares, checked over real HTTP against a server on 127.0.0.1. */

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { VerifiedWebhook } from '../index.js'
import { exact, mutated, unsignedDifference } from './respell.js'
import {
  NEXT_SECRET,
  SECRET,
  SIGNED_AT_MS,
  type SignedRequest,
  signedBatch,
  signedSingle,
  tampered,
  targetRequests,
  WRONG_SECRET,
} from './signed.js'

/**
 * Respelled requests per adapter, over real HTTP: 100 in `npm test`; in the
 * fuzz run (FUZZ_RUNS=100000) FUZZ_RUNS / 6, so the six adapters share
 * 100,000 (about 1 ms each here, mostly the HTTP round trip).
 */
const ADAPTER_RUNS = Math.max(100, Math.ceil(Number(process.env.FUZZ_RUNS ?? 0) / 6))

/** What a handler was given: the events, every raw body its adapter exposes, and the parsed body where it sets one. */
export interface HandlerView {
  readonly events: readonly unknown[]
  readonly raw: ReadonlyArray<string | Uint8Array>
  readonly body?: unknown
}

/** Collects what the handler of the server under test was given, one request at a time. */
export class Witness {
  private last: HandlerView | undefined

  /** Called by the test server's handler. */
  saw(view: HandlerView): void {
    this.last = view
  }

  /** What the handler saw since the last call, if it ran. */
  take(): HandlerView | undefined {
    const view = this.last
    this.last = undefined
    return view
  }
}

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

/**
 * Registers the shared adapter tests; `path` is the webhook route on the
 * started server, whose handler reports to the witness what it was given.
 */
export function describeAdapterContract(
  start: (witness: Witness) => Promise<RunningServer>,
  path = '/segment',
): void {
  let server: RunningServer
  let url: string
  const witness = new Witness()
  beforeAll(async () => {
    server = await start(witness)
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

  describe('hands the handler only what was signed', () => {
    const [classicSingle, classicBatch] = targetRequests() as [SignedRequest, SignedRequest]

    /** Posts bytes under a request's signature headers: the status, and what the handler was given. */
    async function send(request: SignedRequest, body: string | Uint8Array) {
      witness.take()
      const { status } = await post(url, { body, headers: request.headers })
      return { status, view: witness.take() }
    }

    function expectSigned(request: SignedRequest, view: HandlerView | undefined): HandlerView {
      expect(view).toBeDefined()
      const { events, raw, body } = view as HandlerView
      for (const text of raw) expect(unsignedDifference(request, events, text)).toBeUndefined()
      if (body !== undefined) {
        const isBatch = request.body.startsWith('[')
        expect(exact(body)).toBe(exact(isBatch ? events : events[0]))
      }
      return view as HandlerView
    }

    const properties = (view: HandlerView, i = 0) =>
      (view.events[i] as { properties: Record<string, unknown> }).properties

    it('1e400 in place of a signed null: the handler gets null, never Infinity', async () => {
      for (const request of [classicSingle, classicBatch]) {
        const { status, view } = await send(
          request,
          request.body.replace('"refund":null', '"refund":1e400'),
        )
        expect(status).toBe(200)
        expect(properties(expectSigned(request, view)).refund).toBeNull()
      }
    })

    it('-0 in place of a signed 0: the handler gets 0', async () => {
      for (const request of [classicSingle, classicBatch]) {
        const { status, view } = await send(
          request,
          request.body.replace('"discount":0', '"discount":-0'),
        )
        expect(status).toBe(200)
        expect(Object.is(properties(expectSigned(request, view)).discount, 0)).toBe(true)
      }
    })

    it('a duplicate key smuggled in: the raw body holds only the signed text', async () => {
      const before = classicSingle.body.replace(
        '"userId":"u1"',
        '"userId":"attacker","userId":"u1"',
      )
      const accepted = await send(classicSingle, before)
      expect(accepted.status).toBe(200)
      const view = expectSigned(classicSingle, accepted.view)
      for (const text of view.raw) expect(Buffer.from(text).toString()).not.toContain('attacker')
      // After the signed member, JSON.parse would keep the attacker's value: that never verifies.
      const after = classicSingle.body.replace('"userId":"u1"', '"userId":"u1","userId":"attacker"')
      expect(await send(classicSingle, after)).toEqual({ status: 401, view: undefined })
    })

    it('a byte 0xFF in place of a signed U+FFFD: the handler gets the signed text', async () => {
      const bytes = Buffer.from(classicSingle.body, 'utf8')
      const at = bytes.indexOf(Buffer.from('\uFFFD', 'utf8'))
      const forged = Buffer.concat([bytes.subarray(0, at), Buffer.of(0xff), bytes.subarray(at + 3)])
      const { status, view } = await send(classicSingle, forged)
      expect(status).toBe(200)
      for (const text of expectSigned(classicSingle, view).raw) {
        expect(Buffer.from(text).equals(bytes)).toBe(true)
      }
    })

    it(
      `respelled signed bodies are refused, or give exactly what was signed (${ADAPTER_RUNS} cases)`,
      async () => {
        let accepted = 0
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...targetRequests()),
            fc.integer(),
            async (request, seed) => {
              const { status, view } = await send(request, mutated(request, seed))
              if (status !== 200) {
                expect(view).toBeUndefined()
                expect([400, 401]).toContain(status)
                return
              }
              accepted++
              expectSigned(request, view)
            },
          ),
          { numRuns: ADAPTER_RUNS },
        )
        expect(accepted).toBeGreaterThan(0)
      },
      30_000 + ADAPTER_RUNS * 10,
    )
  })
}
