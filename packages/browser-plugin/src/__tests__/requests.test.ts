// @vitest-environment happy-dom
/** A request, from its first send until delivered or dead: the same events, bytes and id on every retry, the probe and a reload; split only on 413. */

import { createHmac } from 'node:crypto'
import { encodeEvent, requestId, type SegmentEvent } from '@analytics-webhooks/core'
import type { Context } from '@segment/analytics-next'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { WebhookEventMap, WebhookEventName } from '../events.js'
import type { WebhookSettingsInput } from '../index.js'
import { type WebhookPlugin, type WebhookPluginOptions, webhookPlugin } from '../plugin.js'
import type { Fetch } from '../send.js'

// The code a page loads with import() (batching, signing), loaded here once, so that the fake clock
// below never waits for a module.
await import('../batch.js')
await import('@analytics-webhooks/core/signing')

const HOOK = 'https://hooks.example.com/segment'
const SECRET = 'whsec_dGhpcyBpcyBhIHRlc3Qgc2VjcmV0'

/** One request as the receiver saw it. */
interface Call {
  body: string
  headers: Record<string, string>
  /** The messageIds of the events it carried, in order. */
  ids: string[]
  /** The queue's localStorage values when it went out. */
  stored: string[]
}

/** A receiver behind an injected fetch: records each request and answers with `answer`. */
function receiver(answer: (call: Call) => number | Promise<number> = () => 200) {
  const calls: Call[] = []
  const fetch: Fetch = async (_, init) => {
    const body = init.body as string
    const parsed = JSON.parse(body)
    const call = {
      body,
      headers: init.headers as Record<string, string>,
      ids: [parsed].flat().map((event: { messageId: string }) => event.messageId),
      stored: Object.keys(localStorage)
        .filter((key) => key.startsWith('analytics-webhooks:'))
        .map((key) => localStorage.getItem(key) as string),
    }
    calls.push(call)
    return new Response(null, { status: await answer(call) })
  }
  return { fetch, calls }
}

type Report = [WebhookEventName, WebhookEventMap[WebhookEventName]]
let plugins: WebhookPlugin[] = []

function start(settings: Partial<WebhookSettingsInput>, options: WebhookPluginOptions) {
  const plugin = webhookPlugin({ webhooks: [HOOK], ...settings }, options)
  const reports: Report[] = []
  for (const name of ['delivered', 'retry', 'dead', 'dropped'] as const) {
    plugin.on(name, (report) => reports.push([name, report]))
  }
  void plugin.load({} as Context, {} as never)
  plugins.push(plugin)
  return { plugin, reports }
}

/** Leaves the page: the plugin stops, what it stored stays. */
function leave(plugin: WebhookPlugin) {
  plugin.unload?.({} as Context, {} as never)
  plugins = plugins.filter((p) => p !== plugin)
}

let sequence = 0
const event = (fields: Record<string, unknown> = {}): SegmentEvent => ({
  type: 'track',
  event: 'Bought',
  messageId: `ajs-next-${++sequence}`,
  anonymousId: 'anon-1',
  timestamp: new Date(),
  ...fields,
})
const ctx = (e: SegmentEvent) => ({ event: e }) as unknown as Context
const track = (plugin: WebhookPlugin, events: SegmentEvent[]) => {
  for (const e of events) plugin.track?.(ctx(e))
}

const queued = () => Object.keys(localStorage).filter((k) => k.startsWith('analytics-webhooks:'))
const names = (reports: Report[]) => reports.map(([name]) => name)
/** How many events the `name` reports cover: core's reports come one per request, with an id per event. */
const eventsIn = (reports: Report[], name: 'delivered' | 'retry' | 'dead') =>
  reports.reduce(
    (sum, [n, r]) => sum + (n === name ? (r as { ids: readonly string[] }).ids.length : 0),
    0,
  )
const realTimeout = globalThis.setTimeout

/**
 * Moves the fake clock on `stepMs` at a time until `check` passes, letting real time pass too
 * between steps: signing runs on real WebCrypto.
 */
