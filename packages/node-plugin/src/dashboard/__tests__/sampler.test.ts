/** One reading of the queue per interval however many pages watch, and the chart's bars from the store's counters, with the clock faked and a real SQLite store. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SqliteQueueStore } from '../../store/sqlite/store.js'
import { dashboard } from '../handler.js'
import { QueueSampler } from '../sampler.js'

const TOKEN = 'sampler-test-dashboard-token'
const INTERVAL = 1_000

let dir: string
let store: SqliteQueueStore
let reads: number

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  dir = mkdtempSync(join(tmpdir(), 'aw-sampler-'))
  store = new SqliteQueueStore({ path: join(dir, 'queue.sqlite') })
  store.openSync()
  reads = 0
  const stats = store.stats.bind(store)
  // Counts the store's own stats queries; the store itself is real.
  store.stats = (queue) => {
    reads += 1
    return stats(queue)
  }
})
afterEach(async () => {
  vi.useRealTimers()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})

const delivery = (i: number) => ({
  id: `d-${i}`,
  body: `{"type":"track","messageId":"m-${i}"}`,
  messageId: `m-${i}`,
  enqueuedAt: Date.now(),
})

/** Drives the fake clock one interval and lets the reading it starts finish. */
async function tick(): Promise<void> {
  await vi.advanceTimersByTimeAsync(INTERVAL)
}

describe('one reading per interval, shared', () => {
  it('reads the store once per interval for ten open pages, not once per page', async () => {
    const board = dashboard({ store, queue: 'default', token: TOKEN, intervalMs: INTERVAL })
    const open = () =>
      board(
        new Request('http://127.0.0.1/api/events', {
          headers: { authorization: `Bearer ${TOKEN}` },
        }),
      )
    const feeds = await Promise.all(Array.from({ length: 10 }, open))
    expect(reads).toBe(1)
    for (let i = 0; i < 5; i++) await tick()
    expect(reads).toBe(6)
    // A request for the counts within the interval gets the shared reading.
    await board(
      new Request('http://127.0.0.1/api/stats', { headers: { authorization: `Bearer ${TOKEN}` } }),
    )
    expect(reads).toBe(6)
    await Promise.all(feeds.map((feed) => feed.body?.cancel()))
    await tick()
    await tick()
    expect(reads).toBe(6) // nobody watches: no reading
    await board.close()
  })
})

describe("the chart's bars", () => {
  it('are how much delivered, retried and dead grew between two readings', async () => {
    const sampler = new QueueSampler(
      async () => ({ stats: await store.stats('default'), workers: null }),
      INTERVAL,
    )
    const t0 = Date.now()
    const points: unknown[] = []
    const stop = sampler.subscribe((sample) => {
      if (sample.point) points.push(sample.point)
    })
    await sampler.current()
    await store.enqueue('default', [delivery(1), delivery(2), delivery(3)])
    const claimed = await store.claim('default', {
      limit: 3,
      now: Date.now(),
      leaseMs: 60_000,
      worker: 'w',
    })
    await store.complete('default', claimed.slice(0, 2))
    const [third] = claimed.slice(2)
    if (!third) throw new Error('claimed fewer than 3')
    await store.kill('default', [third], {
      now: Date.now(),
      attempts: 1,
      reason: 'http_4xx',
      status: 400,
      detail: 'HTTP 400',
    })
    await tick()
    expect(points).toEqual([{ from: t0, to: t0 + INTERVAL, delivered: 2, retried: 0, dead: 1 }])
    // A purge lowers dead: the bar shows 0, never less.
    await store.purgeDead({ all: true }, { queue: 'default' })
    await tick()
    expect(points.at(-1)).toMatchObject({ delivered: 0, retried: 0, dead: 0 })
    stop()
    sampler.close()
  })

  it('start a new run after a gap of more than three intervals instead of drawing it as one bar', async () => {
    const sampler = new QueueSampler(
      async () => ({ stats: await store.stats('default'), workers: null }),
      INTERVAL,
    )
    const t0 = Date.now()
    await sampler.current()
    await vi.advanceTimersByTimeAsync(10 * INTERVAL)
    expect((await sampler.current()).point).toBeNull()
    await vi.advanceTimersByTimeAsync(INTERVAL)
    expect((await sampler.current()).point).toMatchObject({ from: t0 + 10 * INTERVAL })
    expect(sampler.chart()).toHaveLength(1)
    sampler.close()
  })
})
