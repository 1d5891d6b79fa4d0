/** OpenTelemetry with an SDK registered, through real analytics-node pipelines and receivers on 127.0.0.1: the HTTP conventions' metric and spans, the plugin's own metrics, and links to the traces events were tracked in. */

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { context, metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AggregationTemporality,
  type DataPoint,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { onLines } from '../../test/fixtures/lines.js'
import { type WebhookPlugin, webhookPlugin } from '../index.js'
import { SqliteQueueStore } from '../store/sqlite/store.js'
import type { QueueStore } from '../store/types.js'
import { INSTRUMENTATION_SCOPE } from '../telemetry/index.js'
import { type Receiver, startReceiver, testAnalytics } from './receiver.js'

const spanExporter = new InMemorySpanExporter()
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
// Exports only when a test collects (forceFlush): the hour-long interval never passes in a test.
const reader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
})
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
})
/** A second reader, of deltas: it shows what a collection observed, where the cumulative one repeats. */
const deltaExporter = new InMemoryMetricExporter(AggregationTemporality.DELTA)
const deltaReader = new PeriodicExportingMetricReader({
  exporter: deltaExporter,
  exportIntervalMillis: 3_600_000,
})
const meterProvider = new MeterProvider({ readers: [reader, deltaReader] })
const tracer = trace.getTracer('telemetry-test')

// The SDK is registered before any plugin starts its worker, as docs/telemetry.md asks.
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(tracerProvider)
  metrics.setGlobalMeterProvider(meterProvider)
})

afterAll(async () => {
  await meterProvider.shutdown()
  await tracerProvider.shutdown()
  trace.disable()
  metrics.disable()
  context.disable()
})

const HTTP_BUCKETS = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

