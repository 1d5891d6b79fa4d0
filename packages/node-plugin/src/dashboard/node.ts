/** The dashboard on `node:http` and Express: a listener (or middleware) that turns the Node request into a web `Request` and streams the `Response` back. */

import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'

/** A web-standard handler, such as the one `dashboard()` returns. */
export type WebHandler = (request: Request) => Promise<Response>

/** A Node request as Express hands it on (`originalUrl` keeps the mount path; `body` is set when a body parser ran first). */
export type NodeDashboardRequest = IncomingMessage & { originalUrl?: string; body?: unknown }

/** A `node:http` request listener that is also Express/Connect middleware. */
export type NodeDashboardListener = (
  req: NodeDashboardRequest,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => void

/** Largest request body read; the dashboard's actions are a few dozen bytes. */
const MAX_BODY_BYTES = 64 * 1024

/**
 * Serves a web-standard handler on `node:http`, or as Express middleware
 * (`app.use('/webhooks', …)`: it sees the full path through `originalUrl`,
 * so the page's relative links and its cookie stay under the mount). A body
 * an Express body parser already read is taken from `req.body`. Server-sent
 * events are streamed, and stopped when the browser goes away.
 *
 * @example
 * import express from 'express'
 * import { dashboard, nodeDashboard } from '@analytics-webhooks/node-plugin/dashboard'
 * const app = express()
 * const board = dashboard({ store, queue: 'default' })
 * app.use('/webhooks', nodeDashboard(board))
 * console.log(`open /webhooks/?token=${board.token}`)
 *
 * // or on its own server:
 * http.createServer(nodeDashboard(board)).listen(4400, '127.0.0.1')
 */
export function nodeDashboard(handler: WebHandler): NodeDashboardListener {
  return (req, res, next) => {
    serveNode(handler, req, res).catch((error: unknown) => {
      if (next) next(error)
      else res.destroy(error instanceof Error ? error : undefined)
    })
  }
}

/**
 * Runs `handler` for one Node request and writes its response; `parsedBody`
 * stands for a body a framework already parsed (Fastify, Express's body
 * parsers). Shared by the Node, Express and Fastify adapters.
 *
 * @example
 * await serveNode(handler, request.raw, reply.raw, request.body)
 */
export async function serveNode(
  handler: WebHandler,
  req: NodeDashboardRequest,
  res: ServerResponse,
  parsedBody: unknown = req.body,
): Promise<void> {
  const left = new AbortController()
  res.on('close', () => left.abort())
  const body = await requestBody(req, parsedBody)
  if (body === null) {
    res.writeHead(413, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: 'too_large' }))
    return
  }
  const secure = (req.socket as TLSSocket).encrypted === true
  const url = `${secure ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${req.originalUrl ?? req.url ?? '/'}`
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
  }
  const response = await handler(
    new Request(url, {
      method: req.method ?? 'GET',
      headers,
      signal: left.signal,
      ...(body === undefined ? {} : { body }),
    }),
  )
  await writeResponse(response, res, left.signal)
}

async function requestBody(
  req: NodeDashboardRequest,
  parsedBody: unknown,
): Promise<Uint8Array | string | undefined | null> {
  const method = req.method ?? 'GET'
  if (method === 'GET' || method === 'HEAD') return undefined
  if (req.readableEnded) {
    if (parsedBody === undefined) return undefined
    if (typeof parsedBody === 'string' || parsedBody instanceof Uint8Array) return parsedBody
    return JSON.stringify(parsedBody)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > MAX_BODY_BYTES) return null
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

async function writeResponse(
  response: Response,
  res: ServerResponse,
  left: AbortSignal,
): Promise<void> {
  const headers: Record<string, string | string[]> = {}
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  res.writeHead(response.status, headers)
  if (response.body === null) {
    res.end()
    return
  }
  // Headers go out at once: a live feed's first event may be a while coming.
  res.flushHeaders()
  const reader = response.body.getReader()
  const stop = (): void => {
    void reader.cancel().catch(() => undefined)
  }
  left.addEventListener('abort', stop, { once: true })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done || left.aborted) break
      if (!res.write(value)) await drained(res)
    }
  } finally {
    left.removeEventListener('abort', stop)
    if (!res.writableEnded) res.end()
  }
}

/** Resolves when `res` can take more, or has closed (a page that left never drains). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}