async function until(check: () => void, stepMs = 20): Promise<void> {
  for (let step = 0; ; step++) {
    try {
      return check()
    } catch (error) {
      if (step > 1_000) throw error
    }
    await vi.advanceTimersByTimeAsync(stepMs)
    await new Promise((resolve) => realTimeout(resolve, 1))
  }
}

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
  vi.spyOn(console, 'warn').mockImplementation(() => {}) // a secret in a browser is public
})
afterEach(() => {
  for (const plugin of plugins) plugin.unload?.({} as Context, {} as never)
  plugins = []
  vi.restoreAllMocks()
  vi.useRealTimers()
})

describe('a probe that cannot be signed', () => {
  it('counts as a failed probe: the next one is scheduled and the queue drains once signing works', async () => {
    let down = true
    const { fetch, calls } = receiver(() => (down ? 503 : 200))
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const { plugin, reports } = start({ sharedSecret: SECRET }, { fetch })
    const events = [event(), event(), event()]
    track(plugin, events)
    // Three failures put the destination in backoff.
    await until(() => expect(calls).toHaveLength(3))
    down = false
    // The probe's signing is refused once, as WebCrypto may (or its chunk may fail to load).
    const sign = vi.spyOn(crypto.subtle, 'sign').mockRejectedValueOnce(new Error('refused'))
    await until(() => expect(sign).toHaveBeenCalled(), 500)
    expect(calls).toHaveLength(3)
    await until(() => expect(eventsIn(reports, 'delivered')).toBe(3), 1000)
    expect(queued()).toEqual([])
  })
})

