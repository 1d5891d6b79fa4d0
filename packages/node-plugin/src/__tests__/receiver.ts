/** Test receivers: real HTTP servers on 127.0.0.1 that record every request and answer as a test tells them to. */

import { createHmac } from 'node:crypto'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { Analytics } from '@segment/analytics-node'

/** One request as the receiver saw it. */
export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** `Date.now()` when the body had arrived. */
  readonly at: number
}

/** How to answer: a status (and headers), or `'hang'` to never answer. */
export type Answer = { status: number; headers?: Record<string, string> } | 'hang'

/** A running receiver. */
export interface Receiver {
  readonly url: string
  readonly requests: Received[]
  /** Changes how the next requests are answered. */
  answer(fn: (request: Received, index: number) => Answer): void
  /** Resolves when at least `count` requests arrived, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

/**
 * Starts a receiver on a free port of 127.0.0.1; answers 200 until told otherwise.
 *
 * @example
 * const receiver = await startReceiver()
 * receiver.answer(() => ({ status: 503 }))
 */
export async function startReceiver(
  initial?: (request: Received, index: number) => Answer,
): Promise<Receiver> {
  let respond: (request: Received, index: number) => Answer = initial ?? (() => ({ status: 200 }))
  const requests: Received[] = []
  const hanging = new Set<ServerResponse>()
  let waiters: { count: number; resolve(): void }[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const received: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      }
      requests.push(received)
      waiters = waiters.filter((w) => {
        if (requests.length >= w.count) w.resolve()
        return requests.length < w.count
      })
      const answer = respond(received, requests.length - 1)
      if (answer === 'hang') {
        hanging.add(res)
        return
      }
      res.writeHead(answer.status, answer.headers)
      res.end()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    answer(fn) {
      respond = fn
    },
    waitFor(count, timeoutMs = 10_000) {
      if (requests.length >= count) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} requests, got ${requests.length}`)),
          timeoutMs,
        )
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
      })
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** The spec's receiver check: hex HMAC-SHA1 of the re-serialised body (a batch: of its first event). */
export function specSignature(secret: string, body: string): string {
  const parsed: unknown = JSON.parse(body)
  const signed = Array.isArray(parsed) ? parsed[0] : parsed
  return createHmac('sha1', secret).update(JSON.stringify(signed), 'utf8').digest('hex')
}

/**
 * A real analytics-node pipeline whose own Segment delivery never leaves the
 * machine: `host` is a closed local port and its HTTP client answers 200 itself.
 */
export function testAnalytics(): Analytics {
  return new Analytics({
    writeKey: 'test',
    host: 'http://127.0.0.1:9',
    maxRetries: 0,
    httpClient: { makeRequest: async () => ({ status: 200, statusText: 'OK' }) },
  })
}
