// Bench child (plain Node on the built package, as users run it): the plugin on a queue file with a large backlog; prints peak RSS and enqueue latency as JSON.

import { statSync } from 'node:fs'
import { Context } from '@segment/analytics-node'
import { webhookPlugin } from '../dist/index.js'

const [path, url, secondsText] = process.argv.slice(2)
const plugin = webhookPlugin({ webhooks: [url] }, { store: { sqlite: { path } } })
await plugin.load(Context.system(), undefined)

let peak = process.memoryUsage().rss
let peakWal = 0
const walSize = () => {
  try {
    return statSync(`${path}-wal`).size
  } catch {
    return 0
  }
}
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
  peakWal = Math.max(peakWal, walSize())
}, 50)

// Enqueue latency while the worker drains the backlog: bursts of 100 hooks per turn of the event loop.
const latencies = []
const until = Date.now() + Number(secondsText) * 1000
let i = 0
while (Date.now() < until) {
  const burst = []
  for (let j = 0; j < 100; j++, i++) {
    const ctx = new Context({
      type: 'track',
      timestamp: new Date(),
      userId: `user-${i % 1000}`,
      event: 'Order Completed',
      messageId: `rss-${i}`,
      properties: {
        orderId: `o-${i}`,
        revenue: 39.95,
        currency: 'USD',
        products: [{ sku: 'sku-1', qty: 2 }],
      },
      context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) bench' },
    })
    const start = performance.now()
    burst.push(plugin.track(ctx).then(() => latencies.push(performance.now() - start)))
  }
  await Promise.all(burst)
  await new Promise((resolve) => setTimeout(resolve, 5))
}
clearInterval(sampler)
peak = Math.max(peak, process.memoryUsage().rss)
const stats = await plugin.stats()
await plugin.close()
latencies.sort((a, b) => a - b)
const quantile = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
process.stdout.write(
  `${JSON.stringify({
    peakRssMb: peak / 1024 / 1024,
    peakWalMb: Math.max(peakWal, walSize()) / 1024 / 1024,
    enqueued: latencies.length,
    p50: quantile(0.5),
    p99: quantile(0.99),
    backlogAtEnd: stats.queued + stats.inFlight,
    delivered: stats.delivered,
  })}\n`,
)