describe('a batch answered 500 is retried as it was', () => {
  it('byte for byte, under the same webhook-id and X-Signature, with one wait for its events, and nothing merged into it', async () => {
    const batch = [event(), event(), event()]
    const { fetch, calls } = receiver((call) =>
      call.ids.includes(batch[0]?.messageId as string) && calls.length === 1 ? 500 : 200,
    )
    setOnline(false)
    const { plugin, reports } = start(
      { batchSize: 3, sharedSecret: SECRET, signature: 'both' },
      { fetch },
    )
    track(plugin, batch)
    setOnline(true)
    await until(() => expect(reports).toHaveLength(1))
    const [first] = calls as [Call]
    expect(first.body).toBe(`[${batch.map(encodeEvent)}]`)
    // Stored as one request before it was sent, and waiting as one: one retry time for its events.
    expect(first.stored).toEqual([
      `[0,${Date.parse('2026-01-01')},${Date.parse('2026-01-01')},"${batch[0]?.messageId}",3]\n${first.body}`,
    ])
    // One report for the request, with core's fields: its events' ids and one retry time.
    expect(reports).toEqual([
      [
        'retry',
        {
          ids: batch.map((e) => e.messageId),
          reason: 'http_5xx',
          status: 500,
          attempts: 1,
          at: expect.any(Number),
        },
      ],
    ])
    const { at } = (reports[0] as [string, WebhookEventMap['retry']])[1]
    expect(queued()).toHaveLength(1)

    // Events tracked while the batch waits are sent apart, at once.
    const later = [event(), event()]
    track(plugin, later)
    await until(() => expect(calls).toHaveLength(2))
    expect(calls[1]?.ids).toEqual(later.map((e) => e.messageId))

    await vi.advanceTimersByTimeAsync(at - Date.now())
    await until(() => expect(calls).toHaveLength(3))
    const retried = calls[2] as Call
    expect(retried.body).toBe(first.body)
    expect(retried.headers['webhook-id']).toBe(first.headers['webhook-id'])
    expect(retried.headers['webhook-id']).toBe(requestId(batch.map((e) => e.messageId as string)))
    expect(retried.headers['webhook-id']).toMatch(/^batch_ajs-next-\d+_3_[0-9a-z]+$/)
    expect(retried.headers['X-Signature']).toBe(first.headers['X-Signature'])
    expect(retried.headers['X-Signature']).toBe(
      createHmac('sha1', SECRET)
        .update(encodeEvent(batch[0] as SegmentEvent))
        .digest('hex'),
    )
    await until(() => expect(eventsIn(reports, 'delivered')).toBe(5))
    expect(reports.filter(([n]) => n === 'delivered')).toEqual([
      [
        'delivered',
        {
          ids: later.map((e) => e.messageId),
          messageIds: later.map((e) => e.messageId),
          attempts: 1,
          status: 200,
        },
      ],
      [
        'delivered',
        {
          ids: batch.map((e) => e.messageId),
          messageIds: batch.map((e) => e.messageId),
          attempts: 2,
          status: 200,
        },
      ],
    ])
    expect(queued()).toEqual([])
  })

  it("is the same request on every retry, the destination's probe included", async () => {
    const { fetch, calls } = receiver(() => (calls.length <= 4 ? 503 : 200))
    setOnline(false)
    const { plugin, reports } = start(
      { batchSize: 2, signature: 'standard', sharedSecret: SECRET },
      { fetch },
    )
    track(plugin, [event(), event()])
    setOnline(true)
    // Three failures in a row put the destination in backoff; the fourth and fifth attempts are probes.
    await until(() => expect(names(reports)).toContain('delivered'), 500)
    expect(calls).toHaveLength(5)
    expect(new Set(calls.map((c) => c.body)).size).toBe(1)
    expect(new Set(calls.map((c) => c.headers['webhook-id'])).size).toBe(1)
    expect(reports.at(-1)).toEqual(['delivered', expect.objectContaining({ attempts: 5 })])
  })

  it('also after a reload: the next page sends the stored batch as it was, and sends events it queues apart', async () => {
    const batch = [event(), event(), event()]
    const first = receiver(() => 500)
    setOnline(false)
    const page1 = start(
      { batchSize: 5, sharedSecret: SECRET, signature: 'both' },
      { fetch: first.fetch },
    )
    track(page1.plugin, batch)
    setOnline(true)
    await until(() => expect(page1.reports).toHaveLength(1)) // one retry report for the batch
    await vi.advanceTimersByTimeAsync(200) // the drain ends and lets go of the lock
    leave(page1.plugin)

    const second = receiver()
    const page2 = start(
      { batchSize: 5, sharedSecret: SECRET, signature: 'both' },
      { fetch: second.fetch },
    )
    const meanwhile = [event(), event()]
    track(page2.plugin, meanwhile)
    await vi.advanceTimersByTimeAsync(2_000) // past the batch's retry time
    await until(() => expect(second.calls).toHaveLength(2))
    const [sent] = first.calls as [Call]
    const again = second.calls.find((c) => c.ids[0] === batch[0]?.messageId) as Call
    expect(again.body).toBe(sent.body)
    expect(again.headers['webhook-id']).toBe(sent.headers['webhook-id'])
    expect(again.headers['X-Signature']).toBe(sent.headers['X-Signature'])
    expect(second.calls.find((c) => c !== again)?.ids).toEqual(meanwhile.map((e) => e.messageId))
    await until(() => expect(eventsIn(page2.reports, 'delivered')).toBe(5))
  })

  it('is stored before its first send, so a page that goes away before the answer leaves it to the next page as it was', async () => {
    const { fetch, calls } = receiver(() => new Promise<number>(() => {})) // never answers
    setOnline(false)
    const { plugin } = start({ batchSize: 3 }, { fetch })
    const batch = [event(), event(), event()]
    track(plugin, batch)
    setOnline(true)
    await until(() => expect(calls).toHaveLength(1))
    const [inFlight] = calls as [Call]
    expect(inFlight.stored).toHaveLength(1)
    expect(inFlight.stored[0]?.endsWith(`\n${inFlight.body}`)).toBe(true)
    leave(plugin)

    // The next page of the same site: its own storage key here, as the first page's drain never ends.
    const [key] = queued() as [string]
    localStorage.setItem(
      key.replace('analytics-webhooks:', 'next:'),
      localStorage.getItem(key) as string,
    )
    const next = receiver()
    const page = start({ batchSize: 3 }, { fetch: next.fetch, storageKey: 'next' })
    track(page.plugin, [event()])
    await until(() => expect(next.calls).toHaveLength(2))
    expect(next.calls[0]?.body).toBe(inFlight.body)
    expect(next.calls[1]?.ids).toHaveLength(1)
  })
})