let dir: string
let receiver: Receiver | undefined
const plugins: WebhookPlugin[] = []

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aw-telemetry-'))
})
afterEach(async () => {
  for (const plugin of plugins.splice(0)) await plugin.close()
  await receiver?.close()
  receiver = undefined
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let fileNo = 0
const freshPath = () => join(dir, `queue-${fileNo++}.sqlite`)

function plugin(...args: Parameters<typeof webhookPlugin>): WebhookPlugin {
  const made = webhookPlugin(...args)
  plugins.push(made)
  return made
}

/** Every metric one reader collects now (the cumulative one by default: everything since the file started). */
async function collect(from = reader, exporter = metricExporter): Promise<MetricData[]> {
  exporter.reset()
  await from.forceFlush()
  return exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
}

function metric(all: readonly MetricData[], name: string): MetricData {
  const found = all.find((m) => m.descriptor.name === name)
  if (found === undefined) throw new Error(`no metric ${name}`)
  return found
}

/** The data points whose attributes include `attributes`. */
function points<T>(data: MetricData, attributes: Record<string, unknown>): DataPoint<T>[] {
  return (data.dataPoints as DataPoint<T>[]).filter((point) =>
    Object.entries(attributes).every(([key, value]) => point.attributes[key] === value),
  )
}

/** The plugin's spans that went to `port`. */
function attemptSpans(port: number): ReadableSpan[] {
  return spanExporter
    .getFinishedSpans()
    .filter(
      (span) =>
        span.instrumentationScope.name === INSTRUMENTATION_SCOPE &&
        span.attributes['server.port'] === port,
    )
}

const portOf = (url: string) => Number(new URL(url).port)

/** Tracks `event` inside a span of its own; returns that span's trace id. */
function trackInSpan(
  analytics: ReturnType<typeof testAnalytics>,
  event: string,
  messageId?: string,
): string {
  return tracer.startActiveSpan(`track ${event}`, (span) => {
    analytics.track({ userId: 'u1', event, ...(messageId ? { messageId } : {}) })
    span.end()
    return span.spanContext().traceId
  })
}

/** A port of 127.0.0.1 nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('a delivery, a retry and a dead letter', () => {
  it('are measured with the conventions’ HTTP metric and the plugin’s own, and each attempt is a CLIENT span linked to the trace its event was tracked in', async () => {
    const answered = new Map<string, number>()
    receiver = await startReceiver((request) => {
      const { event } = JSON.parse(request.body) as { event: string }
      const n = (answered.get(event) ?? 0) + 1
      answered.set(event, n)
      if (event === 'Refused') return { status: 400 }
      if (event === 'Flaky' && n === 1) return { status: 503 }
      return { status: 200 }
    })
    const port = portOf(receiver.url)
    const analytics = testAnalytics()
    const webhooks = plugin(
      { webhooks: [receiver.url] },
      {
        store: { sqlite: { path: freshPath() } },
        queue: 'outcomes',
        retry: { baseDelayMs: 20, maxDelayMs: 40 },
      },
    )
    await analytics.register(webhooks)
    const traces = {
      ok: trackInSpan(analytics, 'Signed Up'),
      flaky: trackInSpan(analytics, 'Flaky'),
      refused: trackInSpan(analytics, 'Refused'),
    }
    await analytics.closeAndFlush()
    expect(await webhooks.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    expect(receiver.requests).toHaveLength(4)

    const all = await collect()

    const duration = metric(all, 'http.client.request.duration')
    expect(duration.descriptor).toMatchObject({
      unit: 's',
      description: 'Duration of HTTP client requests.',
    })
    expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM)
    const server = {
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': port,
    }
    const byStatus = (status: number) =>
      points<Histogram>(duration, { 'server.port': port, 'http.response.status_code': status })
    const [ok] = byStatus(200)
    const [unavailable] = byStatus(503)
    const [refused] = byStatus(400)
    expect(ok?.attributes).toEqual({ ...server, 'http.response.status_code': 200 })
    expect(ok?.value.count).toBe(2)
    expect(unavailable?.attributes).toEqual({
      ...server,
      'http.response.status_code': 503,
      'error.type': '503',
    })
    expect(unavailable?.value.count).toBe(1)
    expect(refused?.attributes).toEqual({
      ...server,
      'http.response.status_code': 400,
      'error.type': '400',
    })
    expect(refused?.value.count).toBe(1)
    expect(ok?.value.buckets.boundaries).toEqual(HTTP_BUCKETS)
    expect(ok?.value.min).toBeGreaterThan(0)
    expect(ok?.value.max).toBeLessThan(5)

    const queue = { 'analytics_webhooks.queue': 'outcomes' }
    const deliveries = metric(all, 'analytics_webhooks.deliveries')
    expect(deliveries.descriptor.unit).toBe('{delivery}')
    expect(deliveries.dataPointType).toBe(DataPointType.SUM)
    expect(
      points<number>(deliveries, queue)
        .map((p): Record<string, unknown> => ({ ...p.attributes, value: p.value }))
        .sort((a, b) =>
          String(a['analytics_webhooks.outcome']).localeCompare(
            String(b['analytics_webhooks.outcome']),
          ),
        ),
    ).toEqual([
      { ...queue, 'analytics_webhooks.outcome': 'dead', 'error.type': 'http_4xx', value: 1 },
      { ...queue, 'analytics_webhooks.outcome': 'delivered', value: 2 },
      { ...queue, 'analytics_webhooks.outcome': 'retried', 'error.type': 'http_5xx', value: 1 },
    ])

    const sinceEnqueue = metric(all, 'analytics_webhooks.delivery.duration')
    expect(sinceEnqueue.descriptor.unit).toBe('s')
    const [enqueued] = points<Histogram>(sinceEnqueue, queue)
    expect(enqueued?.attributes).toEqual(queue)
    expect(enqueued?.value.count).toBe(2)
    // The flaky event waited out its retry delay (20-40 ms) before it was delivered.
    expect(enqueued?.value.max).toBeGreaterThanOrEqual(0.01)
    expect(enqueued?.value.max).toBeLessThan(10)

    const attempts = metric(all, 'analytics_webhooks.delivery.attempts')
    expect(attempts.descriptor.unit).toBe('{attempt}')
    const [tries] = points<Histogram>(attempts, queue)
    expect(tries?.value).toMatchObject({ count: 2, sum: 3, min: 1, max: 2 })

    const depth = metric(all, 'analytics_webhooks.queue.depth')
    expect(depth.dataPointType).toBe(DataPointType.GAUGE)
    expect(depth.descriptor.unit).toBe('{delivery}')
    expect(
      Object.fromEntries(
        points<number>(depth, queue).map((p) => [
          p.attributes['analytics_webhooks.queue.state'],
          p.value,
        ]),
      ),
    ).toEqual({ queued: 0, in_flight: 0, retrying: 0, dead: 1 })

    const spans = attemptSpans(port)
    expect(spans).toHaveLength(4)
    const linkedTo = (traceId: string) =>
      spans.filter((s) => s.links.some((link) => link.context.traceId === traceId))
    for (const span of spans) {
      expect(span.kind).toBe(SpanKind.CLIENT)
      expect(span.name).toBe('POST')
      // A trace of its own, linked to the tracking trace, not a child of it.
      expect(span.parentSpanContext).toBeUndefined()
      expect(span.links).toHaveLength(1)
      expect(span.spanContext().traceId).not.toBe(span.links[0]?.context.traceId)
      expect(span.attributes).toMatchObject({
        ...server,
        'url.full': receiver.url,
        'analytics_webhooks.queue': 'outcomes',
      })
    }
    const [delivered] = linkedTo(traces.ok)
    expect(delivered?.attributes['http.response.status_code']).toBe(200)
    expect(delivered?.attributes['error.type']).toBeUndefined()
    expect(delivered?.attributes['http.request.resend_count']).toBeUndefined()
    expect(delivered?.status.code).toBe(SpanStatusCode.UNSET)

    const flaky = linkedTo(traces.flaky).sort(
      (a, b) => a.startTime[1] - b.startTime[1] + (a.startTime[0] - b.startTime[0]) * 1e9,
    )
    expect(flaky.map((s) => s.attributes['http.response.status_code'])).toEqual([503, 200])
    expect(flaky[0]?.attributes).toMatchObject({
      'error.type': '503',
      'analytics_webhooks.reason': 'http_5xx',
    })
    expect(flaky[0]?.status.code).toBe(SpanStatusCode.ERROR)
    expect(flaky[0]?.attributes['http.request.resend_count']).toBeUndefined()
    expect(flaky[1]?.attributes['http.request.resend_count']).toBe(1)
    expect(flaky[1]?.attributes['error.type']).toBeUndefined()
    expect(flaky[1]?.status.code).toBe(SpanStatusCode.UNSET)

    const [dead] = linkedTo(traces.refused)
    expect(dead?.attributes).toMatchObject({
      'http.response.status_code': 400,
      'error.type': '400',
      'analytics_webhooks.reason': 'http_4xx',
    })
    expect(dead?.status.code).toBe(SpanStatusCode.ERROR)
    // Nothing asked for it: receivers get no tracing header.
    expect(receiver.requests.every((r) => r.headers.traceparent === undefined)).toBe(true)
  })

  it('a failure with no response has the reason as error.type and no status code', async () => {
    const port = await closedPort()
    const url = `http://127.0.0.1:${port}/hook`
    const webhooks = plugin(
      { webhooks: [url] },
      {
        store: { sqlite: { path: freshPath() } },
        queue: 'refused',
        retry: { baseDelayMs: 60_000 },
      },
    )
    const retried = new Promise<void>((resolve) => webhooks.on('retry', () => resolve()))
    const analytics = testAnalytics()
    await analytics.register(webhooks)
    analytics.track({ userId: 'u1', event: 'Nobody Home' })
    await analytics.closeAndFlush()
    await retried

    const [point] = points<Histogram>(metric(await collect(), 'http.client.request.duration'), {
      'server.port': port,
    })
    expect(point?.attributes).toEqual({
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': port,
      'error.type': 'connection_refused',
    })
    const [span] = attemptSpans(port)
    expect(span?.attributes['http.response.status_code']).toBeUndefined()
    expect(span?.attributes['error.type']).toBe('connection_refused')
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    // Tracked outside any span: nothing to link to.
    expect(span?.links).toEqual([])
  })
})

describe('links', () => {
  it('a batch links to each distinct trace its events were tracked in, once each', async () => {
    receiver = await startReceiver()
    const analytics = testAnalytics()
    const webhooks = plugin(
      { webhooks: [receiver.url], batchSize: 10 },
      { store: { sqlite: { path: freshPath() } }, queue: 'batch' },
    )
    await analytics.register(webhooks)
    const checkout = tracer.startActiveSpan('checkout', (span) => {
      for (let i = 0; i < 3; i++) analytics.track({ userId: 'u1', event: `Step ${i}` })
      span.end()
      return span.spanContext()
    })
    const signup = tracer.startActiveSpan('signup', (span) => {
      analytics.track({ userId: 'u2', event: 'Signed Up' })
      analytics.track({ userId: 'u2', event: 'Verified' })
      span.end()
      return span.spanContext()
    })
    analytics.track({ userId: 'u3', event: 'Outside Any Span' })
    await analytics.closeAndFlush()
    await webhooks.drain({ timeoutMs: 10_000 })
    // One request with the six events (they were committed together), so one span.
    expect(receiver.requests).toHaveLength(1)
    expect(JSON.parse(receiver.requests[0]?.body ?? '[]')).toHaveLength(6)
    const [span] = attemptSpans(portOf(receiver.url))
    expect(span?.links.map((link) => link.context.traceId).sort()).toEqual(
      [checkout.traceId, signup.traceId].sort(),
    )
    // The first event of each trace: the span that was active around its track call.
    const checkoutLink = span?.links.find((link) => link.context.traceId === checkout.traceId)
    expect(checkoutLink?.context).toMatchObject({ spanId: checkout.spanId, isRemote: true })
  })

  it('links to the tracking trace when another process delivers the event after a restart', async () => {
    const path = freshPath()
    const down = await closedPort()
    // The first process tracks inside a span while the receiver is down, sees its attempt fail, and exits.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'telemetry-enqueue.ts'),
        path,
        `http://127.0.0.1:${down}/hook`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let first: { traceId: string; spanId: string } | undefined
    onLines(child.stdout, (line) => {
      if (line.startsWith('{')) first = JSON.parse(line) as { traceId: string; spanId: string }
    })
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(0)
    expect(first?.traceId).toMatch(/^[0-9a-f]{32}$/)

    // This process (another pid, the same SQLite file) delivers it.
    receiver = await startReceiver()
    const webhooks = plugin({ webhooks: [receiver.url] }, { store: { sqlite: { path } } })
    expect(await webhooks.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    expect(JSON.parse(receiver.requests[0]?.body ?? '{}').messageId).toBe('restart-1')
    const [span] = attemptSpans(portOf(receiver.url))
    expect(span?.links.map((link) => link.context)).toEqual([
      { traceId: first?.traceId, spanId: first?.spanId, traceFlags: 1, isRemote: true },
    ])
    expect(span?.attributes['http.request.resend_count']).toBe(1)
  })
})

describe('sendTraceparent', () => {
  it('sends the attempt span’s context as a W3C traceparent header, replacing one among the headers', async () => {
    receiver = await startReceiver()
    const analytics = testAnalytics()
    const webhooks = plugin(
      { webhooks: [receiver.url], headers: { Traceparent: 'not-this-one' } },
      { store: { sqlite: { path: freshPath() } }, queue: 'traceparent', sendTraceparent: true },
    )
    await analytics.register(webhooks)
    trackInSpan(analytics, 'Signed Up')
    await analytics.closeAndFlush()
    await webhooks.drain({ timeoutMs: 10_000 })
    const header = receiver.requests[0]?.headers.traceparent
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    const [span] = attemptSpans(portOf(receiver.url))
    const { traceId, spanId } = span?.spanContext() ?? {}
    expect(header).toBe(`00-${traceId}-${spanId}-01`)
  })

  it('is refused when it is not a boolean', () => {
    expect(() =>
      webhookPlugin(
        { webhooks: ['http://127.0.0.1:9/hook'] },
        { store: { sqlite: { path: freshPath() } }, sendTraceparent: 'yes' as never },
      ),
    ).toThrow('Invalid option sendTraceparent: must be true or false, got yes')
  })
})

describe('the queue-depth gauge', () => {
  it('reads stats(queue) once per collection, and a store that fails observes nothing without failing the collection', async () => {
    receiver = await startReceiver(() => ({ status: 503 }))
    const sqlite = new SqliteQueueStore({ path: freshPath() })
    let statsCalls = 0
    const store: QueueStore = new Proxy(sqlite, {
      get(target, name, receiverObject) {
        const value = Reflect.get(target, name, receiverObject)
        if (name === 'stats') {
          return (...args: Parameters<QueueStore['stats']>) => {
            statsCalls++
            return target.stats(...args)
          }
        }
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const webhooks = plugin(
      { webhooks: [receiver.url] },
      { store, queue: 'depth', retry: { baseDelayMs: 600_000 }, pollIntervalMs: 60_000 },
    )
    const retried = new Promise<void>((resolve) => webhooks.on('retry', () => resolve()))
    const analytics = testAnalytics()
    await analytics.register(webhooks)
    analytics.track({ userId: 'u1', event: 'Waits' })
    await analytics.closeAndFlush()
    await retried

    const queue = { 'analytics_webhooks.queue': 'depth' }
    /** The queue's depth by state as one reader collects it now; `{}` when nothing was observed. */
    const depthNow = async (from = reader, exporter = metricExporter) => {
      const all = await collect(from, exporter)
      const depth = all.find((m) => m.descriptor.name === 'analytics_webhooks.queue.depth')
      return Object.fromEntries(
        (depth === undefined ? [] : points<number>(depth, queue)).map((p) => [
          p.attributes['analytics_webhooks.queue.state'],
          p.value,
        ]),
      )
    }
    const before = statsCalls
    expect(await depthNow()).toEqual({ queued: 1, in_flight: 0, retrying: 1, dead: 0 })
    expect(statsCalls - before).toBe(1)
    expect(await depthNow(deltaReader, deltaExporter)).toEqual({
      queued: 1,
      in_flight: 0,
      retrying: 1,
      dead: 0,
    })
    expect(statsCalls - before).toBe(2)

    // The store closes under the plugin: its stats() throws from now on.
    await sqlite.close()
    const all = await collect()
    expect(metric(all, 'analytics_webhooks.deliveries').dataPoints.length).toBeGreaterThan(0)
    expect(statsCalls - before).toBe(3)
    // Nothing observed: the delta reader has no depth (a cumulative reader repeats the last values).
    expect(await depthNow(deltaReader, deltaExporter)).toEqual({})
    expect(statsCalls - before).toBe(4)
  })
})

