/** Reads a node request stream into bytes under a size limit, and answers a refused webhook on a node response. */

import type { IncomingMessage, ServerResponse } from 'node:http'
import { refusalBody, WebhookVerificationError } from './errors.js'
import { tooLarge, type VerifiedWebhook } from './rules.js'

/** The readable side of a node request: `IncomingMessage`, or the stream a framework hands out. */
export type BodyStream = Pick<IncomingMessage, 'on' | 'removeListener' | 'resume'> & {
  readonly readableEnded?: boolean
}

/**
 * Reads the whole body into a Buffer. Past `limit` bytes (or when
 * `Content-Length` already says so) the rest is read and discarded, so the
 * client can read the 413 that follows, and the promise rejects with
 * `body_too_large`. A stream error or an aborted request rejects with `body_read_failed`.
 *
 * @example
 * const bytes = await readRawBody(req, 1024 * 1024, req.headers['content-length'])
 */
export function readRawBody(
  stream: BodyStream,
  limit: number,
  contentLength?: string,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (stream.readableEnded === true) {
      reject(alreadyRead())
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let over = contentLength !== undefined && Number(contentLength) > limit
    const onData = (chunk: Buffer | string): void => {
      if (over) return
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
      size += bytes.length
      if (size > limit) {
        over = true
        chunks.length = 0
      } else chunks.push(bytes)
    }
    const onEnd = (): void => {
      cleanup()
      if (over) reject(tooLarge(limit))
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size))
    }
    const onFailure = (): void => {
      cleanup()
      reject(new WebhookVerificationError('body_read_failed', 'the request body could not be read'))
    }
    const cleanup = (): void => {
      stream.removeListener('data', onData)
      stream.removeListener('end', onEnd)
      stream.removeListener('error', onFailure)
      stream.removeListener('close', onFailure)
    }
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onFailure)
    // 'close' before 'end' means the client went away mid-body.
    stream.on('close', onFailure)
    stream.resume()
  })
}

/** The error for a body some other code has already read: it explains where to mount the verifier. */
export function alreadyRead(): WebhookVerificationError {
  return new WebhookVerificationError(
    'body_already_parsed',
    'the request body was already read by another middleware (express.json()?), so the raw bytes the ' +
      'signature covers are gone. Mount verifySignature() before express.json(), or on the route with ' +
      "express.raw({ type: 'application/json' }) before it.",
  )
}

/**
 * Answers a refused webhook: the error's status and `{ "error": code }`, plus
 * the message for the receiver's own configuration mistakes (5xx), which
 * say how to fix them.
 *
 * @example
 * sendRefusal(res, new WebhookVerificationError('signature_mismatch', '...')) // 401 {"error":"signature_mismatch"}
 */
export function sendRefusal(res: ServerResponse, error: WebhookVerificationError): void {
  if (res.headersSent) {
    res.end()
    return
  }
  const body = JSON.stringify(refusalBody(error))
  res.statusCode = error.status
  res.setHeader('content-type', 'application/json; charset=utf-8')
  res.setHeader('content-length', Buffer.byteLength(body))
  res.end(body)
}

/**
 * The bytes a node adapter exposes as `rawBody`: the received bytes when they
 * are what was signed, else the signed text the classic check re-serialised.
 *
 * @example
 * req.rawBody = signedBytes(verifyWebhook(bytes, req.headers, options), bytes)
 */
export function signedBytes(webhook: VerifiedWebhook, received: Buffer): Buffer {
  return webhook.reserialized ? Buffer.from(webhook.body, 'utf8') : received
}
