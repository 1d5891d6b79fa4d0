/** `npm run bench`: the benchmarks against receivers on 127.0.0.1, printed as a Markdown table. */

import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import {
  assembleBatch,
  encodeEvent,
  parseSettings,
  type SegmentEvent,
  singleBody,
  USER_AGENT,
  type WebhookBody,
  type WebhookSettings,
} from '@analytics-webhooks/core'
import { signatureHeadersSync } from '@analytics-webhooks/core/node'
import { Analytics, type Plugin } from '@segment/analytics-node'
import { Pool } from 'undici'
import { built } from './built.js'
import { type BenchReceiver, sampleEvent, since, size, startReceiver } from './harness.js'
import { registerSdk } from './telemetry.js'

const { SqliteQueueStore, webhookPlugin } = built

const PIPELINE_EVENTS = size('BENCH_PIPELINE_EVENTS', 20_000)
const DRAIN_EVENTS = size('BENCH_DRAIN_EVENTS', 100_000)
const BACKLOG_EVENTS = size('BENCH_BACKLOG_EVENTS', 1_000_000)
const CONCURRENCY = size('BENCH_CONCURRENCY', 10)
const RSS_SECONDS = size('BENCH_RSS_SECONDS', 5)
/** Benches 1-3 alternate plugin and baseline this many times and report medians: one run on a shared machine is noise. */
const ROUNDS = size('BENCH_ROUNDS', 5)
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

/**
 * A destination that only serialises each event the way the plugin stores it,
 * and keeps nothing: the least work any webhook destination must do on the
 * event's way through analytics-node. Its rate is a ceiling for bench 1.
 */
const serialiseOnly: Plugin = {
  ...noop,
  name: 'Serialise only',
  track: (ctx) => {
    encodeEvent(ctx.event as SegmentEvent)
    return ctx
  },
}

/** The median of some numbers. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/**
 * Runs `ours` and `baseline` alternately {@link ROUNDS} times; each returns
 * events/s. Reports the medians and the median of the per-round ratios, with
 * every round's ratio, so a noisy neighbour shows instead of hiding in one number.
 */
async function alternate(
  ours: () => Promise<number>,
  baseline: () => Promise<number>,
): Promise<{
  ours: number
  baseline: number
  ratio: number
  ratios: number[]
  /** Each round's rates, in round order. */
  rounds: { ours: number; baseline: number }[]
}> {
  const a: number[] = []
  const b: number[] = []
  const ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    b.push(await baseline())
    a.push(await ours())
    ratios.push((a.at(-1) as number) / (b.at(-1) as number))
  }
  const rounds = a.map((rate, i) => ({ ours: rate, baseline: b[i] as number }))
  return { ours: median(a), baseline: median(b), ratio: median(ratios), ratios, rounds }
}

const roundsNote = (ratios: readonly number[]) =>
  ROUNDS > 1 ? ` (rounds: ${ratios.map((r) => r.toFixed(2)).join(', ')})` : ''

/** Events/s through analytics-node with only `destination` (the no-op one by default); `close` runs after the timing. */
async function noopPipelineRate(
  destination: Plugin = noop,
  close?: () => Promise<void>,
): Promise<number> {
  const base = analytics()
  await base.register(destination)
  const start = performance.now()
  await trackAll(base, PIPELINE_EVENTS)
  const rate = PIPELINE_EVENTS / (since(start) / 1000)
  await close?.()
  return rate
}

async function benchPipeline(receiver: BenchReceiver, batchSize: number): Promise<void> {
  const tracked: number[] = []
  const result = await alternate(
    async () => {
      const { delivered, committed } = await pluginPipeline(receiver, batchSize)
      tracked.push(committed)
      return delivered
    },
    () => noopPipelineRate(),
  )
  // The ratio counts until every event reached the receiver; the tracking (commit) rate is shown beside it.
  report(
    `1. analytics-node + plugin (batchSize ${batchSize}) delivering vs + no-op destination (${fmt(PIPELINE_EVENTS)} events, events/s, median of ${ROUNDS})`,
    `${fmt(result.ours)} delivered (tracked, i.e. committed: ${fmt(median(tracked))})`,
    fmt(result.baseline),
    `${result.ratio.toFixed(2)}${roundsNote(result.ratios)}`,
    '>= 0.85',
  )
}

/** The serialised sample event `i`, as the plugin queues it. */
const sampleBody = (i: number, at: Date) =>
  encodeEvent({ type: 'track', timestamp: at, ...sampleEvent(i) })

