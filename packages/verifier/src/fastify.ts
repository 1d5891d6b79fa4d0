/** `@analytics-webhooks/verifier/fastify`: a Fastify plugin that keeps raw bodies and verifies webhooks before handlers run. */

import type { IncomingHttpHeaders } from 'node:http'
// Types only, for the `FastifyRequest.webhook` augmentation below; nothing from fastify is loaded at runtime.
import type {} from 'fastify'
import { refusalBody, WebhookVerificationError } from './errors.js'
import type { NodeVerifyOptions } from './node.js'
import { type BodyStream, readRawBody } from './node-body.js'
import { prepareOptions } from './options.js'
import type { VerifiedWebhook } from './rules.js'
import { verifyWebhook } from './verify-node.js'

export { type VerificationErrorCode, WebhookVerificationError } from './errors.js'
export type { NodeVerifyOptions } from './node.js'
export type { VerificationScheme, VerifyOptions } from './options.js'
export type { VerifiedWebhook, WebhookEvent } from './rules.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `verifySignature` plugin from `@analytics-webhooks/verifier/fastify`: the verified events. */
    webhook?: VerifiedWebhook
  }
}

/** The parts of a Fastify request the plugin uses. */
export interface PluginRequest {
  headers: IncomingHttpHeaders
  body: unknown
  webhook?: VerifiedWebhook
}

/** The parts of a Fastify reply the plugin uses. */
export interface PluginReply {
  code(status: number): PluginReply
  header(name: string, value: string): PluginReply
  send(payload?: unknown): PluginReply
}

/** The parts of a Fastify instance the plugin uses. */
export interface PluginInstance {
  addContentTypeParser(
    contentType: string,
    parser: (request: PluginRequest, payload: BodyStream) => Promise<unknown>,
  ): void
  addHook(
    name: 'preValidation',
    hook: (request: PluginRequest, reply: PluginReply) => Promise<unknown>,
  ): void
}

/**
 * Fastify plugin: in the scope where it is registered, bodies are kept as raw
 * bytes (for every content type) and every request is verified before
 * validation and the handler. On success `request.webhook` is
 * `{ events, body, reserialized, isBatch, scheme, id }` and `request.body` the verified events;
 * otherwise the reply is 401, 400 (bad JSON) or 413 (too large) with
 * `{ "error": code }`. Register it in a scope that holds only webhook routes:
 * it applies to the scope it is registered in, like `fastify-plugin` plugins.
 *
 * @example
 * import Fastify from 'fastify'
 * import { verifySignature } from '@analytics-webhooks/verifier/fastify'
 * const app = Fastify()
 * app.register(async (webhooks) => {
 *   await webhooks.register(verifySignature, { secret: process.env.WEBHOOK_SECRET! })
 *   webhooks.post('/segment', async (request) => {
 *     for (const event of request.webhook!.events) request.log.info(event.type)
 *     return { ok: true }
 *   })
 * })
 */
export async function verifySignature(
  instance: PluginInstance,
  options: NodeVerifyOptions,
): Promise<void> {
  const { maxBodyBytes } = prepareOptions(options)
  // The parser never fails: an oversized or unreadable body becomes the error itself,
  // answered by the hook below in the same `{ "error": code }` shape as every refusal.
  const parser = (request: PluginRequest, payload: BodyStream): Promise<unknown> =>
    readRawBody(payload, maxBodyBytes, singleHeader(request.headers['content-length'])).catch(
      (error: unknown) => error,
    )
  for (const type of ['application/json', 'text/plain', '*']) {
    instance.addContentTypeParser(type, parser)
  }
  instance.addHook('preValidation', async (request, reply) => {
    const body = request.body
    let webhook: VerifiedWebhook
    try {
      if (body instanceof Error) throw body
      webhook = verifyWebhook(
        body === undefined ? EMPTY : (body as Buffer),
        request.headers,
        options,
      )
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error
      options.onError?.(error)
      return reply.code(error.status).send(refusalBody(error))
    }
    request.webhook = webhook
    request.body = webhook.isBatch ? webhook.events : webhook.events[0]
    return undefined
  })
}

// Registering the plugin decorates the scope it is registered in (what `fastify-plugin` does).
Object.defineProperty(verifySignature, Symbol.for('skip-override'), { value: true })

const EMPTY = new Uint8Array(0)

function singleHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}
