/** Choosing what a destination gets, through real analytics-node pipelines: the `events` setting, the `transform` option, and two plugins routing events to two receivers. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Analytics } from '@segment/analytics-node'
import { afterEach, describe, expect, it } from 'vitest'
import type { DeadEvent } from '../events.js'
import type { WebhookPluginOptions } from '../options.js'
import { type WebhookPlugin, webhookPlugin } from '../plugin.js'
import { type Receiver, specSignature, startReceiver, testAnalytics } from './receiver.js'

const SECRET = 'filter-test-secret'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function receiver(): Promise<Receiver> {
  const started = await startReceiver()
  cleanups.push(() => started.close())
  return started
}

/** A plugin on a fresh SQLite file, signing with SECRET, registered on `analytics`. */
async function plugin(
  analytics: Analytics,
  settings: { webhooks: string[]; events?: unknown },
  options: WebhookPluginOptions = {},
): Promise<WebhookPlugin> {
  const dir = mkdtempSync(join(tmpdir(), 'aw-filter-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const created = webhookPlugin({ ...settings, sharedSecret: SECRET } as never, {
    pollIntervalMs: 100,
    store: { sqlite: { path: join(dir, 'queue.sqlite') } },
    ...options,
  })
  cleanups.push(() => created.close())
  await analytics.register(created)
  return created
}

function pipeline(): Analytics {
  const analytics = testAnalytics()
  cleanups.push(() => analytics.closeAndFlush({ timeout: 1000 }))
  return analytics
}

/** One of each call, with a track the filters below tell apart by name. */
function sendEveryCall(analytics: Analytics): void {
  analytics.track({ userId: 'u1', event: 'Order Completed', messageId: 'track-order' })
  analytics.track({ userId: 'u1', event: 'Heartbeat', messageId: 'track-heartbeat' })
  analytics.identify({ userId: 'u1', traits: { plan: 'pro' }, messageId: 'identify' })
  analytics.page({ userId: 'u1', name: 'Home', messageId: 'page' })
  analytics.screen({ userId: 'u1', name: 'Settings', messageId: 'screen' })
  analytics.group({ userId: 'u1', groupId: 'g1', messageId: 'group' })
  analytics.alias({ userId: 'u1', previousId: 'anon-1', messageId: 'alias' })
}

const arrived = (r: Receiver) => r.requests.map((request) => JSON.parse(request.body).messageId)

