/** One attempt at one URL over undici: keep-alive, a timeout on the whole exchange, no redirects, TLS verified. */

import { type AttemptResult, classifyError, classifyResponse } from '@analytics-webhooks/core'
import { Agent, type Dispatcher } from 'undici'
import { deadlinesFor } from './deadline.js'

/** A webhook URL split the way undici wants it, parsed once. */
export interface Target {
  readonly origin: string
  readonly path: string
}

/**
 * Splits a URL into undici's origin and path.
 *
 * @example
 * toTarget('https://hooks.example.com/segment?x=1') // { origin: 'https://hooks.example.com', path: '/segment?x=1' }
 */
export function toTarget(url: string): Target {
  const parsed = new URL(url)
  return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` }
}

/**
 * The dispatcher deliveries use unless one is injected: keep-alive
 * connections, certificates verified, redirects never followed (undici follows
 * none unless asked).
 *
 * @example
 * const dispatcher = createDispatcher(10)
 */
export function createDispatcher(connectionsPerOrigin: number): Dispatcher {
  return new Agent({
    connections: connectionsPerOrigin,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    connect: { rejectUnauthorized: true },
  })
}

/**
 * What an attempt saw of the response, for telemetry: its status code, set as
 * soon as the headers arrive, so an exchange that fails while reading the
 * body still reports the status (the HTTP conventions record it whenever one
 * was received). The result alone does not carry it then.
 */
export interface ResponseSeen {
  status: number | undefined
}

const TIMED_OUT: AttemptResult = Object.freeze({ verdict: 'retry', reason: 'timeout' })

/**
 * Sends one request and classifies the result with core's rules. Never
 * throws: network failures become temporary or permanent results, a TLS
 * failure is `tls` with a `detail` naming the failed check, and a request
 * undici refuses to build (a header it will not send) is `invalid_request`
 * with undici's message as `detail`, before anything is sent. The timeout
 * covers connecting, sending, the response headers and reading the body.
 * `seen`, when given, gets the response's status code (see {@link ResponseSeen}).
 *
 * @example
 * const result = await attempt(dispatcher, toTarget(url), 'POST', headers, body, 5000)
 * result.verdict // 'delivered' | 'retry' | 'permanent'
 */
export async function attempt(
  dispatcher: Dispatcher,
  target: Target,
  method: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  now: () => number = Date.now,
  seen?: ResponseSeen,
): Promise<AttemptResult> {
  // Covers connecting, sending, the response headers and the body; shared by the requests of a few ms.
  const deadline = deadlinesFor(timeoutMs).current()
  try {
    const response = await dispatcher.request({
      origin: target.origin,
      path: target.path,
      method: method as Dispatcher.HttpMethod,
      headers,
      body,
      signal: deadline,
    })
    if (seen !== undefined) seen.status = response.statusCode
    await response.body.dump()
    if (deadline.aborted) return TIMED_OUT
    const retryAfter = response.headers['retry-after']
    return classifyResponse(
      response.statusCode,
      Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      now(),
    )
  } catch (error) {
    return deadline.aborted ? TIMED_OUT : classifyError(error)
  }
}
