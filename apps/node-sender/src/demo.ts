/** `npm start`: the one-command demo. Starts the inspector, runs the example service against it on a fresh SQLite queue, and prints a summary. */

import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createInspector, type Inspector } from '@analytics-webhooks/inspector'
import { runSender } from './sender.js'

const HELP = `Usage: npm start [-- options]

Starts the webhook inspector, sends one of each event type and a delete
through @segment/analytics-node and the webhook plugin, and checks that each
one was delivered with a valid signature. The first delivery is answered
with a 500 on purpose, so you see a retry.

Options:
  --keep-open        keep the inspector running afterwards and print its URL
  --port <n>         inspector port with --keep-open (default 4000, or a free one if taken)
  --data-dir <path>  where the SQLite queue goes (default .data/demo at the repository root; wiped first)
  -h, --help         show this help
`

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

const { values } = parseArgs({
  options: {
    'keep-open': { type: 'boolean' },
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const started = performance.now()
const keepOpen = values['keep-open'] ?? false
const dataDir = resolve(values['data-dir'] ?? join(REPO_ROOT, '.data', 'demo'))
rmSync(dataDir, { recursive: true, force: true })
mkdirSync(dataDir, { recursive: true })
const dbPath = join(dataDir, 'queue.sqlite')

// A fresh secret each run: the inspector verifies with it, and it is never printed.
const secret = randomBytes(24).toString('base64url')
const inspector = await startInspector()
console.log(`Inspector listening on ${inspector.url} (webhooks to ${inspector.hooksUrl})`)
console.log(`Queue: SQLite at ${relative(process.cwd(), dbPath) || dbPath}`)
console.log('The inspector answers the first delivery with a 500 on purpose, to show a retry.\n')
inspector.setMode({ mode: '500', times: 1 })

const report = await runSender({
  webhookUrl: inspector.hooksUrl,
  sharedSecret: secret,
  dbPath,
  segmentHost: inspector.url,
})

console.log(
  `  analytics-node's own batches: ${inspector.segmentBatches()} to the inspector's /v1/batch stand-in (nothing left this machine)`,
)

const received = inspector.deliveries()
const accepted = received.filter((d) => d.answer.status !== null && d.answer.status < 300)
const verified = accepted.filter((d) => d.verdict.status === 'verified').length
const seconds = ((performance.now() - started) / 1000).toFixed(1)
const ok =
  report.delivered === report.queued &&
  report.dead === 0 &&
  report.remaining === 0 &&
  accepted.length > 0 &&
  verified === accepted.length

console.log(
  `\nSummary: delivered ${report.delivered} of ${report.queued}, ` +
    `signatures verified ${verified} of ${accepted.length}, ` +
    `${plural(report.retries, 'retry', 'retries')}, ${report.dead} dead, in ${seconds} s`,
)
// As run from the repository root, where the README's quick start runs and the CLI is linked.
const dbShown = dbPath.startsWith(REPO_ROOT) ? relative(REPO_ROOT, dbPath) : dbPath
console.log(`See the queue: npx analytics-webhooks ui --db ${dbShown} --queue default`)
if (!ok) {
  console.log(
    report.remaining > 0
      ? `FAILED: ${report.remaining} still waiting when the drain timed out`
      : 'FAILED: not every event was delivered with a verified signature',
  )
}

if (keepOpen) {
  // Listen before saying so: a script that reads the URL may stop us right after.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void inspector.close().then(() => process.exit(ok ? 0 : 1)))
  }
  console.log(`\nInspector still running: open ${inspector.url}`)
  console.log(
    `Send it more: curl -X POST ${inspector.hooksUrl} -H 'content-type: application/json' -d '{"type":"track"}'`,
  )
  console.log('Press Ctrl+C to stop.')
} else {
  await inspector.close()
  process.exitCode = ok ? 0 : 1
}

async function startInspector(): Promise<Inspector> {
  if (!keepOpen) return createInspector({ port: 0, secret })
  const port = Number(values.port ?? 4000)
  try {
    return await createInspector({ port, secret })
  } catch (error) {
    if (values.port !== undefined) throw error
    return createInspector({ port: 0, secret })
  }
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`
}
