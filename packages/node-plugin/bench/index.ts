/** `npm run bench`: the four benchmarks against receivers on 127.0.0.1, printed as a Markdown table. */

import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  assembleBatch,
  encodeEvent,
  parseSettings,
  singleBody,
  USER_AGENT,
  type WebhookBody,
  type WebhookSettings,
} from '@analytics-webhooks/core'
import { signatureHeadersSync } from '@analytics-webhooks/core/node'
import { Analytics, type Plugin } from '@segment/analytics-node'
import { Pool } from 'undici'
import { SqliteQueueStore, webhookPlugin } from '../src/index.js'
import { type BenchReceiver, sampleEvent, since, size, startReceiver } from './harness.js'

const PIPELINE_EVENTS = size('BENCH_PIPELINE_EVENTS', 20_000)
const DRAIN_EVENTS = size('BENCH_DRAIN_EVENTS', 100_000)
const BACKLOG_EVENTS = size('BENCH_BACKLOG_EVENTS', 1_000_000)
const CONCURRENCY = size('BENCH_CONCURRENCY', 10)
const RSS_SECONDS = size('BENCH_RSS_SECONDS', 5)
/** analytics-node's `flushInterval` on every instance (see {@link analytics}); its default is 10 000. */
const FLUSH_INTERVAL = size('BENCH_FLUSH_INTERVAL', 20)

const rows: string[][] = []
function report(name: string, ours: string, baseline: string, ratio: string, goal: string): void {
  rows.push([name, ours, baseline, ratio, goal])
  console.log(`${name}: ${ours} vs ${baseline} → ${ratio} (goal ${goal})`)
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
const dir = mkdtempSync(join(tmpdir(), 'aw-bench-'))
let fileNo = 0
const freshDb = () => join(dir, `queue-${fileNo++}.sqlite`)

/**
 * An analytics-node instance. Its built-in Segment.io destination is stubbed
 * (`stub`) on both sides of bench 1. `flushInterval` is short on every
 * instance because `closeAndFlush()` fixes the number of events it waits for
 * when called, and a last partial Segment.io batch that is smaller than that
 * number then waits the whole interval (default 10 s) whenever any destination
 * is still working when `closeAndFlush()` is called; measured, it added 10 s
 * to a 2 s run. Same setting for the plugin and the baseline (`BENCH_FLUSH_INTERVAL`).
 */
function analytics(host = 'http://127.0.0.1:9', stub = true): Analytics {
  return new Analytics({
    writeKey: 'bench',
    host,
    maxRetries: 0,
    flushInterval: FLUSH_INTERVAL,
    ...(stub
      ? { httpClient: { makeRequest: async () => ({ status: 200, statusText: 'OK' }) } }
      : {}),
  })
}

/** Tracks `n` events through a pipeline, yielding every 500 like a busy server; resolves after closeAndFlush. */
async function trackAll(a: Analytics, n: number, offset = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    a.track(sampleEvent(offset + i) as never)
    if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve))
  }
  await a.closeAndFlush({ timeout: 600_000 })
}

const noop: Plugin = {
  name: 'No-op',
  type: 'destination',
  version: '1.0.0',
  isLoaded: () => true,
  load: async () => undefined,
  track: (ctx) => ctx,
  identify: (ctx) => ctx,
  page: (ctx) => ctx,
  screen: (ctx) => ctx,
  group: (ctx) => ctx,
  alias: (ctx) => ctx,
}

