/** Local servers for the end-to-end tests: the test page, and a webhook receiver that allows CORS, can go down, fail on purpose, and limit body sizes. */

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchChromium } from '@analytics-webhooks/testing'
import { build } from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'

/**
 * Serves an HTML page and the bundle of `page.ts` (analytics-next + the plugin)
 * on 127.0.0.1, split into ES module chunks as an application's bundler would
 * split it: the page loads `/page.js`, and lazy chunks (the plugin's signing
 * code among them) only when an `import()` asks for them.
 */
export async function servePage(): Promise<{ origin: string; close: () => Promise<void> }> {
  const bundle = await build({
    entryPoints: { page: fileURLToPath(new URL('./page.ts', import.meta.url)) },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    outdir: 'out',
    logLevel: 'silent',
  })
  const scripts = new Map(bundle.outputFiles.map((file) => [`/${basename(file.path)}`, file.text]))
  const server = createServer((req, res) => {
    const script = scripts.get(new URL(req.url ?? '/', 'http://127.0.0.1').pathname)
    if (script !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script)
    } else if (req.url?.startsWith('/favicon')) {
      res.writeHead(404).end()
    } else {
      res
        .writeHead(200, { 'Content-Type': 'text/html' })
        .end('<!doctype html><title>e2e</title><script type="module" src="/page.js"></script>')
    }
  })
  const port = await listen(server, 0)
  return { origin: `http://127.0.0.1:${port}`, close: () => close(server) }
}

/** One request the receiver read. */
export interface Received {
  method: string
  headers: IncomingHttpHeaders
  body: string
  /** The status it was answered with. */
  status: number
  /** When it arrived (ms since the epoch). */
  at: number
}

/** How the receiver answers one request: a status, and headers to add. */
export type Answer = (request: Received) => { status: number; headers?: Record<string, string> }

/** A webhook receiver on 127.0.0.1 that answers CORS preflights and records every request. */
export class Receiver {
  readonly received: Received[] = []
  /** Delay before answering a delivery, to make deliveries overlap. */
  delayMs = 0
  /** Bodies larger than this many bytes are answered 413, as a receiver with a body limit does. */
  limitBytes = Infinity
  /** How a request within the limit is answered; 200 unless set. */
  answer: Answer = () => ({ status: 200 })
  port = 0
  private server: Server | undefined

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`
  }

  /** Starts listening (on the same port as before, if there was one). */
  async up(): Promise<void> {
    const server = createServer((req, res) => {
      res.setHeader('Access-Control-Allow-Origin', '*')
      // Retry-After is not a header a page may read across origins unless the receiver says so.
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After')
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'POST, PUT, PATCH')
        res.setHeader(
          'Access-Control-Allow-Headers',
          'Content-Type, X-Signature, X-Team, webhook-id, webhook-timestamp, webhook-signature',
        )
        res.writeHead(204).end()
        return
      }
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => {
        body += chunk
      })
      req.on('end', () => {
        const request = {
          method: req.method ?? '',
          headers: req.headers,
          body,
          status: 0,
          at: Date.now(),
        }
        const { status, headers } =
          Buffer.byteLength(body) > this.limitBytes ? { status: 413 } : this.answer(request)
        request.status = status
        this.received.push(request)
        setTimeout(() => res.writeHead(status, headers).end(), this.delayMs)
      })
    })
    this.port = await listen(server, this.port)
    this.server = server
  }

  /** Stops listening and drops open connections: the next requests are refused. */
  async down(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server) await close(server)
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))
  })
}

function close(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** What {@link pageAndBrowser} opens for a describe block: the test page's server and Chromium. */
export interface PageAndBrowser {
  readonly site: { origin: string; close: () => Promise<void> }
  readonly browser: Browser
}

/**
 * Serves the test page and launches Chromium (resolving no name but
 * 127.0.0.1, so nothing can leave the machine) before the describe block's
 * tests, and closes both after them. Read its fields inside tests.
 *
 * @example
 * const chromium = pageAndBrowser()
 * it('…', async () => { const context = await chromium.browser.newContext() })
 */
export function pageAndBrowser(): PageAndBrowser {
  const opened = {} as { site: PageAndBrowser['site']; browser: Browser }
  beforeAll(async () => {
    opened.site = await servePage()
    opened.browser = await launchChromium([
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ])
  })
  afterAll(async () => {
    await opened.browser?.close()
    await opened.site?.close()
  })
  return opened
}
