/** Bench child: the plugin on a queue file with a large backlog; reports peak RSS and enqueue latency as JSON. */

import { Context } from '@segment/analytics-node'
import { webhookPlugin } from '../src/index.js'
import { quantile, sampleEvent } from './harness.js'

const [path, url, secondsText] = process.argv.slice(2)
const plugin = webhookPlugin(
  { webhooks: [url as string] },
  { store: { sqlite: { path: path as string } } },
)
await plugin.load(Context.system(), undefined as never)

let peak = process.memoryUsage().rss
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
}, 50)

// Enqueue latency while the worker drains the backlog: bursts of 100 hooks per turn of the event loop.
const latencies: number[] = []
const until = Date.now() + Number(secondsText) * 1000
let i = 0
while (Date.now() < until) {
  const burst: Promise<void>[] = []
  for (let j = 0; j < 100; j++, i++) {
    const ctx = new Context({
      type: 'track',
      timestamp: new Date(),
      ...sampleEvent(10_000_000 + i),
    } as never)
    const start = performance.now()
    burst.push(
      Promise.resolve(plugin.track?.(ctx)).then(() => {
        latencies.push(performance.now() - start)
      }),
    )
  }
  await Promise.all(burst)
  await new Promise((resolve) => setTimeout(resolve, 5))
}
clearInterval(sampler)
peak = Math.max(peak, process.memoryUsage().rss)
const stats = await plugin.stats()
await plugin.close()
latencies.sort((a, b) => a - b)
process.stdout.write(
  `${JSON.stringify({
    peakRssMb: peak / 1024 / 1024,
    enqueued: latencies.length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    backlogAtEnd: stats.queued + stats.inFlight,
    delivered: stats.delivered,
  })}\n`,
)
