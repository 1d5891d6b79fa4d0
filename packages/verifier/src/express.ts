/** `@analytics-webhooks/verifier/express`: Express 4/5 and Connect middleware that verifies webhooks. */

import type { IncomingMessage, ServerResponse } from 'node:http'
import { WebhookVerificationError } from './errors.js'
import type { NodeVerifyOptions } from './node.js'
import { alreadyRead, readRawBody, sendRefusal, signedBytes } from './node-body.js'
import { prepareOptions } from './options.js'
import type { VerifiedWebhook } from './rules.js'
import { verifyWebhook } from './verify-node.js'

export { type VerificationErrorCode, WebhookVerificationError } from './errors.js'
export type { NodeVerifyOptions } from './node.js'
export type { VerificationScheme, VerifyOptions } from './options.js'
export type { VerifiedWebhook, WebhookEvent } from './rules.js'

declare global {
  // Express's own augmentation point: every `req` in Express handlers gets `webhook`.
  namespace Express {
    interface Request {
      /** Set by `verifySignature()` from `@analytics-webhooks/verifier/express`: the verified events. */
      webhook?: VerifiedWebhook
    }
  }
}

/** The parts of an Express/Connect request the middleware uses. */
export type MiddlewareRequest = IncomingMessage & {
  body?: unknown
  rawBody?: unknown
  webhook?: VerifiedWebhook
}

/** Connect-style middleware. */
export type WebhookMiddleware = (
  req: MiddlewareRequest,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void

/**
 * Express/Connect middleware that verifies the webhook before your handler
 * runs. It reads the raw body itself, so mount it before `express.json()`
 * (or after `express.raw({ type: 'application/json' })`, or after a parser
 * that saved `req.rawBody`). On success `req.webhook` is
 * `{ events, body, reserialized, isBatch, scheme, id }`, `req.body` the
 * verified events and `req.rawBody` the signed bytes (set even when a parser
 * saved other bytes there); otherwise the request is answered 401, 400 (bad
 * JSON), 413 (too large) or 500 (`body_already_parsed`: mounted after a JSON
 * parser) with `{ "error": code }`.
 *
 * @example
 * import express from 'express'
 * import { verifySignature } from '@analytics-webhooks/verifier/express'
 * const app = express()
 * app.post('/segment', verifySignature({ secret: process.env.WEBHOOK_SECRET! }), (req, res) => {
 *   for (const event of req.webhook!.events) console.log(event.type)
 *   res.sendStatus(204)
 * })
 */
export function verifySignature(options: NodeVerifyOptions): WebhookMiddleware {
  const { maxBodyBytes } = prepareOptions(options)
  const refuse = (res: ServerResponse, error: WebhookVerificationError): void => {
    options.onError?.(error)
    sendRefusal(res, error)
  }
  const accept = (
    req: MiddlewareRequest,
    res: ServerResponse,
    next: (error?: unknown) => void,
    bytes: Buffer,
  ): void => {
    let webhook: VerifiedWebhook
    try {
      webhook = verifyWebhook(bytes, req.headers, options)
    } catch (error) {
      if (error instanceof WebhookVerificationError) refuse(res, error)
      else next(error)
      return
    }
    req.webhook = webhook
    // Replaced even when a parser saved it: the handler sees only the signed text, never other bytes.
    req.rawBody = signedBytes(webhook, bytes)
    req.body = webhook.isBatch ? webhook.events : webhook.events[0]
    next()
  }
  return (req, res, next) => {
    const saved = rawBytes(req.rawBody) ?? rawBytes(req.body)
    if (saved !== undefined) {
      accept(req, res, next, saved)
      return
    }
    if (req.readableEnded || (req.body !== undefined && req.body !== null)) {
      refuse(res, alreadyRead())
      return
    }
    readRawBody(req, maxBodyBytes, req.headers['content-length']).then(
      (bytes) => accept(req, res, next, bytes),
      (error: unknown) => {
        if (error instanceof WebhookVerificationError) refuse(res, error)
        else next(error)
      },
    )
  }
}

function rawBytes(value: unknown): Buffer | undefined {
  if (!(value instanceof Uint8Array)) return undefined
  return Buffer.isBuffer(value)
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}