describe('the events setting', () => {
  it.each([
    [{ include: ['track:Order Completed', 'identify'] }, ['track-order', 'identify']],
    [
      { exclude: ['track:Heartbeat', 'page', 'screen'] },
      ['track-order', 'identify', 'group', 'alias'],
    ],
    [{ include: ['track', 'alias'], exclude: ['track:Heartbeat'] }, ['track-order', 'alias']],
  ])(
    '%j: only the chosen calls arrive; the rest are counted, never stored',
    async (events, chosen) => {
      const hook = await receiver()
      const analytics = pipeline()
      const webhooks = await plugin(analytics, { webhooks: [hook.url], events })
      sendEveryCall(analytics)
      await analytics.closeAndFlush({ timeout: 5000 })
      expect(await webhooks.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      expect(arrived(hook).sort()).toEqual([...chosen].sort())
      const stats = await webhooks.stats()
      // Only the chosen ones ever reached the store: delivered; nothing queued or dead.
      expect(stats).toMatchObject({ delivered: chosen.length, queued: 0, dead: 0 })
      expect(stats.filtered).toBe(7 - chosen.length)
    },
  )

  it('delete notifications are a call type like the others', async () => {
    const hook = await receiver()
    const analytics = pipeline()
    const kept = await plugin(analytics, { webhooks: [hook.url], events: { include: ['delete'] } })
    const other = await receiver()
    const left = await plugin(analytics, { webhooks: [other.url], events: { exclude: ['delete'] } })
    await kept.delete({ userId: 'u1' })
    await left.delete({ userId: 'u1' })
    await kept.drain({ timeoutMs: 10_000 })
    await left.drain({ timeoutMs: 10_000 })
    expect(hook.requests.map((r) => JSON.parse(r.body).type)).toEqual(['delete'])
    expect(other.requests).toEqual([])
    expect((await left.stats()).filtered).toBe(1)
  })

  it('a bad entry is a SettingsError naming it', () => {
    expect(() =>
      webhookPlugin(
        { webhooks: ['http://127.0.0.1:9/hook'], events: { include: ['track', 'indentify'] } },
        { store: { sqlite: { path: ':memory:' } } },
      ),
    ).toThrow(
      'Invalid webhook settings: events.include[1]: "indentify" is not a call type or track:<event name>, did you mean identify?',
    )
  })
})

describe('the transform option', () => {
  it('renames a field: the receiver gets the transformed bytes, signed', async () => {
    const hook = await receiver()
    const analytics = pipeline()
    const webhooks = await plugin(
      analytics,
      { webhooks: [hook.url] },
      {
        transform: ({ userId, ...payload }) => ({ ...payload, user_id: userId }),
      },
    )
    analytics.track({ userId: 'u1', event: 'Signed Up', messageId: 'm1' })
    await analytics.closeAndFlush({ timeout: 5000 })
    await webhooks.drain({ timeoutMs: 10_000 })
    const [request] = hook.requests
    const body = JSON.parse(request?.body ?? '{}')
    expect(body).toMatchObject({
      type: 'track',
      event: 'Signed Up',
      user_id: 'u1',
      messageId: 'm1',
    })
    expect(body).not.toHaveProperty('userId')
    expect(request?.headers['x-signature']).toBe(specSignature(SECRET, request?.body ?? ''))
  })

  it('null skips an event (counted); a throw dead-letters that event with its detail, and the next is delivered', async () => {
    const hook = await receiver()
    const analytics = pipeline()
    const webhooks = await plugin(
      analytics,
      { webhooks: [hook.url] },
      {
        transform: (payload) => {
          if (payload.event === 'Heartbeat') return null
          if (payload.event === 'Broken') throw new Error('no mapping for Broken')
          return payload
        },
      },
    )
    const dead: DeadEvent[] = []
    webhooks.on('dead', (event) => dead.push(event))
    for (const event of ['Heartbeat', 'Broken', 'Signed Up']) {
      analytics.track({ userId: 'u1', event, messageId: event })
    }
    await analytics.closeAndFlush({ timeout: 5000 })
    expect(await webhooks.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    expect(arrived(hook)).toEqual(['Signed Up'])
    expect(dead).toHaveLength(1)
    expect(dead[0]).toMatchObject({ reason: 'invalid_payload', attempts: 0 })
    expect(dead[0]?.detail).toContain(
      'Invalid webhook payload: transform: threw: no mapping for Broken',
    )
    const stats = await webhooks.stats()
    expect(stats).toMatchObject({
      delivered: 1,
      dead: 1,
      filtered: 1,
      deadByReason: { invalid_payload: 1 },
    })
  })

  it('is checked when the plugin is created', () => {
    expect(() =>
      webhookPlugin(
        { webhooks: ['http://127.0.0.1:9/hook'] },
        { store: { sqlite: { path: ':memory:' } }, transform: 'rename' as never },
      ),
    ).toThrow('Invalid option transform: must be a function')
  })
})

describe('routing', () => {
  it('two plugins with different events on one analytics-node send each receiver its own events', async () => {
    const orders = await receiver()
    const people = await receiver()
    const analytics = pipeline()
    const toOrders = await plugin(
      analytics,
      { webhooks: [orders.url], events: { include: ['track:Order Completed'] } },
      { queue: 'orders' },
    )
    const toPeople = await plugin(
      analytics,
      { webhooks: [people.url], events: { include: ['identify', 'alias'] } },
      { queue: 'people' },
    )
    sendEveryCall(analytics)
    await analytics.closeAndFlush({ timeout: 5000 })
    await toOrders.drain({ timeoutMs: 10_000 })
    await toPeople.drain({ timeoutMs: 10_000 })
    expect(arrived(orders)).toEqual(['track-order'])
    expect(arrived(people).sort()).toEqual(['alias', 'identify'])
  })
})