describe('events filtered before queueing', () => {
  it('are counted by reason, as the plugin skips them: left out by events, or skipped by transform', async () => {
    receiver = await startReceiver()
    const filtering = plugin(
      { webhooks: [receiver.url], events: { exclude: ['track:Heartbeat', 'page'] } },
      {
        queue: 'filtered',
        store: { sqlite: { path: freshPath() } },
        transform: (payload) => (payload.event === 'Test Order' ? null : payload),
      },
    )
    const analytics = testAnalytics()
    await analytics.register(filtering)
    for (let i = 0; i < 3; i++) analytics.track({ userId: 'u1', event: 'Heartbeat' })
    analytics.page({ userId: 'u1', name: 'Home' })
    analytics.track({ userId: 'u1', event: 'Test Order' })
    analytics.track({ userId: 'u1', event: 'Order Completed' })
    await analytics.closeAndFlush()
    await filtering.drain({ timeoutMs: 10_000 })
    expect((await filtering.stats()).filtered).toBe(5)
    const filtered = metric(await collect(), 'analytics_webhooks.events.filtered')
    expect(filtered.descriptor.unit).toBe('{event}')
    expect(
      points<number>(filtered, { 'analytics_webhooks.queue': 'filtered' })
        .map((p) => [p.attributes['analytics_webhooks.reason'], p.value])
        .sort(),
    ).toEqual([
      ['events', 4],
      ['transform', 1],
    ])
    expect(receiver.requests).toHaveLength(1)
  })
})
