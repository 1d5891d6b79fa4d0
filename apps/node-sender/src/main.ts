/** The example service on its own: `node dist/main.js --url <webhook URL>`, e.g. against a running inspector. */

import { parseArgs } from 'node:util'
import { servePrometheusMetrics } from './prometheus.js'
import { runSender } from './sender.js'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:4000/hooks' },
    'segment-host': { type: 'string' },
    db: { type: 'string', default: '.data/node-sender/queue.sqlite' },
    'metrics-port': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(`Usage: node dist/main.js [--url URL] [--segment-host URL] [--db PATH] [--metrics-port N]

Sends one of each event type and a delete through analytics-node and the
webhook plugin. Signs with WEBHOOK_SECRET when it is set.
  --url           webhook URL (default http://127.0.0.1:4000/hooks, the inspector)
  --segment-host  where analytics-node posts its own batches (default: the
                  webhook URL's origin; the inspector answers /v1/batch)
  --db            SQLite queue file (default .data/node-sender/queue.sqlite)
  --metrics-port  serve the plugin's OpenTelemetry metrics for Prometheus at
                  http://127.0.0.1:N/metrics (0: a free port), and keep serving
                  after the run until Ctrl-C; also METRICS_PORT`)
  process.exit(0)
}

const metricsPort = values['metrics-port'] ?? (process.env.METRICS_PORT || undefined)
if (metricsPort !== undefined && !(/^\d+$/.test(metricsPort) && Number(metricsPort) <= 65_535)) {
  console.error(`--metrics-port must be a port number (0 for a free one), got ${metricsPort}`)
  process.exit(2)
}
// Registered before the plugin loads: the plugin decides when its worker starts whether to measure.
const metrics =
  metricsPort === undefined
    ? undefined
    : await servePrometheusMetrics({ port: Number(metricsPort) })
if (metrics) console.log(`Metrics for Prometheus at ${metrics.url}\n`)

const report = await runSender({
  webhookUrl: values.url,
  sharedSecret: process.env.WEBHOOK_SECRET || undefined,
  dbPath: values.db,
  segmentHost: values['segment-host'] ?? new URL(values.url).origin,
})
console.log(
  `\nDelivered ${report.delivered} of ${report.queued}, ${report.dead} dead, ${report.remaining} waiting`,
)
process.exitCode = report.delivered === report.queued ? 0 : 1

if (metrics) {
  console.log(`Serving metrics at ${metrics.url} until Ctrl-C`)
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await metrics.close()
}
