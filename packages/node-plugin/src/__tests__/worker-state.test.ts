/** The delivery worker tells its store what it is doing (paused by Retry-After, backing off, rate-limited, sending, idle), which another process reads: real plugins, receivers and SQLite files. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { webhookPlugin } from '../plugin.js'
import { SqliteQueueStore } from '../store/sqlite/store.js'
import type { QueueStore, WorkerState } from '../store/types.js'
import { REPORT_GAP_MS, REPORT_REFRESH_MS, StateReports } from '../worker-state.js'
import { type Answer, startReceiver, testAnalytics } from './receiver.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  vi.useRealTimers()
})

/**
 * A plugin delivering to a receiver that answers `answer`, on a fresh SQLite
 * file, and a second connection to that file, as a dashboard in another
 * process would open it.
 */
async function watched(answer: (index: number) => Answer, options = {}) {
  const receiver = await startReceiver((_request, index) => answer(index))
  cleanups.push(() => receiver.close())
  const dir = mkdtempSync(join(tmpdir(), 'aw-worker-state-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'queue.sqlite')
  const plugin = webhookPlugin(
    { webhooks: [receiver.url] },
    { store: { sqlite: { path } }, pollIntervalMs: 50, ...options },
  )
  cleanups.push(() => plugin.close())
  const analytics = testAnalytics()
  cleanups.push(() => analytics.closeAndFlush())
  await analytics.register(plugin)
  const reader = new SqliteQueueStore({ path })
  await reader.open()
  cleanups.push(() => reader.close())
  const states = async () => ((await reader.workerStates?.('default')) ?? [])[0]
  return { analytics, plugin, receiver, states }
}

describe("the worker's state, as another process reads it from the store", () => {
  it('paused until the moment a Retry-After names, and idle once everything is delivered', async () => {
    const { analytics, plugin, states } = await watched((i) =>
      i === 0 ? { status: 429, headers: { 'Retry-After': '2' } } : { status: 200 },
    )
    const asked = Date.now()
    analytics.track({ userId: 'u1', event: 'E', messageId: 'm1' })
    await vi.waitFor(async () => expect((await states())?.state).toBe('paused'), {
      timeout: 5_000,
    })
    const paused = (await states()) as WorkerState
    expect(paused.until).toBeGreaterThanOrEqual(asked + 2_000)
    expect(paused.until).toBeLessThan(Date.now() + 2_500)
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    await vi.waitFor(async () => expect((await states())?.state).toBe('idle'), { timeout: 5_000 })
  })

  it('backing off after failures, with the time of the next probe', async () => {
    const { analytics, states } = await watched(() => ({ status: 503 }), {
      retry: { baseDelayMs: 20, maxDelayMs: 50 },
      backoff: { threshold: 2, baseDelayMs: 5_000, maxDelayMs: 5_000 },
    })
    for (let i = 0; i < 5; i++) analytics.track({ userId: 'u1', event: 'E', messageId: `m${i}` })
    await vi.waitFor(async () => expect((await states())?.state).toBe('backing_off'), {
      timeout: 5_000,
    })
    expect((await states())?.until).toBeGreaterThan(Date.now())
  })

  it('rate-limited once a 429 without Retry-After has slowed the requests below the limit', async () => {
    const { analytics, states } = await watched(
      (i) => (i < 3 ? { status: 429 } : { status: 200 }),
      {
        maxRequestsPerSecond: 5,
        retry: { baseDelayMs: 20, maxDelayMs: 50 },
      },
    )
    for (let i = 0; i < 20; i++) analytics.track({ userId: 'u1', event: 'E', messageId: `m${i}` })
    await vi.waitFor(async () => expect((await states())?.state).toBe('rate_limited'), {
      timeout: 8_000,
    })
  })
})

describe('StateReports', () => {
  /** A store that records every report (the only method StateReports calls). */
  function recording(fail = false) {
    const reports: WorkerState[] = []
    const store = {
      reportState: async (_queue: string, _worker: string, state: WorkerState) => {
        if (fail) throw new Error('database is locked')
        reports.push(state)
      },
    } as unknown as QueueStore
    return { reports, store }
  }

  it('writes changes at most once per gap, the latest winning, and refreshes a state that lasts', async () => {
    vi.useFakeTimers({ now: 1_000_000 })
    const { reports, store } = recording()
    const states = new StateReports({
      store,
      queue: 'q',
      worker: 'w',
      now: Date.now,
      onError: (e) => {
        throw e
      },
    })
    states.set('sending')
    await vi.advanceTimersByTimeAsync(0)
    states.set('idle')
    states.set('sending')
    states.set('paused', 1_005_000)
    await vi.advanceTimersByTimeAsync(REPORT_GAP_MS - 1)
    expect(reports.map((r) => r.state)).toEqual(['sending'])
    await vi.advanceTimersByTimeAsync(1)
    expect(reports.map((r) => [r.state, r.until, r.at])).toEqual([
      ['sending', null, 1_000_000],
      ['paused', 1_005_000, 1_000_000 + REPORT_GAP_MS],
    ])
    // The same state again is not written, until it is due a refresh.
    states.set('paused', 1_005_000)
    await vi.advanceTimersByTimeAsync(REPORT_GAP_MS)
    expect(reports).toHaveLength(2)
    vi.setSystemTime(1_000_000 + REPORT_GAP_MS + REPORT_REFRESH_MS)
    states.set('paused', 1_005_000)
    await vi.advanceTimersByTimeAsync(0)
    expect(reports).toHaveLength(3)
    await states.close()
    expect(reports.at(-1)?.state).toBe('idle')
  })

  it('passes a failed report to onError and tries again no sooner than the gap', async () => {
    vi.useFakeTimers({ now: 0 })
    const { store } = recording(true)
    const errors: unknown[] = []
    const states = new StateReports({
      store,
      queue: 'q',
      worker: 'w',
      now: Date.now,
      onError: (e) => errors.push(e),
    })
    states.set('sending')
    await vi.advanceTimersByTimeAsync(REPORT_GAP_MS * 3 - 1)
    expect(errors).toHaveLength(3)
  })

  it('never calls a store without reportState', async () => {
    const states = new StateReports({
      store: {} as QueueStore,
      queue: 'q',
      worker: 'w',
      now: Date.now,
      onError: (e) => {
        throw e
      },
    })
    states.set('sending')
    await states.close()
  })
})
