/** The inspector's HTTP server: receives webhooks on /hooks, answers as the fault mode says, and serves the page, its live feed and a JSON API. */

import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { answerPreflight, CORS_HEADERS } from './cors.js'
import {
  type Answer,
  type Delivery,
  DeliveryLog,
  type DeliveryLogEvent,
  type ExchangeOutcome,
} from './delivery-log.js'
import { EventStreams } from './event-stream.js'
import {
  FAULT_MODE_DESCRIPTIONS,
  FAULT_MODES,
  type FaultMode,
  FaultSwitch,
  type ModeChange,
  ModeChangeError,
  type ModeState,
  parseModeChange,
} from './fault-mode.js'
import { type SignatureVerdict, signatureJudge } from './verdict.js'

/** How to run an inspector. Every field is optional. */
export interface InspectorOptions {
  /** Port to listen on. Default 4000; 0 picks a free one (tests, the demo). */
  port?: number
  /** Address to listen on. Default `127.0.0.1` (this machine only). */
  host?: string
  /** The shared secret (or several, during a rotation) to verify signatures with. Never shown. */
  secret?: string | readonly string[]
  /** Deliveries kept in memory. Default 100. */
  capacity?: number
  /** Answer 401 to deliveries whose signature does not verify (when a secret is set). Default `false`: show the verdict, answer 200. */
  strict?: boolean
  /** How long `hang` holds a request before answering 200 anyway. Default 10 s, past the senders' 5 s timeout. */
  hangMs?: number
  /** The `Retry-After` (seconds) sent in `429` mode. Default 2. */
  retryAfterSeconds?: number
  /** Largest body accepted; larger ones get 413. Default 1 MB. */
  bodyLimitBytes?: number
}

/** A running inspector. */
export interface Inspector {
  /** Where the page is, e.g. `http://127.0.0.1:4000`. */
  readonly url: string
  /** Where to send webhooks, e.g. `http://127.0.0.1:4000/hooks`. */
  readonly hooksUrl: string
  readonly port: number
  /** The kept deliveries, oldest first. */
  deliveries(): readonly Delivery[]
  /** The current fault mode. */
  mode(): ModeState
  /** Changes the fault mode, as the page's buttons do. */
  setMode(change: ModeChange): ModeState
  /** Forgets every kept delivery. */
  clear(): void
  /** Calls `listener` for each new or updated delivery; returns a function that stops it. */
  subscribe(listener: (event: DeliveryLogEvent) => void): () => void
  /** How many batches analytics-node posted to `/v1/batch` (the stand-in for api.segment.io). */
  segmentBatches(): number
  /** Stops listening, ends the live feeds and any held (`hang`) requests. */
  close(): Promise<void>
}

/** What `GET /api/info` answers and the page shows in its header. */
export interface InspectorInfo {
  readonly hooksUrl: string
  readonly secretConfigured: boolean
  readonly strict: boolean
  readonly capacity: number
  readonly retryAfterSeconds: number
  readonly hangMs: number
  readonly modes: ReadonlyArray<{ mode: FaultMode; description: string }>
}

const PAGE_URL = new URL('../public/index.html', import.meta.url)
const MB = 1024 * 1024

/**
 * Starts an inspector: a local webhook receiver with a live page. Resolves
 * once it is listening.
 *
 * @example
 * const inspector = await createInspector({ port: 0, secret: process.env.WEBHOOK_SECRET })
 * console.log(`open ${inspector.url}, send webhooks to ${inspector.hooksUrl}`)
 * inspector.setMode({ mode: '500', times: 1 }) // the next delivery gets a 500
 * await inspector.close()
 */
