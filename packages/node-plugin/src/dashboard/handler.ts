/** The dashboard's web-standard core: one `(request: Request) => Promise<Response>` serving the page, its API, its live feed and its actions over one queue. */

import { asError } from '@analytics-webhooks/core'
import type { WebhookPlugin } from '../plugin.js'
import type { QueueStore } from '../store/types.js'
import {
  type Access,
  crossSiteRefusal,
  generateToken,
  isAllowed,
  loginCookie,
  sameSecret,
} from './access.js'
import { type ApiAnswer, deadAction, deadPage } from './dead-letters.js'
import { LiveFeeds } from './live-feed.js'
import { dashboardPage, LOGIN_PAGE } from './page/index.js'
import { type QueueReading, QueueSampler } from './sampler.js'

/** Where the dashboard reads: a store (and optionally one of its queues), or a plugin and the store it delivers from. */
export type DashboardSource =
  | {
      /** The store to show. The dashboard never opens or closes it. */
      readonly store: QueueStore
      /** One queue; without it, counts and dead letters of every queue in the store. */
      readonly queue?: string
      readonly plugin?: undefined
    }
  | {
      /**
       * A `webhookPlugin()` instance: its queue, and its counts from
       * `plugin.stats()`, which adds `filtered`. Only `queue` and `stats()` are
       * read: never `settings`.
       */
      readonly plugin: Pick<WebhookPlugin, 'queue' | 'stats'>
      /** The store the plugin delivers from (the instance given as its `store` option, or another connection to the same file or database), for dead letters and workers' states. */
      readonly store: QueueStore
    }

/** How the dashboard runs. */
export interface DashboardSettings {
  /** The token every request must show. Default: a new random one, in `handler.token`. */
  readonly token?: string
  /** How often the shared reading of the queue is taken while a page watches. Default 2000 ms. */
  readonly intervalMs?: number
  /** A line the page shows under its title (e.g. which file); never put a secret here. */
  readonly label?: string
  /** The clock (tests). Default `Date.now`. */
  readonly now?: () => number
}

/** Options of {@link dashboard}. */
export type DashboardOptions = DashboardSource & DashboardSettings

/**
 * The dashboard as a web-standard handler (`await handler(request)` gives the
 * `Response`), with what an app needs around it.
 */
export interface DashboardHandler {
  (request: Request): Promise<Response>
  /** The token requests must show (`Authorization: Bearer …`, or the page opened once with `?token=…`). */
  readonly token: string
  /** Ends the live feeds and stops reading the queue. The store stays open (it is the caller's). */
  close(): Promise<void>
}

/**
 * The queue dashboard as a `(request: Request) => Promise<Response>`
 * handler, for any server that speaks web-standard requests (Hono, Bun, Deno,
 * workers), and through the adapters for `node:http`, Express and Fastify.
 * Every request must show the token: log in once with `?token=…` on the page
 * (an HttpOnly, SameSite=Strict cookie keeps it, and the address loses it),
 * or send `Authorization: Bearer …`. Routes are matched on the end of the
 * path and the page links relatively, so it works under any prefix; pass the
 * full request URL (with the prefix). The handler never reads the plugin's
 * settings, so no secret reaches the page or its API.
 *
 * @example
 * import { Hono } from 'hono'
 * import { dashboard } from '@analytics-webhooks/node-plugin/dashboard'
 * const board = dashboard({ store, queue: 'default', token: process.env.DASHBOARD_TOKEN })
 * const app = new Hono()
 * app.all('/webhooks/*', (c) => board(c.req.raw)) // open /webhooks/?token=…
 */
export function dashboard(options: DashboardOptions): DashboardHandler {
  const token = options.token ?? generateToken()
  if (token.length < 16)
    throw new TypeError('dashboard: the token must be at least 16 characters long')
  return createDashboard(options, { kind: 'token', token })
}

/** Routes, matched on the end of the path. */
const ROUTES = ['/api/stats', '/api/events', '/api/dead', '/api/dead/replay', '/api/dead/purge']

/** Largest action body read: an id or a reason fits many times over. */
const MAX_ACTION_BYTES = 16 * 1024

/**
 * {@link dashboard} with the access rule chosen by the caller: the `ui`
 * server passes `{ kind: 'loopback' }` when it listens only on this machine.
 *
 * @example
 * const handler = createDashboard({ store }, { kind: 'loopback' })
 */
