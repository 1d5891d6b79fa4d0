/** maxRequestsPerSecond: the destination never gets more requests per second than asked, and a 429 without Retry-After slows the sender down, then it speeds up again. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { busiestWindow } from '@analytics-webhooks/testing/windows'
import { afterEach, describe, expect, it } from 'vitest'
import { WebhookPluginError } from '../errors.js'
import { webhookPlugin } from '../plugin.js'
import { type Receiver, startReceiver, testAnalytics } from './receiver.js'

describe('maxRequestsPerSecond', () => {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function pipeline(url: string, maxRequestsPerSecond: number) {
    const dir = mkdtempSync(join(tmpdir(), 'aw-rate-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const plugin = webhookPlugin(
      { webhooks: [url] },
      {
        store: { sqlite: { path: join(dir, 'queue.sqlite') } },
        maxRequestsPerSecond,
        retry: { baseDelayMs: 20, maxDelayMs: 50 },
      },
    )
    cleanups.push(() => plugin.close())
    const analytics = testAnalytics()
    cleanups.push(() => analytics.closeAndFlush())
    await analytics.register(plugin)
    return { analytics, plugin }
  }

  async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
    const r = await startReceiver(...args)
    cleanups.push(() => r.close())
    return r
  }

  it('1,000 events at 200 per second take at least 4.5 s, and no second holds more than 200 requests', {
    timeout: 30_000,
  }, async () => {
    const r = await receiver()
    const { analytics, plugin } = await pipeline(r.url, 200)
    for (let i = 0; i < 1000; i++) analytics.track({ userId: 'u1', event: 'E', messageId: `m${i}` })
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 20_000 })).toEqual({ drained: true, remaining: 0 })
    const times = r.requests.map((request) => request.at)
    expect(times).toHaveLength(1000)
    expect((times[999] as number) - (times[0] as number)).toBeGreaterThanOrEqual(4_500)
    expect(busiestWindow(times)).toBeLessThanOrEqual(200)
  })

  it('a 429 without Retry-After slows the requests down, and delivered ones bring the rate back', {
    timeout: 30_000,
  }, async () => {
    // Requests 40 and 41 are told to slow down; everything else is delivered.
    const r = await receiver((_req, i) =>
      i === 40 || i === 41 ? { status: 429 } : { status: 200 },
    )
    const { analytics, plugin } = await pipeline(r.url, 100)
    for (let i = 0; i < 300; i++) analytics.track({ userId: 'u1', event: 'E', messageId: `m${i}` })
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 20_000 })).toEqual({ drained: true, remaining: 0 })
    const times = r.requests.map((request) => request.at)
    const gaps = times.slice(1).map((t, k) => t - (times[k] as number))
    const before = gaps.slice(10, 40).reduce((sum, g) => sum + g, 0) / 30
    // After the two 429s: a quarter of the rate, 40 ms between starts, regained 5% per delivery.
    const slowest = Math.max(...gaps.slice(40, 52))
    const later = gaps.slice(250).reduce((sum, g) => sum + g, 0) / (gaps.length - 250)
    console.log(
      `429 without Retry-After at 100 requests/s: ${before.toFixed(1)} ms between requests before, ` +
        `${slowest} ms at the slowest just after, ${later.toFixed(1)} ms later`,
    )
    expect(slowest).toBeGreaterThanOrEqual(35)
    expect(later).toBeLessThan(1.5 * before)
  })

  it('refuses a rate that is not a positive number', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '10']) {
      expect(() =>
        webhookPlugin(
          { webhooks: ['http://127.0.0.1:9/hook'] },
          { store: { sqlite: { path: ':memory:' } }, maxRequestsPerSecond: bad as number },
        ),
      ).toThrow(WebhookPluginError)
    }
  })
})