/** Bench 1's ceilings: what serialising each event alone costs, and the plugin's hook with nothing sent. */
async function benchSerialiseOnly(): Promise<void> {
  const result = await alternate(
    () => noopPipelineRate(serialiseOnly),
    () => noopPipelineRate(),
  )
  report(
    `1. (ceiling) a destination that only serialises each event, nothing stored or sent, vs + no-op destination (${fmt(PIPELINE_EVENTS)} events, events/s, median of ${ROUNDS})`,
    fmt(result.ours),
    fmt(result.baseline),
    `${result.ratio.toFixed(2)}${roundsNote(result.ratios)}`,
    '-',
  )
  const commitOnly = await alternate(
    () => {
      const plugin = webhookPlugin(
        { webhooks: ['http://127.0.0.1:9/unused'] },
        { store: { sqlite: { path: freshDb() } } },
      )
      // `load` starts the delivery worker; without it each hook serialises and commits, and nothing is sent.
      return noopPipelineRate({ ...plugin, load: async () => undefined }, () => plugin.close())
    },
    () => noopPipelineRate(),
  )
  report(
    `1. (ceiling) the plugin's own hooks with no worker: serialise and commit durably, nothing sent, vs + no-op destination (${fmt(PIPELINE_EVENTS)} events, events/s, median of ${ROUNDS})`,
    fmt(commitOnly.ours),
    fmt(commitOnly.baseline),
    `${commitOnly.ratio.toFixed(2)}${roundsNote(commitOnly.ratios)}`,
    '-',
  )
}

/** Fills a fresh queue file with `n` sample events, 10 000 per commit, through another store instance. */
async function prefill(path: string, n: number): Promise<void> {
  const store = new SqliteQueueStore({ path })
  await store.open()
  const now = Date.now()
  for (let from = 0; from < n; from += 10_000) {
    const chunk = []
    for (let i = from; i < Math.min(n, from + 10_000); i++) {
      chunk.push({
        id: `d-${i}`,
        body: sampleBody(i, new Date(now)),
        messageId: `bench-${i}`,
        enqueuedAt: now,
      })
    }
    await store.enqueue('default', chunk)
  }
  await store.close()
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
  const settings = { webhooks: [receiver.url], batchSize, sharedSecret: 'bench-secret' }
  const parsed = parseSettings(settings)
  /**
   * The raw side's request bodies: the same bodies the queue holds (only the
   * timestamps differ, not the sizes). Built before its clock starts, in each
   * round, so the ~90 MB they take is not live while the plugin drains (its
   * collections would mark them).
   */
  const rawBodies = (): WebhookBody[] => {
    const at = new Date()
    const bodies = Array.from({ length: DRAIN_EVENTS }, (_, i) => sampleBody(i, at))
    const out: WebhookBody[] = []
    for (let i = 0; i < bodies.length; i += batchSize) {
      out.push(
        batchSize === 1
          ? singleBody(bodies[i] as string)
          : assembleBatch(bodies.slice(i, i + batchSize), { maxEvents: batchSize }).body,
      )
    }
    return out
  }
  const result = await alternate(
    () => pluginDrainRate(receiver, settings),
    () => rawUndici(receiver, parsed, rawBodies(), DRAIN_EVENTS),
  )
  report(
    `2. drain ${fmt(DRAIN_EVENTS)} queued, batchSize ${batchSize}, vs raw undici Pool.request (events/s, concurrency ${CONCURRENCY}, median of ${ROUNDS})`,
    fmt(result.ours),
    fmt(result.baseline),
    `${result.ratio.toFixed(2)}${roundsNote(result.ratios)}`,
    '>= 0.8',
  )
}

/** Events/s of the plugin draining {@link DRAIN_EVENTS} prefilled events to `receiver` (bench 2's plugin side). */
async function pluginDrainRate(
  receiver: BenchReceiver,
  settings: { webhooks: string[]; batchSize: number; sharedSecret: string },
): Promise<number> {
  const path = freshDb()
  await prefill(path, DRAIN_EVENTS)
  const before = await receiver.count()
  const plugin = webhookPlugin(settings, {
    store: { sqlite: { path } },
    concurrency: CONCURRENCY,
  })
  const start = performance.now()
  const result = await plugin.drain({ timeoutMs: 600_000 })
  const rate = DRAIN_EVENTS / (since(start) / 1000)
  await plugin.close()
  const got = (await receiver.count()) - before
  if (!result.drained || got < DRAIN_EVENTS)
    throw new Error(`drain delivered ${got} of ${DRAIN_EVENTS}`)
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
  return rate
}

/**
 * 6. What telemetry costs: bench 2's drain with an OpenTelemetry SDK
 * registered before the plugin starts (spans batched to an in-memory
 * exporter, metrics read every second) against the same drain with none,
 * alternating in one process. The cost per delivered event is the
 * difference of the two rates' inverses, per round.
 */