async function benchPipeline(receiver: BenchReceiver, batchSize: number): Promise<void> {
  const base = analytics()
  await base.register(noop)
  let start = performance.now()
  await trackAll(base, PIPELINE_EVENTS)
  const noopRate = PIPELINE_EVENTS / (since(start) / 1000)

  const before = await receiver.count()
  const withPlugin = analytics()
  const plugin = webhookPlugin(
    { webhooks: [receiver.url], batchSize },
    { store: { sqlite: { path: freshDb() } }, concurrency: CONCURRENCY },
  )
  await withPlugin.register(plugin)
  start = performance.now()
  await trackAll(withPlugin, PIPELINE_EVENTS)
  const ourRate = PIPELINE_EVENTS / (since(start) / 1000)
  await receiver.waitFor(before + PIPELINE_EVENTS)
  const deliveredRate = PIPELINE_EVENTS / (since(start) / 1000)
  await plugin.close()
  // The ratio counts until every event reached the receiver; the tracking (commit) rate is shown beside it.
  report(
    `1. analytics-node + plugin (batchSize ${batchSize}) delivering vs + no-op destination (${fmt(PIPELINE_EVENTS)} events, events/s)`,
    `${fmt(deliveredRate)} delivered (tracked, i.e. committed: ${fmt(ourRate)} = ${(ourRate / noopRate).toFixed(2)})`,
    fmt(noopRate),
    (deliveredRate / noopRate).toFixed(2),
    '>= 0.85',
  )
}

async function prefill(path: string, n: number): Promise<string[]> {
  const store = new SqliteQueueStore({ path })
  await store.open()
  const bodies: string[] = []
  const now = Date.now()
  for (let from = 0; from < n; from += 10_000) {
    const chunk = []
    for (let i = from; i < Math.min(n, from + 10_000); i++) {
      const body = encodeEvent({ type: 'track', timestamp: new Date(now), ...sampleEvent(i) })
      if (n <= DRAIN_EVENTS) bodies.push(body)
      chunk.push({ id: `d-${i}`, body, messageId: `bench-${i}`, enqueuedAt: now })
    }
    await store.enqueue('default', chunk)
  }
  await store.close()
  return bodies
}

/**
 * Raw undici: the same requests (same bodies, same headers, signed the same
 * way, as any sender of signed webhooks must) POSTed with the same concurrency
 * through one `Pool`, nothing else: no queue, no bookkeeping.
 */
async function rawUndici(
  receiver: BenchReceiver,
  settings: WebhookSettings,
  bodies: readonly WebhookBody[],
  events: number,
): Promise<number> {
  const pool = new Pool(receiver.origin, { connections: CONCURRENCY })
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as WebhookBody
        const signatures = signatureHeadersSync(settings, body, {
          id: `raw-${next}`,
          timestamp: Math.floor(Date.now() / 1000),
        })
        const res = await pool.request({
          path: '/hook',
          method: 'POST',
          headers: { 'user-agent': USER_AGENT, 'content-type': 'application/json', ...signatures },
          body: body.json,
        })
        await res.body.dump()
      }
    }),
  )
  const rate = events / (since(start) / 1000)
  await pool.close()
  return rate
}

async function benchDrain(receiver: BenchReceiver, batchSize: number): Promise<void> {
  const path = freshDb()
  const bodies = await prefill(path, DRAIN_EVENTS)
  const before = await receiver.count()
  const settings = { webhooks: [receiver.url], batchSize, sharedSecret: 'bench-secret' }
  const plugin = webhookPlugin(settings, { store: { sqlite: { path } }, concurrency: CONCURRENCY })
  const start = performance.now()
  const result = await plugin.drain({ timeoutMs: 600_000 })
  const ourRate = DRAIN_EVENTS / (since(start) / 1000)
  await plugin.close()
  const got = (await receiver.count()) - before
  if (!result.drained || got < DRAIN_EVENTS)
    throw new Error(`drain delivered ${got} of ${DRAIN_EVENTS}`)
  const rawBodies: WebhookBody[] = []
  for (let i = 0; i < bodies.length; i += batchSize) {
    rawBodies.push(
      batchSize === 1
        ? singleBody(bodies[i] as string)
        : assembleBatch(bodies.slice(i, i + batchSize), { maxEvents: batchSize }).body,
    )
  }
  const rawRate = await rawUndici(receiver, parseSettings(settings), rawBodies, DRAIN_EVENTS)
  report(
    `2. drain ${fmt(DRAIN_EVENTS)} queued, batchSize ${batchSize}, vs raw undici Pool.request (events/s, concurrency ${CONCURRENCY})`,
    fmt(ourRate),
    fmt(rawRate),
    (ourRate / rawRate).toFixed(2),
    '>= 0.8',
  )
}

