/** Bench 6's OpenTelemetry SDK: in-memory exporters, registered for the rounds that measure with it and removed after them. */

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
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base'

/**
 * An in-memory span exporter that counts what it is given and lets it go,
 * as a network exporter frees what it sent: keeping 100,000 spans alive for
 * a round would measure the collector's heap, not the plugin.
 */
class CountingSpanExporter extends InMemorySpanExporter {
  exported = 0

  override export(
    spans: ReadableSpan[],
    done: Parameters<InMemorySpanExporter['export']>[1],
  ): void {
    this.exported += spans.length
    super.export(spans, done)
    this.reset()
  }
}

/** A registered SDK; `remove()` flushes it, unregisters it and says how many spans it exported. */
export interface BenchSdk {
  remove(): Promise<{ spans: number }>
}

/**
 * Registers an SDK as an application would before creating the plugin: the
 * async-hooks context manager, a tracer provider batching spans into an
 * in-memory exporter (a queue large enough that no span is dropped: a drop
 * costs less than an export), and a meter provider exporting to an
 * in-memory exporter every second (each collection also reads the queue's
 * depth from the store).
 *
 * @example
 * const sdk = registerSdk()
 * // … run the plugin …
 * const { spans } = await sdk.remove()
 */
export function registerSdk(): BenchSdk {
  const spanExporter = new CountingSpanExporter()
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [
      new BatchSpanProcessor(spanExporter, {
        maxQueueSize: 262_144,
        maxExportBatchSize: 4096,
        scheduledDelayMillis: 500,
      }),
    ],
  })
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
        exportIntervalMillis: 1000,
      }),
    ],
  })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(tracerProvider)
  metrics.setGlobalMeterProvider(meterProvider)
  return {
    async remove() {
      await tracerProvider.forceFlush()
      await meterProvider.forceFlush()
      await tracerProvider.shutdown()
      await meterProvider.shutdown()
      trace.disable()
      metrics.disable()
      context.disable()
      return { spans: spanExporter.exported }
    },
  }
}