export async function createInspector(options: InspectorOptions = {}): Promise<Inspector> {
  const secrets = normaliseSecrets(options.secret)
  const strict = options.strict ?? false
  const hangMs = options.hangMs ?? 10_000
  const retryAfterSeconds = options.retryAfterSeconds ?? 2
  const bodyLimitBytes = options.bodyLimitBytes ?? MB
  const judgeSignature = signatureJudge(secrets, bodyLimitBytes)
  const log = new DeliveryLog(options.capacity ?? 100)
  const modes = new FaultSwitch()
  const streams = new EventStreams()
  const held = new Set<() => void>()
  const page = readFileSync(PAGE_URL)
  let segmentBatches = 0
  let info: InspectorInfo | undefined

  log.subscribe((event) => {
    if (event.kind === 'delivery') streams.send('delivery', event.delivery)
    else streams.send('cleared', {})
  })
  modes.subscribe((state) => streams.send('mode', state))

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      // A bug here must not take the inspector down; tell the client and the terminal.
      console.error('inspector: request failed:', error)
      if (!res.headersSent) sendJson(res, 500, { error: 'inspector_error' })
      else res.destroy()
    })
  })

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const path = new URL(req.url ?? '/', 'http://inspector').pathname
    if (method === 'OPTIONS') return answerPreflight(req, res)
    if (path === '/hooks' || path.startsWith('/hooks/')) {
      if (method === 'POST' || method === 'PUT' || method === 'PATCH')
        return receive(req, res, path)
      return sendJson(res, 405, { error: 'method_not_allowed', hint: 'POST webhooks here' })
    }
    if (method === 'GET' && (path === '/' || path === '/index.html')) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-cache',
      })
      res.end(page)
      return
    }
    if (method === 'GET' && path === '/api/events') {
      return streams.open(res, [
        { event: 'hello', data: { info, mode: modes.current(), deliveries: log.list() } },
      ])
    }
    if (path === '/api/deliveries') {
      if (method === 'GET') return sendJson(res, 200, log.list())
      if (method === 'DELETE') {
        log.clear()
        res.writeHead(204, CORS_HEADERS).end()
        return
      }
    }
    if (path === '/api/mode') {
      if (method === 'GET') return sendJson(res, 200, modes.current())
      if (method === 'POST') return changeMode(req, res)
    }
    if (method === 'GET' && path === '/api/info') return sendJson(res, 200, info)
    // analytics-node's own delivery, pointed here by `host` so nothing leaves the machine.
    if (method === 'POST' && path.startsWith('/v1/')) {
      await readBody(req, bodyLimitBytes)
      segmentBatches += 1
      return sendJson(res, 200, { success: true })
    }
    sendJson(res, 404, { error: 'not_found', hint: 'webhooks go to POST /hooks' })
  }

  async function changeMode(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { bytes } = await readBody(req, 64 * 1024)
    try {
      const change = parseModeChange(JSON.parse(Buffer.from(bytes).toString('utf8')))
      sendJson(res, 200, modes.set(change))
    } catch (error) {
      if (!(error instanceof ModeChangeError) && !(error instanceof SyntaxError)) throw error
      sendJson(res, 400, { error: 'invalid_mode', message: error.message })
    }
  }

  async function receive(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const { bytes, tooLarge } = await readBody(req, bodyLimitBytes)
    const receivedAt = Date.now()
    const mode = modes.take()
    const verdict: SignatureVerdict = tooLarge
      ? {
          status: 'invalid',
          code: 'body_too_large',
          scheme: null,
          label: 'rejected: body too large',
        }
      : judgeSignature(bytes, req.headers)
    const body = Buffer.from(bytes).toString('utf8')
    const delivery: Delivery = {
      id: log.nextId(),
      receivedAt: new Date(receivedAt).toISOString(),
      method: req.method ?? 'POST',
      path,
      hook: path.startsWith('/hooks/') ? hookName(path.slice('/hooks/'.length)) : null,
      headers: flattenHeaders(req),
      body,
      bodyBytes: bytes.byteLength,
      ...describeEvents(body),
      verdict,
      answer: {
        outcome: 'pending',
        status: null,
        mode,
        note: 'holding the request…',
        durationMs: null,
      },
    }
    const answer = (outcome: ExchangeOutcome, status: number | null, note: string): Answer => ({
      outcome,
      status,
      mode,
      note,
      durationMs: Date.now() - receivedAt,
    })

    if (tooLarge) {
      sendJson(res, 413, { error: 'body_too_large' })
      delivery.answer = answer('answered', 413, '413 body too large')
      return log.add(delivery)
    }
    switch (mode) {
      case 'normal': {
        const refuse = strict && secrets.length > 0 && verdict.status !== 'verified'
        if (refuse) sendJson(res, 401, { error: verdict.code ?? verdict.status })
        else sendJson(res, 200, { ok: true, id: delivery.id })
        delivery.answer = answer(
          'answered',
          refuse ? 401 : 200,
          refuse ? '401 refused (strict)' : '200 OK',
        )
        return log.add(delivery)
      }
      case '500':
        sendJson(res, 500, { error: 'fault_mode_500' })
        delivery.answer = answer('answered', 500, '500 (fault mode)')
        return log.add(delivery)
      case '429':
        res.setHeader('retry-after', String(retryAfterSeconds))
        sendJson(res, 429, { error: 'fault_mode_429' })
        delivery.answer = answer('answered', 429, `429, Retry-After: ${retryAfterSeconds} s`)
        return log.add(delivery)
      case 'drop':
        req.socket.destroy()
        delivery.answer = answer('dropped', null, 'dropped the connection')
        return log.add(delivery)
      case 'hang':
        log.add(delivery)
        return hold(res, (outcome, status, note) =>
          log.settle(delivery, answer(outcome, status, note)),
        )
    }
  }

  function hold(
    res: ServerResponse,
    settle: (outcome: ExchangeOutcome, status: number | null, note: string) => void,
  ): void {
    const started = Date.now()
    const release = (): void => {
      clearTimeout(timer)
      held.delete(release)
      if (!res.writableEnded) res.destroy()
    }
    const timer = setTimeout(() => {
      held.delete(release)
      sendJson(res, 200, { ok: true, late: true })
      settle('answered', 200, `200 OK, after holding ${format(Date.now() - started)}`)
    }, hangMs)
    held.add(release)
    res.on('close', () => {
      if (res.writableEnded) return
      clearTimeout(timer)
      held.delete(release)
      settle(
        'abandoned',
        null,
        `no answer; the sender gave up after ${format(Date.now() - started)}`,
      )
    })
  }

  const port = await listen(server, options.port ?? 4000, options.host ?? '127.0.0.1')
  const host = options.host ?? '127.0.0.1'
  const shownHost =
    host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  const url = `http://${shownHost}:${port}`
  info = {
    hooksUrl: `${url}/hooks`,
    secretConfigured: secrets.length > 0,
    strict,
    capacity: log.capacity,
    retryAfterSeconds,
    hangMs,
    modes: FAULT_MODES.map((mode) => ({ mode, description: FAULT_MODE_DESCRIPTIONS[mode] })),
  }

  return {
    url,
    hooksUrl: info.hooksUrl,
    port,
    deliveries: () => log.list(),
    mode: () => modes.current(),
    setMode: (change) => modes.set(change),
    clear: () => log.clear(),
    subscribe: (listener) => log.subscribe(listener),
    segmentBatches: () => segmentBatches,
    close: async () => {
      streams.close()
      for (const release of [...held]) release()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
    },
  }
}

