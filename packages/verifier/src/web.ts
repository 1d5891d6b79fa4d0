/** `@analytics-webhooks/verifier/web`: verify a web `Request` (Hono, Next.js route handlers, Workers, Bun, Deno) with WebCrypto only. */

import { refusalBody, WebhookVerificationError } from './errors.js'
import { prepareOptions, type VerifyOptions } from './options.js'
import { tooLarge, type VerifiedWebhook } from './rules.js'
import { verifyWebhookAsync } from './verify-web.js'

export { type VerificationErrorCode, WebhookVerificationError } from './errors.js'
export type { HeaderSource } from './headers.js'
export type { VerificationScheme, VerifyOptions } from './options.js'
export type { RawBody, VerifiedWebhook, WebhookEvent } from './rules.js'
export { verifyWebhookAsync }

/** Options of the web adapters: the verifier's options, plus a hook that sees every refusal. */
export interface WebVerifyOptions extends VerifyOptions {
  /** Called with every refused request's error before the refusal `Response` is returned. */
  onError?: (error: WebhookVerificationError) => void
}

/**
 * Reads and verifies a `Request`. Resolves to the verified webhook, or to the
 * `Response` to return as is: 401, 400 (bad JSON), 413 (too large) or 500
 * (body already read) with `{ "error": code }`. Never rejects for anything
 * the request contains. Pass the untouched request: its body is read here.
 *
 * @example
 * // app/api/segment/route.ts (Next.js)
 * import { verifyRequest } from '@analytics-webhooks/verifier/web'
 * export async function POST(request: Request) {
 *   const webhook = await verifyRequest(request, { secret: process.env.WEBHOOK_SECRET! })
 *   if (webhook instanceof Response) return webhook
 *   for (const event of webhook.events) console.log(event.type)
 *   return new Response(null, { status: 204 })
 * }
 */
export async function verifyRequest(
  request: Request,
  options: WebVerifyOptions,
): Promise<VerifiedWebhook | Response> {
  try {
    const { maxBodyBytes } = prepareOptions(options)
    const body = await readRequestBody(request, maxBodyBytes)
    return await verifyWebhookAsync(body, request.headers, options)
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error
    options.onError?.(error)
    return refusal(error)
  }
}

/**
 * The `Response` the adapters answer a refused webhook with.
 *
 * @example
 * try { await verifyWebhookAsync(body, headers, options) } catch (e) {
 *   if (e instanceof WebhookVerificationError) return refusal(e) // 401 {"error":"signature_mismatch"}
 * }
 */
export function refusal(error: WebhookVerificationError): Response {
  return new Response(JSON.stringify(refusalBody(error)), {
    status: error.status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  })
}

/**
 * A request's body as bytes, refused with `body_too_large` as soon as it
 * passes `limit` (from `Content-Length`, or while streaming), and with
 * `body_already_parsed` when something read it already.
 *
 * @example
 * const bytes = await readRequestBody(request, 1024 * 1024)
 */
export async function readRequestBody(request: Request, limit: number): Promise<Uint8Array> {
  if (request.bodyUsed) {
    throw new WebhookVerificationError(
      'body_already_parsed',
      'the request body was already read (request.json()?): pass the untouched Request, or request.clone()',
    )
  }
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) {
    await request.body?.cancel().catch(() => undefined)
    throw tooLarge(limit)
  }
  if (request.body === null) return new Uint8Array(0)
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) {
        await reader.cancel().catch(() => undefined)
        throw tooLarge(limit)
      }
      chunks.push(value)
    }
  } catch (error) {
    if (error instanceof WebhookVerificationError) throw error
    throw new WebhookVerificationError('body_read_failed', 'the request body could not be read')
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

/** The variables {@link webhookMiddleware} sets on a Hono context: `new Hono<{ Variables: WebhookVariables }>()`. */
export interface WebhookVariables {
  webhook: VerifiedWebhook
}

/** The parts of a Hono context the middleware uses. */
export interface MiddlewareContext {
  req: { raw: Request }
  set(key: 'webhook', value: VerifiedWebhook): void
}

/**
 * Hono middleware: verifies the request and sets `c.get('webhook')`, or
 * answers the refusal. The body is consumed: read the events from
 * `c.get('webhook').events`, not `c.req.json()`.
 *
 * @example
 * import { Hono } from 'hono'
 * import { webhookMiddleware, type WebhookVariables } from '@analytics-webhooks/verifier/web'
 * const app = new Hono<{ Variables: WebhookVariables }>()
 * app.post('/segment', webhookMiddleware({ secret: process.env.WEBHOOK_SECRET! }), (c) =>
 *   c.json({ received: c.get('webhook').events.length }),
 * )
 */
export function webhookMiddleware(
  options: WebVerifyOptions,
): (c: MiddlewareContext, next: () => Promise<void>) => Promise<Response | undefined> {
  prepareOptions(options)
  return async (c, next) => {
    const webhook = await verifyRequest(c.req.raw, options)
    if (webhook instanceof Response) return webhook
    c.set('webhook', webhook)
    await next()
    return undefined
  }
}