async function benchVsSegment(receiver: BenchReceiver): Promise<void> {
  const before = await receiver.count()
  const segment = analytics(receiver.origin, false)
  const start = performance.now()
  await trackAll(segment, PIPELINE_EVENTS)
  await receiver.waitFor(before + PIPELINE_EVENTS)
  const segmentRate = PIPELINE_EVENTS / (since(start) / 1000)

  // analytics-node's own delivery sends batches (15 events a request by default), so the plugin is
  // measured unbatched, with the same batch size, and with larger batches.
  for (const batchSize of [1, 15, 100]) {
    const ourRate = await pluginPipelineRate(receiver, batchSize)
    report(
      `3. tracked → received, plugin batchSize ${batchSize} vs analytics-node's own delivery (${fmt(PIPELINE_EVENTS)} events, events/s)`,
      fmt(ourRate),
      fmt(segmentRate),
      (ourRate / segmentRate).toFixed(2),
      '>= 1.5',
    )
  }
}

/** Events/s from the first `track()` until the receiver has every event, through analytics-node and the plugin. */
async function pluginPipelineRate(receiver: BenchReceiver, batchSize: number): Promise<number> {
  const before = await receiver.count()
  const a = analytics()
  const plugin = webhookPlugin(
    { webhooks: [receiver.url], batchSize },
    { store: { sqlite: { path: freshDb() } }, concurrency: CONCURRENCY },
  )
  await a.register(plugin)
  const start = performance.now()
  await trackAll(a, PIPELINE_EVENTS)
  await receiver.waitFor(before + PIPELINE_EVENTS)
  const rate = PIPELINE_EVENTS / (since(start) / 1000)
  await plugin.close()
  return rate
}

async function benchBacklog(receiver: BenchReceiver): Promise<void> {
  const path = freshDb()
  const start = performance.now()
  await prefill(path, BACKLOG_EVENTS)
  console.log(`prefilled ${fmt(BACKLOG_EVENTS)} events in ${(since(start) / 1000).toFixed(1)} s`)
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(import.meta.dirname, 'rss.mjs'), path, receiver.url, String(RSS_SECONDS)],
    { maxBuffer: 1 << 20 },
  )
  const result = JSON.parse(stdout.trim().split('\n').pop() as string) as {
    peakRssMb: number
    enqueued: number
    p50: number
    p99: number
    backlogAtEnd: number
  }
  report(
    `4. peak RSS with a ${fmt(BACKLOG_EVENTS)}-event backlog, delivering and enqueueing for ${RSS_SECONDS} s`,
    `${result.peakRssMb.toFixed(0)} MB`,
    '-',
    `backlog at end ${fmt(result.backlogAtEnd)}`,
    '<= 150 MB',
  )
  report(
    `4. enqueue latency (hook call → committed), ${fmt(result.enqueued)} events in bursts of 100`,
    `p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms`,
    '-',
    '-',
    '-',
  )
}

const receiver = await startReceiver()
try {
  const only = process.env.BENCH_ONLY?.split(',')
  const run = (n: string) => only === undefined || only.includes(n)
  if (run('1')) {
    await benchPipeline(receiver, 1)
    await benchPipeline(receiver, 100)
  }
  if (run('2')) {
    await benchDrain(receiver, 1)
    await benchDrain(receiver, 100)
  }
  if (run('3')) await benchVsSegment(receiver)
  if (run('4')) await benchBacklog(receiver)
} finally {
  receiver.stop()
  rmSync(dir, { recursive: true, force: true })
}

console.log(`\nNode ${process.version}, ${new Date().toISOString().slice(0, 10)}\n`)
console.log('| bench | plugin | baseline | ratio | goal |\n| --- | --- | --- | --- | --- |')
for (const row of rows) console.log(`| ${row.join(' | ')} |`)

// 5. PostgreSQL: 1, 2 and 4 worker processes on one database vs SQLite, enqueue from 4 processes
// (bench/postgres.ts prints its own table; it skips with a notice without DATABASE_URL).
if (process.env.BENCH_ONLY === undefined || process.env.BENCH_ONLY.split(',').includes('5')) {
  await (await import('./postgres.js')).runPostgresBench()
}
