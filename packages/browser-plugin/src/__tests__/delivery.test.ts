// @vitest-environment happy-dom
/** Delivery from the page: queued before sending, fan-out, retries, backoff, offline, page hide and reports. */

import {
  DESTINATION_NAME,
  type DeliveryReports,
  encodeEvent,
  type SegmentEvent,
  WebhookError,
} from '@analytics-webhooks/core'
import type { Context } from '@segment/analytics-next'
import { afterEach, beforeAll, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { BrowserWebhookError } from '../errors.js'
import type { WebhookEventMap, WebhookEventName } from '../events.js'
import type { WebhookSettingsInput } from '../index.js'
import { type WebhookPlugin, type WebhookPluginOptions, webhookPlugin } from '../plugin.js'
import type { Fetch } from '../send.js'

// A page that batches loads the batching code with import(); loaded here once, so that the fake
// clock below never has to wait for a module to load.
await import('../batch.js')

const HOOK = 'https://hooks.example.com/segment'
const OTHER = 'https://other.example.com/segment'

interface Call {
  url: string
  init: RequestInit
  body: unknown
  /** The queue's localStorage values at the moment the request went out. */
  stored: string[]
}

/** A receiver behind an injected fetch: records each request and answers with `answer`. */
function receiver(answer: (call: Call, n: number) => Response | Promise<Response> = () => ok()) {
  const calls: Call[] = []
  const fetch: Fetch = async (url, init) => {
    const stored = Object.keys(localStorage)
      .filter((k) => k.startsWith('analytics-webhooks:'))
      .map((k) => localStorage.getItem(k) as string)
    const call = { url, init, body: JSON.parse(init.body as string), stored }
    calls.push(call)
    return answer(call, calls.length)
  }
  return { fetch, calls }
}

const ok = () => new Response(null, { status: 200 })
const status = (code: number, headers?: Record<string, string>) =>
  new Response(null, { status: code, ...(headers ? { headers } : {}) })

let plugins: WebhookPlugin[] = []

function start(
  settings: Partial<WebhookSettingsInput>,
  options: WebhookPluginOptions,
): {
  plugin: WebhookPlugin
  reports: Array<[WebhookEventName, WebhookEventMap[WebhookEventName]]>
} {
  const plugin = webhookPlugin({ webhooks: [HOOK], ...settings }, options)
  const reports: Array<[WebhookEventName, WebhookEventMap[WebhookEventName]]> = []
  for (const name of ['delivered', 'retry', 'dead', 'dropped'] as const) {
    plugin.on(name, (report) => reports.push([name, report]))
  }
  void plugin.load({} as Context, {} as never)
  plugins.push(plugin)
  return { plugin, reports }
}

let sequence = 0
function event(type: string, fields: Record<string, unknown> = {}): SegmentEvent {
  return {
    type,
    messageId: `ajs-next-${++sequence}`,
    anonymousId: 'anon-1',
    timestamp: new Date(),
    context: { page: { path: '/pricing' } },
    _metadata: { bundled: [] },
    ...fields,
  }
}

const ctx = (e: SegmentEvent) => ({ event: e }) as unknown as Context

/** Lets the queued drain run: the lease lock settles for 100 ms before a drain starts. */
const tick = (ms = 150) => vi.advanceTimersByTimeAsync(ms)

const queued = () => Object.keys(localStorage).filter((k) => k.startsWith('analytics-webhooks:'))

function setOnline(online: boolean) {
  vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(online)
  if (online) window.dispatchEvent(new Event('online'))
}

// happy-dom has no Web Locks, so the plugin takes the localStorage lease, which it loads with
// import(): loaded here, before the clock is faked, as a page would have it by its first drain.
beforeAll(() => import('../lease-lock.js'))

beforeEach(() => {
  localStorage.clear()
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
})
afterEach(() => {
  for (const plugin of plugins) plugin.unload?.({} as Context, {} as never)
  plugins = []
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('every call is written to the persisted queue before it is sent', () => {
  it('sends the encoded event once, with the right request, and then forgets it', async () => {
    const { fetch, calls } = receiver()
    const { plugin, reports } = start({ headers: { 'X-Team': 'growth' } }, { fetch })
    const e = event('track', { event: 'Signed Up', properties: { plan: 'pro' } })
    const before = structuredClone(e)
    plugin.track?.(ctx(e))
    expect(queued()).toHaveLength(1) // stored synchronously, before any send
    await tick()

    expect(calls).toHaveLength(1)
    const [call] = calls as [Call]
    expect(call.url).toBe(HOOK)
    expect(call.init.body).toBe(encodeEvent(e))
    expect(call.body).toMatchObject({ version: 1, type: 'track', event: 'Signed Up' })
    expect(call.body).not.toHaveProperty('_metadata')
    expect(call.stored.some((value) => value.endsWith(`\n${encodeEvent(e)}`))).toBe(true)
    expect(call.init).toMatchObject({
      method: 'POST',
      keepalive: true,
      credentials: 'omit',
      redirect: 'manual',
    })
    expect(call.init.headers).toEqual({ 'Content-Type': 'application/json', 'X-Team': 'growth' })
    expect(e).toEqual(before) // ctx.event is shared with other destinations: never mutated
    expect(queued()).toEqual([])
    expect(reports).toEqual([
      ['delivered', { ids: [e.messageId], messageIds: [e.messageId], attempts: 1, status: 200 }],
    ])
  })

  it('handles all six event types', async () => {
    const { fetch, calls } = receiver()
    const { plugin } = start({}, { fetch })
    plugin.page?.(ctx(event('page', { name: 'Pricing' })))
    plugin.screen?.(ctx(event('screen', { name: 'Main' })))
    plugin.identify?.(ctx(event('identify', { userId: 'u1', traits: { plan: 'pro' } })))
    plugin.track?.(ctx(event('track', { event: 'Bought' })))
    plugin.alias?.(ctx(event('alias', { userId: 'u1', previousId: 'anon-1' })))
    plugin.group?.(ctx(event('group', { groupId: 'g1' })))
    await tick()
    await tick()
    expect(calls.map((c) => (c.body as { type: string }).type)).toEqual([
      'page',
      'screen',
      'identify',
      'track',
      'alias',
      'group',
    ])
  })

  it('sends persisted events left by an earlier page load', async () => {
    setOnline(false)
    const first = start({}, { fetch: receiver().fetch })
    first.plugin.track?.(ctx(event('track', { event: 'Before reload' })))
    await tick(500) // the first page's drains finish (offline: nothing sent)
    first.plugin.unload?.({} as Context, {} as never)
    expect(queued()).toHaveLength(1)

    vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(true)
    const { fetch, calls } = receiver()
    start({}, { fetch })
    await tick()
    expect(calls.map((c) => (c.body as { event: string }).event)).toEqual(['Before reload'])
    expect(queued()).toEqual([])
  })

  it('dead-letters an event that cannot be serialised, without queueing it', async () => {
    const { fetch, calls } = receiver()
    const { plugin, reports } = start({}, { fetch })
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const e = event('track', { properties: circular })
    plugin.track?.(ctx(e))
    await tick()
    expect(calls).toEqual([])
    expect(queued()).toEqual([])
    expect(reports).toEqual([
      [
        'dead',
        {
          ids: [e.messageId],
          reason: 'invalid_payload',
          status: undefined,
          attempts: 0,
          detail: expect.stringContaining('circular reference'),
          body: '',
        },
      ],
    ])
  })
})

describe('fan-out: one delivery goes to every URL at once', () => {
  it('is delivered when any URL answers 2xx, and not retried anywhere', async () => {
    const { fetch, calls } = receiver((call) => (call.url === HOOK ? status(500) : ok()))
    const { plugin, reports } = start({ webhooks: [HOOK, OTHER] }, { fetch })
    plugin.track?.(ctx(event('track')))
    await tick()
    await tick(60_000)
    expect(calls.map((c) => c.url).sort()).toEqual([HOOK, OTHER].sort())
    expect(reports.map(([name]) => name)).toEqual(['delivered'])
  })
})

describe('retries', () => {
  it("retries a temporary failure no sooner than Retry-After, keeping the event's attempts in storage", async () => {
    const { fetch, calls } = receiver((_, n) =>
      n === 1 ? status(503, { 'Retry-After': '30' }) : ok(),
    )
    const { plugin, reports } = start({}, { fetch })
    plugin.track?.(ctx(event('track')))
    await tick()
    const sentAt = Date.now()
    expect(reports[0]).toEqual([
      'retry',
      expect.objectContaining({ reason: 'http_5xx', status: 503, attempts: 1 }),
    ])
    const { at: retryAt } = (reports[0] as [string, WebhookEventMap['retry']])[1]
    expect(retryAt).toBeGreaterThanOrEqual(sentAt - 150 + 30_000)
    expect(localStorage.getItem(queued()[0] as string)).toMatch(/^\[1,/)

    await tick(25_000)
    expect(calls).toHaveLength(1)
    await tick(retryAt - Date.now() + 200)
    expect(calls).toHaveLength(2)
    expect(reports.at(-1)).toEqual(['delivered', expect.objectContaining({ attempts: 2 })])
    expect(queued()).toEqual([])
  })

  it('dead-letters a permanent failure at once', async () => {
    const { fetch, calls } = receiver(() => status(400))
    const { plugin, reports } = start({}, { fetch })
    plugin.track?.(ctx(event('track')))
    await tick()
    await tick(60_000)
    expect(calls).toHaveLength(1)
    expect(reports).toEqual([
      ['dead', expect.objectContaining({ reason: 'http_4xx', status: 400, attempts: 1 })],
    ])
    expect(queued()).toEqual([])
  })

  it('gives up with `expired` when the retry window closes', async () => {
    const { fetch, calls } = receiver(() => status(503))
    const { plugin, reports } = start({ retryWindowMs: 60_000 }, { fetch })
    plugin.track?.(ctx(event('track')))
    for (let i = 0; i < 30; i++) await tick(5_000)
    expect(calls.length).toBeGreaterThan(2)
    expect(reports.at(-1)).toEqual(['dead', expect.objectContaining({ reason: 'expired' })])
    expect(reports.filter(([name]) => name === 'dead')).toHaveLength(1)
    expect(queued()).toEqual([])
  })

  it('treats an exchange longer than timeoutMs as a timeout', async () => {
    const hang: Fetch = (_, init) =>
      new Promise((_, reject) => {
        init.signal?.addEventListener('abort', () =>
          reject(new DOMException('aborted', 'AbortError')),
        )
      })
    const { plugin, reports } = start({ timeoutMs: 1_000 }, { fetch: hang })
    plugin.track?.(ctx(event('track')))
    await tick(900)
    expect(reports).toEqual([])
    await tick(300)
    expect(reports).toEqual([['retry', expect.objectContaining({ reason: 'timeout' })]])
  })

  it('backs off as a whole when every URL keeps failing, instead of retrying each event', async () => {
    setOnline(false)
    const { fetch, calls } = receiver(() => status(503))
    const { plugin } = start({}, { fetch })
    for (let i = 0; i < 8; i++) plugin.track?.(ctx(event('track')))
    setOnline(true)
    await tick()
    expect(calls).toHaveLength(3) // the threshold: then it stops and probes
    expect(queued()).toHaveLength(8)
  })

  it('sends batches as JSON arrays when batchSize > 1', async () => {
    setOnline(false)
    const { fetch, calls } = receiver()
    const { plugin } = start({ batchSize: 3 }, { fetch })
    for (let i = 0; i < 5; i++) plugin.track?.(ctx(event('track', { event: `e${i}` })))
    setOnline(true)
    await tick()
    expect(calls.map((c) => (c.body as Array<{ event: string }>).map((e) => e.event))).toEqual([
      ['e0', 'e1', 'e2'],
      ['e3', 'e4'],
    ])
  })
})

describe('offline', () => {
  it('sends nothing while navigator.onLine is false, and resumes on `online`', async () => {
    setOnline(false)
    const { fetch, calls } = receiver()
    const { plugin, reports } = start({}, { fetch })
    plugin.track?.(ctx(event('track')))
    plugin.page?.(ctx(event('page')))
    await tick(60_000)
    expect(calls).toEqual([])
    expect(queued()).toHaveLength(2)

    setOnline(true)
    await tick()
    expect(calls.map((c) => (c.body as { type: string }).type)).toEqual(['track', 'page'])
    expect(reports.map(([name]) => name)).toEqual(['delivered', 'delivered'])
  })

  it('stops mid-drain when the browser goes offline', async () => {
    let online = false
    vi.spyOn(navigator, 'onLine', 'get').mockImplementation(() => online)
    const { fetch, calls } = receiver(() => {
      online = false // the connection drops while the first request is answered
      return ok()
    })
    const { plugin } = start({}, { fetch })
    for (let i = 0; i < 3; i++) plugin.track?.(ctx(event('track')))
    online = true
    await tick()
    expect(calls).toHaveLength(1)
    expect(queued()).toHaveLength(2)

    online = true
    window.dispatchEvent(new Event('online'))
    await tick()
    expect(calls.length).toBeGreaterThan(1)
  })
})

describe('several tabs and leaving the page', () => {
  it("leaves the queue to the tab holding the lock, and flushes on pagehide once it's free", async () => {
    localStorage.setItem(
      'analytics-webhooks.lock',
      JSON.stringify(['other-tab', Date.now() + 60_000]),
    )
    const { fetch, calls } = receiver()
    const { plugin } = start({}, { fetch })
    plugin.track?.(ctx(event('track')))
    await tick(150)
    expect(calls).toEqual([])
    expect(queued()).toHaveLength(1)

    localStorage.removeItem('analytics-webhooks.lock') // the other tab finished
    window.dispatchEvent(new Event('pagehide'))
    await tick(150) // well before this tab's own 1 s lock retry
    expect(calls).toHaveLength(1)
  })

  it('flushes when the page becomes hidden', async () => {
    localStorage.setItem(
      'analytics-webhooks.lock',
      JSON.stringify(['other-tab', Date.now() + 60_000]),
    )
    const { fetch, calls } = receiver()
    const { plugin } = start({}, { fetch })
    plugin.track?.(ctx(event('track')))
    await tick(150)
    localStorage.removeItem('analytics-webhooks.lock')
    vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden')
    document.dispatchEvent(new Event('visibilitychange'))
    await tick(150)
    expect(calls).toHaveLength(1)
  })
})

describe('reports', () => {
  it("are core's delivered, retry and dead reports, the node plugin's fields, one per request", () => {
    expectTypeOf<WebhookEventMap['delivered']>().toEqualTypeOf<DeliveryReports['delivered']>()
    expectTypeOf<WebhookEventMap['retry']>().toEqualTypeOf<DeliveryReports['retry']>()
    // `dead` adds the request's body: a browser keeps no dead-letter store.
    expectTypeOf<WebhookEventMap['dead']>().toEqualTypeOf<
      DeliveryReports['dead'] & { readonly body: string }
    >()
  })

  it('reports the oldest events dropped when the queue is full', async () => {
    setOnline(false)
    const { plugin, reports } = start({}, { fetch: receiver().fetch, maxQueueEvents: 2 })
    const events = [event('track'), event('track'), event('track')]
    for (const e of events) plugin.track?.(ctx(e))
    expect(reports).toEqual([
      [
        'dropped',
        expect.objectContaining({ messageId: events[0]?.messageId, reason: 'queue_full' }),
      ],
    ])
    expect(queued()).toHaveLength(2)
  })

  it('keeps delivering when a listener throws, and stops calling a listener after `off`', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { fetch, calls } = receiver()
    const { plugin, reports } = start({}, { fetch })
    plugin.on('delivered', () => {
      throw new Error('listener bug')
    })
    const seen: string[] = []
    const off = plugin.on('delivered', (r) => seen.push(...r.ids))
    plugin.track?.(ctx(event('track')))
    await tick()
    off()
    plugin.track?.(ctx(event('track')))
    await tick()
    expect(calls).toHaveLength(2)
    expect(reports).toHaveLength(2)
    expect(seen).toHaveLength(1)
    expect(error).toHaveBeenCalledTimes(2)
  })
})

describe('settings', () => {
  it('validates settings with core and names the field', () => {
    expect(() => webhookPlugin({ webhooks: [] })).toThrow(
      expect.objectContaining({ code: 'too_few', field: 'webhooks' }),
    )
    expect(() =>
      webhookPlugin({ webhooks: [HOOK], headers: { 'Content-Type': 'text/plain' } }),
    ).toThrow(expect.objectContaining({ code: 'reserved_header' }))
  })

  it("validates the browser options, with core's coded error naming the option and the rule", () => {
    for (const [options, message] of [
      [{ maxQueueEvents: 0 }, 'maxQueueEvents: must be a positive whole number'],
      [{ maxQueueChars: 1.5 }, 'maxQueueChars: must be a positive whole number'],
    ] as const) {
      let error: unknown
      try {
        webhookPlugin({ webhooks: [HOOK] }, options)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(BrowserWebhookError)
      expect(error).toBeInstanceOf(WebhookError)
      expect(error).toMatchObject({ code: 'invalid_option', name: 'BrowserWebhookError', message })
    }
  })

  it("is an analytics-next destination plugin named as core names it: Segment's Webhooks", () => {
    const plugin = webhookPlugin({ webhooks: [HOOK] }, { fetch: receiver().fetch })
    expect(plugin).toMatchObject({ name: DESTINATION_NAME, type: 'destination' })
    expect(plugin.name).toBe('Webhooks')
    expect(plugin.isLoaded()).toBe(false)
    void plugin.load({} as Context, {} as never)
    plugins.push(plugin)
    expect(plugin.isLoaded()).toBe(true)
  })
})