describe('413 Payload Too Large: the one exception', () => {
  /** An event whose JSON is about `size` characters. */
  const sized = (size: number) => event({ properties: { pad: 'x'.repeat(size) } })

  it('splits a batch into halves, each a new request with its own id, sent at once, until every event is delivered once', async () => {
    const limit = 2_500
    const { fetch, calls } = receiver((call) => (call.body.length > limit ? 413 : 200))
    setOnline(false)
    const { plugin, reports } = start(
      { batchSize: 10, sharedSecret: SECRET, signature: 'standard' },
      { fetch },
    )
    const events = Array.from({ length: 5 }, () => sized(900))
    track(plugin, events)
    setOnline(true)
    await until(() => expect(eventsIn(reports, 'delivered')).toBe(5))
    // 5 (too large) -> 3 (too large) + 2; 3 -> 2 + 1.
    expect(calls.map((c) => [c.ids.length, c.body.length > limit ? 413 : 200])).toEqual([
      [5, 413],
      [3, 413],
      [2, 200],
      [1, 200],
      [2, 200],
    ])
    const ids = calls.map((c) => c.headers['webhook-id'])
    expect(new Set(ids).size).toBe(calls.length)
    const accepted = calls.filter((c) => c.body.length <= limit)
    expect(accepted.flatMap((c) => c.ids).sort()).toEqual(events.map((e) => e.messageId).sort())
    for (const c of accepted) expect(c.headers['webhook-id']).toBe(requestId(c.ids))
    // One retry report per request split, covering its events.
    expect(names(reports).filter((n) => n === 'retry')).toHaveLength(2)
    expect(eventsIn(reports, 'retry')).toBe(5 + 3)
    expect(reports.find(([n]) => n === 'retry')?.[1]).toMatchObject({
      ids: events.map((e) => e.messageId),
      reason: 'http_413',
      status: 413,
      attempts: 1,
    })
    expect(names(reports)).not.toContain('dead')
    expect(queued()).toEqual([])
  })

  it.each([
    ['alone', 1],
    ['as a batch of one', 10],
  ])('gives up one event answered 413 (%s): dead, http_413', async (_, batchSize) => {
    const { fetch, calls } = receiver(() => 413)
    const { plugin, reports } = start({ batchSize }, { fetch })
    const big = sized(150_000)
    plugin.track?.(ctx(big))
    await until(() => expect(reports).toHaveLength(1))
    await vi.advanceTimersByTimeAsync(60_000)
    expect(calls).toHaveLength(1)
    expect(reports).toEqual([
      [
        'dead',
        {
          ids: [big.messageId],
          reason: 'http_413',
          status: 413,
          attempts: 1,
          detail: null,
          body: batchSize > 1 ? `[${encodeEvent(big)}]` : encodeEvent(big),
        },
      ],
    ])
    expect(queued()).toEqual([])
  })
})

describe('events stored by the previous release', () => {
  // What the previous release wrote: [attempts, enqueuedAt, nextAt, messageId], then the event.
  function storeOld(attempts: number, e: SegmentEvent, n: number) {
    const at = Date.now() - 60_000
    localStorage.setItem(
      `analytics-webhooks:${at.toString(36).padStart(9, '0')}0${n}abcdef`,
      `${JSON.stringify([attempts, at, at, e.messageId])}\n${encodeEvent(e)}`,
    )
  }

  it.each([
    [1, [1, 1, 1]],
    [3, [3]],
  ])(
    'are delivered after the upgrade (batchSize %i), never sent ones and retried ones alike',
    async (batchSize, sizes) => {
      const old = [event(), event(), event()]
      for (const [i, e] of old.entries()) storeOld(i === 1 ? 2 : 0, e, i) // the second failed twice
      const { fetch, calls } = receiver()
      const { reports } = start({ batchSize }, { fetch })
      await until(() => expect(eventsIn(reports, 'delivered')).toBe(3))
      expect(names(reports)).toEqual(sizes.map(() => 'delivered')) // one report per request
      expect(calls.map((c) => c.ids.length)).toEqual(sizes)
      expect(calls.flatMap((c) => c.ids)).toEqual(old.map((e) => e.messageId))
      expect(
        calls.flatMap((c) => [JSON.parse(c.body)].flat().map((e) => JSON.stringify(e))),
      ).toEqual(old.map(encodeEvent))
      expect(queued()).toEqual([])
    },
  )
})
