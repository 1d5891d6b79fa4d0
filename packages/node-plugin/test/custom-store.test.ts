/** A store written only from the README's interface section (the in-memory reference store), used by a real plugin end to end. */

import { requestId } from '@analytics-webhooks/core'
import type { Analytics } from '@segment/analytics-node'
import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type Received,
  type Receiver,
  startReceiver,
  testAnalytics,
} from '../src/__tests__/receiver.js'
import type { DeadEvent, DeliveredEvent, RetryEvent } from '../src/events.js'
import { type WebhookPlugin, webhookPlugin } from '../src/plugin.js'
import { MemoryQueueStore } from '../src/store/__tests__/memory-store.js'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const FAST = {
  retry: { baseDelayMs: 20, maxDelayMs: 100 },
  backoff: { baseDelayMs: 50, maxDelayMs: 200 },
  pollIntervalMs: 200,
}

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A receiver, and a plugin on a fresh MemoryQueueStore registered in a real analytics-node pipeline. */
async function pipeline(
  batchSize: number,
  answer?: Parameters<typeof startReceiver>[0],
  store = new MemoryQueueStore(),
): Promise<{
  receiver: Receiver
  analytics: Analytics
  plugin: WebhookPlugin
  store: MemoryQueueStore
}> {
  const receiver = await startReceiver(answer)
  cleanups.push(() => receiver.close())
  const plugin = webhookPlugin(
    { webhooks: [receiver.url], batchSize, sharedSecret: SECRET, signature: 'standard' },
    { ...FAST, store },
  )
  // The plugin never closes a store it was given: closed after it, as the README says.
  cleanups.push(async () => {
    await plugin.close()
    await store.close()
  })
  const analytics = testAnalytics()
  cleanups.push(() => analytics.closeAndFlush())
  await analytics.register(plugin)
  return { receiver, analytics, plugin, store }
}

function collect<K extends 'delivered' | 'retry' | 'dead'>(
  plugin: WebhookPlugin,
  name: K,
): (K extends 'delivered' ? DeliveredEvent : K extends 'retry' ? RetryEvent : DeadEvent)[] {
  const seen: unknown[] = []
  plugin.on(name, (e) => seen.push(e))
  return seen as never
}

/** The events a request carries, in body order (a batch is a JSON array). */
function eventsOf(request: Received): { messageId?: string; type: string }[] {
  const body: unknown = JSON.parse(request.body)
  return (Array.isArray(body) ? body : [body]) as { messageId?: string; type: string }[]
}

function webhookId(request: Received): string {
  return String(request.headers['webhook-id'])
}

/** Checks every request's Standard Webhooks signature and its id, and returns the bodies seen under each id. */
function bodiesById(receiver: Receiver): Map<string, string[]> {
  const byId = new Map<string, string[]>()
  for (const request of receiver.requests) {
    const headers = request.headers as Record<string, string>
    expect(new Webhook(SECRET).verify(request.body, headers)).toEqual(JSON.parse(request.body))
    const id = webhookId(request)
    byId.set(id, [...(byId.get(id) ?? []), request.body])
  }
  return byId
}

function track(analytics: Analytics, count: number, prefix: string): string[] {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
  for (const messageId of ids) analytics.track({ userId: 'u1', event: 'E', messageId })
  return ids
}