function normaliseSecrets(secret: string | readonly string[] | undefined): string[] {
  if (secret === undefined) return []
  const list = typeof secret === 'string' ? [secret] : [...secret]
  return list.filter((value) => value.length > 0)
}

function listen(
  server: ReturnType<typeof createServer>,
  port: number,
  host: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      if (error.code === 'EADDRINUSE') {
        reject(
          new Error(
            `port ${port} on ${host} is in use; choose another with --port (0 picks a free one)`,
          ),
        )
      } else reject(error)
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

async function readBody(
  req: IncomingMessage,
  limit: number,
): Promise<{ bytes: Uint8Array; tooLarge: boolean }> {
  const chunks: Buffer[] = []
  let size = 0
  let tooLarge = false
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > limit) tooLarge = true
    else chunks.push(chunk)
  }
  return { bytes: Buffer.concat(chunks), tooLarge }
}

/** The name in `/hooks/:name`, decoded when it is valid percent-encoding, as sent otherwise. */
function hookName(encoded: string): string {
  try {
    return decodeURIComponent(encoded)
  } catch {
    return encoded
  }
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return headers
}

/** Batch size, event types and message ids, from the body if it is JSON. */
function describeEvents(
  body: string,
): Pick<Delivery, 'eventCount' | 'isBatch' | 'eventTypes' | 'messageIds'> {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { eventCount: 0, isBatch: false, eventTypes: [], messageIds: [] }
  }
  const isBatch = Array.isArray(parsed)
  const events: unknown[] = isBatch ? (parsed as unknown[]) : [parsed]
  const eventTypes: string[] = []
  const messageIds: string[] = []
  let eventCount = 0
  for (const event of events) {
    if (event === null || typeof event !== 'object' || Array.isArray(event)) continue
    eventCount += 1
    const { type, messageId } = event as { type?: unknown; messageId?: unknown }
    eventTypes.push(typeof type === 'string' ? type : '?')
    if (typeof messageId === 'string') messageIds.push(messageId)
  }
  return { eventCount, isBatch, eventTypes, messageIds }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...CORS_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

function format(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
