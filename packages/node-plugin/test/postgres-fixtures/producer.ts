/** A producer process for the PostgreSQL multi-process test: tracks events through analytics-node and prints `ack <messageId>` once each is committed. */

import { Analytics } from '@segment/analytics-node'
import { webhookPlugin } from '../../src/index.js'

const [connectionString, schema, url, countText, leaseText] = process.argv.slice(2)
const count = Number(countText)

const analytics = new Analytics({
  writeKey: 'test',
  host: 'http://127.0.0.1:9',
  maxRetries: 0,
  flushAt: 1,
  httpClient: { makeRequest: async () => ({ status: 200, statusText: 'OK' }) },
})
const plugin = webhookPlugin(
  { webhooks: [url as string] },
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

for (let i = 0; i < count; i++) {
  const messageId = `m${i}`
  analytics.track({ userId: 'u1', event: 'E', messageId, properties: { i } }, (error) => {
    // The callback runs after every destination's hook resolved: ours resolves after the commit.
    if (!error) process.stdout.write(`ack ${messageId}\n`)
  })
  if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 2))
}
await analytics.closeAndFlush()
// Gives back whatever this process claimed, so only the workers deliver from here on.
await plugin.close()
process.stdout.write('done\n')