describe('a custom QueueStore written from the README, with batchSize 5', () => {
  it('delivers every tracked event once, in batches named by their events', async () => {
    const { receiver, analytics, plugin, store } = await pipeline(5)
    const sent = track(analytics, 12, 'ok')
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })

    for (const [id, bodies] of bodiesById(receiver)) {
      expect(bodies).toHaveLength(1)
      const body = JSON.parse(bodies[0] as string) as { messageId: string }[]
      expect(Array.isArray(body)).toBe(true)
      expect(body.length).toBeLessThanOrEqual(5)
      expect(id).toBe(requestId(body.map((e) => e.messageId)))
    }
    const received = receiver.requests.flatMap(eventsOf).map((e) => e.messageId)
    expect(received.sort()).toEqual([...sent].sort())
    const stats = await plugin.stats()
    expect(stats).toMatchObject({ delivered: 12, queued: 0, inFlight: 0, retried: 0, dead: 0 })
    expect(stats).toEqual({ ...(await store.stats('default')), filtered: 0 })
  })

  it('a batch answered 500 is retried with the same bytes under the same webhook-id', async () => {
    const { receiver, analytics, plugin } = await pipeline(5, (_request, index) =>
      index < 2 ? { status: 500 } : { status: 200 },
    )
    const retries = collect(plugin, 'retry')
    const sent = track(analytics, 5, 'retry')
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })

    const byId = bodiesById(receiver)
    const failedIds = receiver.requests.slice(0, 2).map(webhookId)
    for (const id of failedIds) {
      // Sent again after its failure (and delivered), every time as the very same bytes.
      const bodies = byId.get(id) as string[]
      expect(bodies.length).toBeGreaterThan(failedIds.filter((f) => f === id).length)
      expect(new Set(bodies).size).toBe(1)
    }
    // Each event travelled under one id only: no request was merged or re-cut.
    const idOf = new Map<string, string>()
    for (const [id, bodies] of byId) {
      for (const event of eventsOf({ body: bodies[0] } as Received)) {
        expect(idOf.get(event.messageId as string) ?? id).toBe(id)
        idOf.set(event.messageId as string, id)
      }
    }
    expect([...idOf.keys()].sort()).toEqual([...sent].sort())
    expect(retries.length).toBeGreaterThanOrEqual(1)
    const stats = await plugin.stats()
    expect(stats).toMatchObject({ delivered: 5, queued: 0, inFlight: 0, retrying: 0, dead: 0 })
    expect(stats.retried).toBe(retries.reduce((sum, r) => sum + r.ids.length, 0))
  })

  it('a batch that failed before a restart goes out as the same request, whatever the new batchSize', async () => {
    const first = await pipeline(5, () => ({ status: 500 }))
    const retries = collect(first.plugin, 'retry')
    const sent = track(first.analytics, 5, 'restart')
    await first.analytics.closeAndFlush()
    await first.receiver.waitFor(1)
    while (retries.length === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    await first.plugin.close()

    // The next process, on the same store, with another batch size and a destination that is back.
    const next = await pipeline(2, undefined, first.store)
    expect(await next.plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    const failed = first.receiver.requests[0] as Received
    expect(next.receiver.requests).toHaveLength(1)
    const [delivered] = next.receiver.requests as [Received]
    expect(delivered.body).toBe(failed.body)
    expect(delivered.headers['webhook-id']).toBe(failed.headers['webhook-id'])
    expect(
      eventsOf(delivered)
        .map((e) => e.messageId)
        .sort(),
    ).toEqual([...sent].sort())
    expect(await next.plugin.stats()).toMatchObject({ delivered: 5, queued: 0, dead: 0 })
  })

  it('a batch answered 400 ends as dead letters the store lists, with the bytes that were sent', async () => {
    const { receiver, analytics, plugin, store } = await pipeline(5, () => ({ status: 400 }))
    const deaths = collect(plugin, 'dead')
    const sent = track(analytics, 3, 'dead')
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })

    expect(deaths.flatMap((d) => d.ids)).toHaveLength(3)
    for (const death of deaths) {
      expect(death).toMatchObject({ reason: 'http_4xx', status: 400, attempts: 1 })
    }
    const letters = await store.listDead({ queue: 'default' })
    expect(letters.map((l) => l.id).sort()).toEqual(deaths.flatMap((d) => d.ids).sort())
    expect(letters.map((l) => l.messageId).sort()).toEqual([...sent].sort())
    const sentEvents = receiver.requests.flatMap((r) => JSON.parse(r.body) as unknown[])
    for (const letter of letters) {
      expect(letter).toMatchObject({ queue: 'default', reason: 'http_4xx', lastStatus: 400 })
      expect(letter.attempts).toBe(1)
      expect(sentEvents.map((e) => JSON.stringify(e))).toContain(letter.body)
    }
    const stats = await plugin.stats()
    expect(stats).toMatchObject({
      delivered: 0,
      queued: 0,
      inFlight: 0,
      dead: 3,
      deadByReason: { http_4xx: 3 },
    })
    expect(stats).toEqual({ ...(await store.stats('default')), filtered: 0 })
  })
})

describe('a custom QueueStore written from the README, with batchSize 1', () => {
  it('sends each event alone under its messageId, and a retry as the same bytes under the same id', async () => {
    const { receiver, analytics, plugin } = await pipeline(1, (_request, index) =>
      index === 0 ? { status: 500 } : { status: 200 },
    )
    const delivered = collect(plugin, 'delivered')
    const sent = track(analytics, 3, 'alone')
    await analytics.closeAndFlush()
    await plugin.delete({ userId: 'u1' })
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })

    const byId = bodiesById(receiver)
    for (const [id, bodies] of byId) {
      expect(new Set(bodies).size).toBe(1)
      const event = JSON.parse(bodies[0] as string) as { messageId?: string; type: string }
      expect(Array.isArray(event)).toBe(false)
      // A delete notification has no messageId: it goes under its queue id.
      const deleteId = delivered.find((d) => d.messageIds[0] === null)?.ids[0]
      expect(id).toBe(event.type === 'delete' ? deleteId : event.messageId)
    }
    expect(receiver.requests).toHaveLength(5)
    const first = webhookId(receiver.requests[0] as Received)
    expect(byId.get(first)).toHaveLength(2)
    expect(
      [...byId.values()]
        .map((bodies) => JSON.parse(bodies[0] as string).messageId)
        .filter(Boolean)
        .sort(),
    ).toEqual([...sent].sort())
    expect(await plugin.stats()).toMatchObject({
      delivered: 4,
      retried: 1,
      queued: 0,
      inFlight: 0,
      dead: 0,
    })
  })
})