export function createDashboard(options: DashboardOptions, access: Access): DashboardHandler {
  const { store } = options
  const queue = options.plugin ? options.plugin.queue : options.queue
  const plugin = options.plugin
  const now = options.now ?? Date.now
  const read = async (): Promise<QueueReading> => {
    const [stats, workers] = await Promise.all([
      plugin ? plugin.stats() : store.stats(queue),
      queue !== undefined && store.workerStates ? store.workerStates(queue) : null,
    ])
    return { stats, workers }
  }
  const sampler = new QueueSampler(read, options.intervalMs ?? 2_000, now)
  const feeds = new LiveFeeds(sampler)
  const page = dashboardPage()
  const context = { queue: queue ?? null, label: options.label ?? null }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const route = ROUTES.find((suffix) => url.pathname.endsWith(suffix))
    if (route === undefined) return servePage(request, url)
    if (!isAllowed(request, access))
      return json(401, { error: 'unauthorized', message: 'this dashboard needs its token' })
    const method = request.method
    switch (route) {
      case '/api/stats':
        if (method !== 'GET') return notAllowed('GET')
        return json(200, { ...context, ...(await sampler.current()) })
      case '/api/events':
        if (method !== 'GET') return notAllowed('GET')
        return feeds.open(await sampler.current(), context, baseHeaders())
      case '/api/dead':
        if (method !== 'GET') return notAllowed('GET')
        return answer(await deadPage(store, queue, url))
      default: {
        if (method !== 'POST') return notAllowed('POST')
        const refusal = crossSiteRefusal(request)
        if (refusal) return json(403, { error: 'cross_site', message: `refused: ${refusal}` })
        const input = await readJson(request)
        if (input === undefined) return json(400, { error: 'bad_request', message: 'not JSON' })
        const action = route === '/api/dead/replay' ? 'replay' : 'purge'
        const result = await deadAction(store, queue, action, input, now())
        // Everyone's counts move at once, rather than at the next interval.
        if (result.status === 200) void sampler.refresh()
        return answer(result)
      }
    }
  }

  function servePage(request: Request, url: URL): Response {
    if (request.method !== 'GET') return notAllowed('GET')
    const presented = url.searchParams.get('token')
    if (presented !== null) {
      // The token leaves the address bar (and the history) at once, whether or not it is right.
      url.searchParams.delete('token')
      const headers = baseHeaders()
      headers.set('location', `${url.pathname}${url.search}`)
      if (access.kind === 'token' && sameSecret(presented, access.token))
        headers.set('set-cookie', loginCookie(access.token, url.protocol === 'https:'))
      return new Response(null, { status: 303, headers })
    }
    // Relative links need the page at a directory: `/webhooks` becomes `/webhooks/`.
    if (!url.pathname.endsWith('/')) {
      const headers = baseHeaders()
      headers.set('location', `${url.pathname}/${url.search}`)
      return new Response(null, { status: 308, headers })
    }
    const headers = baseHeaders()
    headers.set('content-type', 'text/html; charset=utf-8')
    if (!isAllowed(request, access)) return new Response(LOGIN_PAGE, { status: 401, headers })
    headers.set('content-security-policy', page.csp)
    return new Response(page.html, { status: 200, headers })
  }

  const handler = async (request: Request): Promise<Response> => {
    try {
      return await handle(request)
    } catch (error) {
      // Store errors name the store and SQLite's or PostgreSQL's code, never a password.
      return json(503, { error: 'store_unavailable', message: asError(error).message })
    }
  }
  return Object.assign(handler, {
    token: access.kind === 'token' ? access.token : '',
    close: async () => {
      sampler.close()
      feeds.close()
    },
  })
}

/** Headers every answer carries: nothing is cached, sniffed, framed or sent on as a referrer (a `?token=` address must not leak). */
function baseHeaders(): Headers {
  return new Headers({
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  })
}

function json(status: number, body: unknown): Response {
  const headers = baseHeaders()
  headers.set('content-type', 'application/json; charset=utf-8')
  return new Response(JSON.stringify(body), { status, headers })
}

function answer({ status, body }: ApiAnswer): Response {
  return json(status, body)
}

function notAllowed(allow: string): Response {
  const response = json(405, { error: 'method_not_allowed', message: `use ${allow}` })
  response.headers.set('allow', allow)
  return response
}

async function readJson(request: Request): Promise<unknown> {
  const text = await request.text()
  if (text.length > MAX_ACTION_BYTES) return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
