/** A delivery worker process for the PostgreSQL multi-process test and bench: the plugin on a shared database, delivering until told to stop. */

import { Analytics } from '@segment/analytics-node'
import { webhookPlugin } from '../../src/index.js'

const [connectionString, schema, url, leaseText, concurrencyText, settingsJson] =
  process.argv.slice(2)
/** Extra settings for every process of a run (batches and signing), as JSON. */
const extra = JSON.parse(settingsJson ?? '{}') as Record<string, unknown>

const plugin = webhookPlugin(
  { webhooks: [url as string], ...extra },
  {
    store: {
      postgres: { connectionString: connectionString as string, schema: schema as string, max: 4 },
    },
    leaseMs: Number(leaseText ?? 60_000),
    concurrency: Number(concurrencyText ?? 10),
    pollIntervalMs: 250,
  },
)
plugin.on('error', (error) =>
  process.stderr.write(`worker ${process.pid} error: ${error.message}\n`),
)

// Start delivering when the parent says so, so every worker starts on the same backlog.
process.stdin.setEncoding('utf8')
process.stdin.on('data', (text: string) => {
  if (text.includes('go')) {
    // Registering with analytics-node loads the plugin, which starts its delivery worker.
    const analytics = new Analytics({ writeKey: 'test', host: 'http://127.0.0.1:9', maxRetries: 0 })
    analytics.register(plugin).then(
      () => process.stdout.write('started\n'),
      (error: Error) => {
        process.stderr.write(`worker ${process.pid} failed to start: ${error.message}\n`)
        process.exit(1)
      },
    )
  }
})
process.on('SIGTERM', () => {
  plugin.close().finally(() => process.exit(0))
})
process.stdout.write('ready\n')
