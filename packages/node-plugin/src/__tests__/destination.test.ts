/** What the node plugin shares with the browser plugin through core (issue 14): its name in the pipeline, its reports and its errors. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DESTINATION_NAME,
  type DeadReport,
  type DeliveredReport,
  type DeliveryReports,
  type RetryReport,
  SettingsError,
  WebhookError,
} from '@analytics-webhooks/core'
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest'
import { WebhookPluginError } from '../errors.js'
import type { WebhookPluginEvents } from '../events.js'
import { type WebhookPlugin, webhookPlugin } from '../plugin.js'
import { SqliteStoreError } from '../store/sqlite/errors.js'
import { type Receiver, startReceiver, testAnalytics } from './receiver.js'

const FAST = {
  retry: { baseDelayMs: 20, maxDelayMs: 50 },
  backoff: { threshold: 100 },
  pollIntervalMs: 100,
}

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A receiver on 127.0.0.1, and a plugin on a fresh SQLite file registered in a real analytics-node pipeline. */
async function pipeline(answer?: Parameters<typeof startReceiver>[0]) {
  const receiver: Receiver = await startReceiver(answer)
  cleanups.push(() => receiver.close())
  const dir = mkdtempSync(join(tmpdir(), 'aw-destination-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const plugin: WebhookPlugin = webhookPlugin(
    { webhooks: [receiver.url] },
    { ...FAST, store: { sqlite: { path: join(dir, 'queue.sqlite') } } },
  )
  cleanups.push(() => plugin.close())
  const analytics = testAnalytics()
  cleanups.push(() => analytics.closeAndFlush())
  await analytics.register(plugin)
  return { receiver, plugin, analytics }
}

const sentIds = (receiver: Receiver) =>
  receiver.requests.map((request) => JSON.parse(request.body).messageId as string)

describe('the destination named Webhooks', () => {
  it("is core's name, Segment's own Webhooks destination's", () => {
    const plugin = webhookPlugin({ webhooks: ['https://hooks.example.com/segment'] })
    cleanups.push(() => plugin.close())
    expect(plugin.name).toBe(DESTINATION_NAME)
    expect(plugin.name).toBe('Webhooks')
  })

  it('is skipped by a call with integrations: { Webhooks: false } in a real analytics-node pipeline, and by no other name', async () => {
    const { receiver, plugin, analytics } = await pipeline()
    const userId = 'u1'
    analytics.track({
      userId,
      event: 'Skipped',
      messageId: 'skipped',
      integrations: { Webhooks: false },
    })
    // The browser plugin's former name is nothing to the pipeline.
    analytics.track({
      userId,
      event: 'Kept',
      messageId: 'kept',
      integrations: { 'Analytics Webhooks': false },
    })
    analytics.track({
      userId,
      event: 'Only this destination',
      messageId: 'only-webhooks',
      integrations: { All: false, Webhooks: true },
    })
    analytics.identify({ userId, messageId: 'all-off', integrations: { All: false } })
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    expect(sentIds(receiver).sort()).toEqual(['kept', 'only-webhooks'])
    expect((await plugin.stats()).delivered).toBe(2) // the skipped ones were never queued
  })
})

describe("reports are core's, the browser plugin's fields", () => {
  it('are typed by core', () => {
    expectTypeOf<WebhookPluginEvents['delivered']>().toEqualTypeOf<DeliveredReport>()
    expectTypeOf<WebhookPluginEvents['retry']>().toEqualTypeOf<RetryReport>()
    expectTypeOf<WebhookPluginEvents['dead']>().toEqualTypeOf<DeadReport>()
  })

  it('reach one listener written against core, with exactly its fields', async () => {
    const { plugin, analytics } = await pipeline((request, index) => {
      const { messageId } = JSON.parse(request.body)
      if (messageId === 'refused') return { status: 400 }
      return { status: messageId === 'flaky' && index === 0 ? 503 : 200 }
    })
    const seen: Array<[keyof DeliveryReports, DeliveryReports[keyof DeliveryReports]]> = []
    const listen = <K extends keyof DeliveryReports>(name: K) =>
      plugin.on(name, (report: DeliveryReports[K]) => seen.push([name, report]))
    for (const name of ['delivered', 'retry', 'dead'] as const) listen(name)
    analytics.track({ userId: 'u1', event: 'Flaky', messageId: 'flaky' })
    analytics.track({ userId: 'u1', event: 'Refused', messageId: 'refused' })
    await analytics.closeAndFlush()
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })

    const id = expect.any(String)
    expect(seen).toHaveLength(3)
    // The two requests are sent concurrently: their reports may interleave.
    expect(seen).toEqual(
      expect.arrayContaining([
        [
          'retry',
          { ids: [id], reason: 'http_5xx', status: 503, attempts: 1, at: expect.any(Number) },
        ],
        ['delivered', { ids: [id], messageIds: ['flaky'], attempts: 2, status: 200 }],
        [
          'dead',
          { ids: [id], reason: 'http_4xx', status: 400, attempts: 1, detail: expect.any(String) },
        ],
      ]),
    )
  })
})

describe("errors extend core's coded base", () => {
  it('WebhookPluginError and SettingsError, each with its name and code', () => {
    expect(() => webhookPlugin({ webhooks: [] })).toThrow(SettingsError)
    let error: unknown
    try {
      webhookPlugin({ webhooks: ['https://hooks.example.com/segment'] }, { concurrency: 0 })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(WebhookPluginError)
    expect(error).toBeInstanceOf(WebhookError)
    expect(error).toMatchObject({ name: 'WebhookPluginError', code: 'invalid_option' })
    expect((error as Error).message).toContain('concurrency')
  })

  it('SqliteStoreError too, for the SQLite store', () => {
    const error = new SqliteStoreError('store_closed', 'The SQLite queue store is not open')
    expect(error).toBeInstanceOf(WebhookError)
    expect(error).toMatchObject({ name: 'SqliteStoreError', code: 'store_closed' })
  })
})
