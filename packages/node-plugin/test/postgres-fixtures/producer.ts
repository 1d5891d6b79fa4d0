/** A producer process for the PostgreSQL multi-process test: tracks events through analytics-node and prints `ack <messageId>` once each is committed. */

import { webhookPlugin } from '../../src/index.js'
import { offlineAnalytics, trackAcknowledged } from '../fixtures/acknowledged-tracking.js'

const [connectionString, schema, url, countText, leaseText, settingsJson] = process.argv.slice(2)
/** Extra settings for every process of a run (batches and signing), as JSON. */
const extra = JSON.parse(settingsJson ?? '{}') as Record<string, unknown>
const count = Number(countText)

const analytics = offlineAnalytics()
const plugin = webhookPlugin(
  { webhooks: [url as string], ...extra },
  {
    store: {
      postgres: { connectionString: connectionString as string, schema: schema as string, max: 4 },
    },
    leaseMs: Number(leaseText ?? 60_000),
    concurrency: 2,
  },
)
await analytics.register(plugin)
process.stdout.write('ready\n')

await trackAcknowledged(analytics, count, 2)
// Gives back whatever this process claimed, so only the workers deliver from here on.
await plugin.close()
process.stdout.write('done\n')