async function benchTelemetry(receiver: BenchReceiver, batchSize: number): Promise<void> {
  const settings = { webhooks: [receiver.url], batchSize, sharedSecret: 'bench-secret' }
  const spans: number[] = []
  const result = await alternate(
    async () => {
      const sdk = registerSdk()
      try {
        return await pluginDrainRate(receiver, settings)
      } finally {
        spans.push((await sdk.remove()).spans)
      }
    },
    () => pluginDrainRate(receiver, settings),
  )
  // One span per request: a round with fewer measured less than it claims.
  const requests = Math.ceil(DRAIN_EVENTS / batchSize)
  if (spans.some((n) => n < requests)) {
    throw new Error(`expected ${requests} spans a round, the SDK exported ${spans.join(', ')}`)
  }
  const microseconds = (rate: number) => 1e6 / rate
  const costs = result.rounds.map((r) => microseconds(r.ours) - microseconds(r.baseline))
  report(
    `6. telemetry: drain ${fmt(DRAIN_EVENTS)} queued, batchSize ${batchSize}, OpenTelemetry SDK registered (in-memory exporters) vs none (events/s, median of ${ROUNDS})`,
    fmt(result.ours),
    fmt(result.baseline),
    `${result.ratio.toFixed(2)}${roundsNote(result.ratios)}; ${median(costs).toFixed(2)} µs more per delivered event (rounds: ${costs.map((c) => c.toFixed(2)).join(', ')})`,
    '-',
  )
}

async function benchVsSegment(receiver: BenchReceiver): Promise<void> {
  /** Events/s from the first `track()` until the receiver has every event, through analytics-node's own delivery. */
  const segmentRate = async () => {
    const before = await receiver.count()
    const segment = analytics(receiver.origin, false)
    const start = performance.now()
    await trackAll(segment, PIPELINE_EVENTS)
    await receiver.waitFor(before + PIPELINE_EVENTS)
    return PIPELINE_EVENTS / (since(start) / 1000)
  }
  // analytics-node's own delivery sends batches (15 events a request by default), so the plugin is
  // measured unbatched, with the same batch size, and with larger batches.
  for (const batchSize of [1, 15, 100]) {
    const result = await alternate(
      async () => (await pluginPipeline(receiver, batchSize)).delivered,
      segmentRate,
    )
    report(
      `3. tracked → received, plugin batchSize ${batchSize} vs analytics-node's own delivery (${fmt(PIPELINE_EVENTS)} events, events/s, median of ${ROUNDS})`,
      fmt(result.ours),
      fmt(result.baseline),
      `${result.ratio.toFixed(2)}${roundsNote(result.ratios)}`,
      '>= 1.5',
    )
  }
  // The most any destination can reach: analytics-node with a destination that does nothing at all.
  const ceiling = await alternate(() => noopPipelineRate(), segmentRate)
  report(
    `3. (ceiling) analytics-node + no-op destination vs analytics-node's own delivery (${fmt(PIPELINE_EVENTS)} events, events/s, median of ${ROUNDS})`,
    fmt(ceiling.ours),
    fmt(ceiling.baseline),
    `${ceiling.ratio.toFixed(2)}${roundsNote(ceiling.ratios)}`,
    '-',
  )
}

/**
 * Tracks {@link PIPELINE_EVENTS} through analytics-node and the plugin. Events/s
 * until the receiver has every event (`delivered`) and until `closeAndFlush()`
 * returned, i.e. every event was committed (`committed`).
 */
async function pluginPipeline(
  receiver: BenchReceiver,
  batchSize: number,
): Promise<{ delivered: number; committed: number }> {
  const before = await receiver.count()
  const a = analytics()
  const plugin = webhookPlugin(
    { webhooks: [receiver.url], batchSize },
    { store: { sqlite: { path: freshDb() } }, concurrency: CONCURRENCY },
  )
  await a.register(plugin)
  const start = performance.now()
  await trackAll(a, PIPELINE_EVENTS)
  const committed = PIPELINE_EVENTS / (since(start) / 1000)
  await receiver.waitFor(before + PIPELINE_EVENTS)
  const delivered = PIPELINE_EVENTS / (since(start) / 1000)
  await plugin.close()
  return { delivered, committed }
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
    peakWalMb: number
    enqueued: number
    p50: number
    p99: number
    backlogAtEnd: number
  }
  report(
    `4. peak RSS with a ${fmt(BACKLOG_EVENTS)}-event backlog, delivering and enqueueing for ${RSS_SECONDS} s`,
    `${result.peakRssMb.toFixed(0)} MB`,
    '-',
    `backlog at end ${fmt(result.backlogAtEnd)}; largest -wal file ${result.peakWalMb.toFixed(1)} MB`,
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
    await benchSerialiseOnly()
  }
  if (run('2')) {
    await benchDrain(receiver, 1)
    await benchDrain(receiver, 100)
  }
  if (run('3')) await benchVsSegment(receiver)
  if (run('4')) await benchBacklog(receiver)
  if (run('6')) {
    await benchTelemetry(receiver, 1)
    await benchTelemetry(receiver, 100)
  }
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
