/** The example service on its own: `node dist/main.js --url <webhook URL>`, e.g. against a running inspector. */

import { parseArgs } from 'node:util'
import { runSender } from './sender.js'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:4000/hooks' },
    'segment-host': { type: 'string' },
    db: { type: 'string', default: '.data/node-sender/queue.sqlite' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  console.log(`Usage: node dist/main.js [--url URL] [--segment-host URL] [--db PATH]

Sends one of each event type and a delete through analytics-node and the
webhook plugin. Signs with WEBHOOK_SECRET when it is set.
  --url           webhook URL (default http://127.0.0.1:4000/hooks, the inspector)
  --segment-host  where analytics-node posts its own batches (default: the
                  webhook URL's origin; the inspector answers /v1/batch)
  --db            SQLite queue file (default .data/node-sender/queue.sqlite)`)
  process.exit(0)
}

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
