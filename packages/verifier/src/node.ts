/** `@analytics-webhooks/verifier/node`: verify webhooks in a plain `node:http` server. */

import type { IncomingMessage, ServerResponse } from 'node:http'
import { WebhookVerificationError } from './errors.js'
import { readRawBody, sendRefusal, signedBytes } from './node-body.js'
import { prepareOptions, type VerifyOptions } from './options.js'
import type { VerifiedWebhook } from './rules.js'
import { verifyWebhook } from './verify-node.js'

export { type VerificationErrorCode, WebhookVerificationError } from './errors.js'
export type { VerificationScheme, VerifyOptions } from './options.js'
export type { VerifiedWebhook, WebhookEvent } from './rules.js'
export { readRawBody, sendRefusal }

/** Options of the node adapters: the verifier's options, plus a hook that sees every refusal. */
export interface NodeVerifyOptions extends VerifyOptions {
  /** Called with every refused request's error before it is answered (for logs and metrics). */
  onError?: (error: WebhookVerificationError) => void
}

/** A request that passed verification: `webhook` holds the events, `rawBody` the signed bytes they parse from. */
export type VerifiedRequest<R extends IncomingMessage = IncomingMessage> = R & {
  webhook: VerifiedWebhook
  rawBody: Buffer
}

/**
 * Reads a request's body (up to `maxBodyBytes`) and verifies it; `rawBody` is
 * the signed bytes the events parse from (the received bytes, unless the
 * classic check matched only after re-serialising). Rejects with a
 * {@link WebhookVerificationError}.
 *
 * @example
 * const { events } = await verifyIncomingMessage(req, { secret })
 */
export async function verifyIncomingMessage(
  req: IncomingMessage,
  options: VerifyOptions,
): Promise<VerifiedWebhook & { rawBody: Buffer }> {
  const { maxBodyBytes } = prepareOptions(options)
  const received = await readRawBody(req, maxBodyBytes, req.headers['content-length'])
  const webhook = verifyWebhook(received, req.headers, options)
  return { ...webhook, rawBody: signedBytes(webhook, received) }
}

/**
 * Wraps a `node:http` request handler: the handler runs only for verified
 * webhooks, with `req.webhook` (`{ events, body, reserialized, isBatch, scheme, id }`)
 * and `req.rawBody` (the signed bytes) set. Refused requests are answered 401, 400 (bad JSON) or 413
 * (too large) with `{ "error": code }`. Errors the handler throws are not caught.
 *
 * @example
 * import { createServer } from 'node:http'
 * import { verifySignature } from '@analytics-webhooks/verifier/node'
 * createServer(verifySignature({ secret: process.env.WEBHOOK_SECRET! }, (req, res) => {
 *   for (const event of req.webhook.events) console.log(event.type)
 *   res.end('ok')
 * })).listen(3000)
 */
export function verifySignature<R extends IncomingMessage = IncomingMessage>(
  options: NodeVerifyOptions,
  handler: (req: VerifiedRequest<R>, res: ServerResponse) => unknown,
): (req: R, res: ServerResponse) => Promise<void> {
  prepareOptions(options)
  return async (req, res) => {
    let result: VerifiedWebhook & { rawBody: Buffer }
    try {
      result = await verifyIncomingMessage(req, options)
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error
      options.onError?.(error)
      sendRefusal(res, error)
      return
    }
    const { rawBody, ...webhook } = result
    const verified = req as VerifiedRequest<R>
    verified.webhook = webhook
    verified.rawBody = rawBody
    await handler(verified, res)
  }
}
