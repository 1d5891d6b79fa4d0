/** Without OpenTelemetry: the built package loads and delivers when `@opentelemetry/api` is not installed, and with the API but no SDK it measures nothing, even once an SDK arrives later. */

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { context, metrics, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterEach, describe, expect, it } from 'vitest'
import { type Receiver, startReceiver, testAnalytics } from '../src/__tests__/receiver.js'
import { webhookPlugin } from '../src/index.js'
import { INSTRUMENTATION_SCOPE } from '../src/telemetry/index.js'
import { onLines } from './fixtures/lines.js'

const FIXTURES = join(import.meta.dirname, 'fixtures')
const DIST = join(import.meta.dirname, '..', 'dist')

let receiver: Receiver | undefined
let dir: string | undefined
afterEach(async () => {
  await receiver?.close()
  receiver = undefined
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

interface ChildReport {
  api: { import: boolean; require: boolean }
  drained: { drained: boolean; remaining: number }
  delivered: number
  errors: string[]
}

/** Runs test/fixtures/deliver-built.mjs on the `format` build, with `@opentelemetry/api` hidden. */
async function deliverWithoutApi(format: 'esm' | 'cjs', url: string): Promise<ChildReport> {
  dir = mkdtempSync(join(tmpdir(), 'aw-no-otel-'))
  const child = spawn(
    process.execPath,
    [
      '--import',
      join(FIXTURES, 'without-opentelemetry.mjs'),
      join(FIXTURES, 'deliver-built.mjs'),
      format,
      join(dir, 'queue.sqlite'),
      url,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let report: ChildReport | undefined
  onLines(child.stdout, (line) => {
    if (line.startsWith('{')) report = JSON.parse(line) as ChildReport
  })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  expect(code).toBe(0)
  if (report === undefined) throw new Error('the child printed no report')
  return report
}

describe('without @opentelemetry/api installed', () => {
  it.each(['esm', 'cjs'] as const)('the %s build loads and delivers', async (format) => {
    if (!existsSync(join(DIST, format === 'esm' ? 'index.js' : 'index.cjs'))) {
      throw new Error(`${DIST} is missing the ${format} build: build the package first (npx tsup)`)
    }
    receiver = await startReceiver()
    const report = await deliverWithoutApi(format, receiver.url)
    // The child could not load the API either way: it was really absent.
    expect(report.api).toEqual({ import: false, require: false })
    expect(report.drained).toEqual({ drained: true, remaining: 0 })
    expect(report.delivered).toBe(1)
    expect(report.errors).toEqual([])
    expect(receiver.requests).toHaveLength(1)
    expect(JSON.parse(receiver.requests[0]?.body ?? '{}').messageId).toBe(`built-${format}`)
    // sendTraceparent was set, but there is no span to send.
    expect(receiver.requests[0]?.headers.traceparent).toBeUndefined()
  })
})

describe('with the API but no SDK registered when the worker starts', () => {
  it('measures nothing and delivers, and an SDK registered afterwards gets nothing from this plugin', async () => {
    receiver = await startReceiver()
    dir = mkdtempSync(join(tmpdir(), 'aw-no-sdk-'))
    const analytics = testAnalytics()
    const webhooks = webhookPlugin(
      { webhooks: [receiver.url] },
      { store: { sqlite: { path: join(dir, 'queue.sqlite') } }, sendTraceparent: true },
    )
    await analytics.register(webhooks)
    analytics.track({ userId: 'u1', event: 'Before Any SDK' })
    await analytics.closeAndFlush()
    await webhooks.drain({ timeoutMs: 10_000 })

    // An SDK arrives while the plugin runs: too late, the plugin decided when its worker started.
    const spans = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(spans)],
    })
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
    const meterProvider = new MeterProvider({ readers: [reader] })
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    trace.setGlobalTracerProvider(tracerProvider)
    metrics.setGlobalMeterProvider(meterProvider)
    try {
      const later = testAnalytics()
      await later.register(webhooks)
      trace.getTracer('app').startActiveSpan('checkout', (span) => {
        later.track({ userId: 'u1', event: 'After The SDK' })
        span.end()
      })
      await later.closeAndFlush()
      expect(await webhooks.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      expect(receiver.requests).toHaveLength(2)
      await reader.forceFlush()

      const scopes = exporter.getMetrics().flatMap((r) => r.scopeMetrics.map((s) => s.scope.name))
      expect(scopes).not.toContain(INSTRUMENTATION_SCOPE)
      // The app's own span is there: the SDK works, the plugin just never used it.
      expect(spans.getFinishedSpans().map((s) => s.instrumentationScope.name)).toEqual(['app'])
      expect(receiver.requests.map((r) => r.headers.traceparent)).toEqual([undefined, undefined])
    } finally {
      await webhooks.close()
      await meterProvider.shutdown()
      await tracerProvider.shutdown()
      trace.disable()
      metrics.disable()
      context.disable()
    }
  })
})
