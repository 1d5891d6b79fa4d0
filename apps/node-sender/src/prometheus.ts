/** A Prometheus endpoint for the example service: the OpenTelemetry metrics SDK, registered before the plugin loads, read by Prometheus's exporter. */

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { metrics } from '@opentelemetry/api'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { MeterProvider } from '@opentelemetry/sdk-metrics'

/**
 * Prometheus names carry their unit (`http_client_request_duration_seconds`),
 * as OpenTelemetry's Prometheus compatibility rules and the Collector name
 * them; this exporter version (the last for Node 20) does not add the suffix,
 * so these views do, for the plugin's two histograms in seconds.
 */
const SECONDS_SUFFIX = ['http.client.request.duration', 'analytics_webhooks.delivery.duration'].map(
  (instrumentName) => ({ instrumentName, name: `${instrumentName}_seconds` }),
)

/** A running `/metrics` endpoint. */
export interface PrometheusEndpoint {
  /** Where Prometheus scrapes, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string
  /** Stops serving and unregisters the SDK. */
  close(): Promise<void>
}

/**
 * Registers an OpenTelemetry meter provider whose reader is Prometheus's
 * exporter, and serves it at `/metrics` on `host:port` (port 0: a free one;
 * our own `node:http` server rather than the exporter's, so the URL is known
 * once this resolves). Call it before `analytics.register(webhooks)`: the
 * webhook plugin decides when its worker starts whether an SDK is there.
 *
 * @example
 * const endpoint = await servePrometheusMetrics({ port: 9464 })
 * console.log(`scrape ${endpoint.url}`)
 * await runSender(options)
 * await endpoint.close()
 */
export async function servePrometheusMetrics(options: {
  port: number
  host?: string
}): Promise<PrometheusEndpoint> {
  const host = options.host ?? '127.0.0.1'
  const exporter = new PrometheusExporter({ preventServerStart: true })
  const provider = new MeterProvider({ readers: [exporter], views: SECONDS_SUFFIX })
  metrics.setGlobalMeterProvider(provider)
  const server: Server = createServer((request, response) => {
    if (request.method === 'GET' && request.url?.split('?')[0] === '/metrics') {
      exporter.getMetricsRequestHandler(request, response)
      return
    }
    response.writeHead(404).end('Not found: scrape /metrics\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, host, resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await provider.shutdown()
      metrics.disable()
    },
  }
}
