/** A delivery worker process for the PostgreSQL bench: the plugin on a given store, delivering from `go` until SIGTERM, then its CPU time. */

import { Analytics } from '@segment/analytics-node'
import type { StoreOption } from '../src/index.js'
import { built } from './built.js'

const { webhookPlugin } = built

const [storeJson, url, concurrencyText, batchSizeText] = process.argv.slice(2)
const store = JSON.parse(storeJson as string) as StoreOption

const plugin = webhookPlugin(
  { webhooks: [url as string], batchSize: Number(batchSizeText ?? 1) },
  { store, concurrency: Number(concurrencyText ?? 10) },
)
plugin.on('error', (error) =>
  process.stderr.write(`bench worker ${process.pid}: ${error.message}\n`),
)

// CPU is counted from `go`: loading modules is not delivering.
let cpuAtGo = process.cpuUsage()
process.stdin.setEncoding('utf8')
process.stdin.on('data', (text: string) => {
  if (!text.includes('go')) return
  cpuAtGo = process.cpuUsage()
  // Registering loads the plugin, which starts its delivery worker on the backlog.
  const analytics = new Analytics({ writeKey: 'bench', host: 'http://127.0.0.1:9', maxRetries: 0 })
  analytics.register(plugin).catch((error: Error) => {
    process.stderr.write(`bench worker ${process.pid} failed to start: ${error.message}\n`)
    process.exit(1)
  })
})
process.on('SIGTERM', () => {
  const { user, system } = process.cpuUsage(cpuAtGo)
  process.stdout.write(`cpu ${Math.round((user + system) / 1000)}\n`)
  plugin.close().finally(() => process.exit(0))
})
process.stdout.write('ready\n')
