// @vitest-environment happy-dom
/** What JSON serialisation does to event properties, as the README's "What JSON does to properties" says. */

import type { SegmentEvent } from '@analytics-webhooks/core'
import type { Context } from '@segment/analytics-next'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { WebhookEventMap } from '../events.js'
import { type WebhookPlugin, webhookPlugin } from '../plugin.js'
import type { Fetch } from '../send.js'

const HOOK = 'https://hooks.example.com/segment'

let plugin: WebhookPlugin | undefined

/** A loaded plugin whose fetch records each body and answers 200, and the dead reports it made. */
function start() {
  const bodies: string[] = []
  const fetch: Fetch = async (_, init) => {
    bodies.push(init.body as string)
    return new Response(null, { status: 200 })
  }
  plugin = webhookPlugin({ webhooks: [HOOK] }, { fetch })
  const dead: WebhookEventMap['dead'][] = []
  plugin.on('dead', (report) => dead.push(report))
  void plugin.load({} as Context, {} as never)
  return { plugin, bodies, dead }
}

const track = (messageId: string, properties: Record<PropertyKey, unknown>) =>
  ({
    event: { type: 'track', event: 'Shapes', messageId, anonymousId: 'a1', properties },
  }) as unknown as Context

// happy-dom has no Web Locks, so the plugin takes the localStorage lease, which it loads with
// import(): loaded here, before the clock is faked, as a page would have it by its first drain.
beforeAll(() => import('../lease-lock.js'))

beforeEach(() => {
  localStorage.clear()
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
})
afterEach(() => {
  plugin?.unload?.({} as Context, {} as never)
  vi.useRealTimers()
})

describe('properties: what JSON cannot carry is dropped, nulled or converted, never sent as is', () => {
  it('drops functions, Symbols and undefined from objects, sends null for them in arrays, and Dates as ISO strings', async () => {
    const { plugin, bodies } = start()
    plugin.track?.(
      track('m1', {
        kept: 1,
        fn: () => 1,
        sym: Symbol('s'),
        undef: undefined,
        [Symbol('key')]: 'symbol keys are skipped',
        list: [1, () => 1, Symbol('s'), undefined, 2],
        at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
        invalidDate: new Date(Number.NaN),
        nan: Number.NaN,
        infinity: Number.POSITIVE_INFINITY,
        map: new Map([['a', 1]]),
        set: new Set([1]),
      }),
    )
    await vi.advanceTimersByTimeAsync(150)
    expect(bodies).toHaveLength(1)
    expect((JSON.parse(bodies[0] ?? '') as SegmentEvent).properties).toEqual({
      kept: 1,
      list: [1, null, null, null, 2],
      at: '2026-01-02T03:04:05.006Z',
      invalidDate: null,
      nan: null,
      infinity: null,
      map: {},
      set: {},
    })
  })

  it('reports an event holding a BigInt dead (invalid_payload) at once, never queues or sends it', async () => {
    const { plugin, bodies, dead } = start()
    plugin.track?.(track('big', { amount: 10n }))
    plugin.track?.(track('after', { amount: 10 }))
    await vi.advanceTimersByTimeAsync(150)
    expect(dead).toEqual([
      {
        ids: ['big'],
        reason: 'invalid_payload',
        status: undefined,
        attempts: 0,
        detail: 'Invalid webhook payload: event: contains a BigInt value, which JSON cannot carry',
        body: '',
      },
    ])
    expect(bodies.map((body) => JSON.parse(body).messageId)).toEqual(['after'])
  })
})
