/** What JSON serialisation does to event properties on their way through a real analytics-node pipeline, as the README's "What JSON does to properties" says. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { webhookPlugin } from '../plugin.js'
import { startReceiver, testAnalytics } from './receiver.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A receiver on 127.0.0.1 and a plugin on a fresh SQLite file in a real analytics-node pipeline. */
async function pipeline() {
  const receiver = await startReceiver()
  cleanups.push(() => receiver.close())
  const dir = mkdtempSync(join(tmpdir(), 'aw-serialisation-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const plugin = webhookPlugin(
    { webhooks: [receiver.url] },
    { pollIntervalMs: 100, store: { sqlite: { path: join(dir, 'queue.sqlite') } } },
  )
  cleanups.push(() => plugin.close())
  const analytics = testAnalytics()
  cleanups.push(() => analytics.closeAndFlush({ timeout: 1000 }))
  await analytics.register(plugin)
  return { receiver, plugin, analytics }
}

describe('properties: what JSON cannot carry is dropped, nulled or converted, never sent as is', () => {
  it('drops functions, Symbols and undefined from objects, sends null for them in arrays, and Dates as ISO strings', async () => {
    const { receiver, plugin, analytics } = await pipeline()
    analytics.track({
      userId: 'u1',
      event: 'Shapes',
      properties: {
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
      },
    })
    // Every hook has committed once the pipeline has flushed.
    await analytics.closeAndFlush({ timeout: 1000 })
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    expect(JSON.parse(receiver.requests[0]?.body ?? '').properties).toEqual({
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

  // A BigInt is dead-lettered invalid_payload: delivery.test.ts, 'bad input'.
})
