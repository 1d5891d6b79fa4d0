/** The example service: analytics-node with the webhook plugin sends one of each event type and a delete, and reports every delivery's outcome. */

import { webhookPlugin } from '@analytics-webhooks/node-plugin'
import { Analytics } from '@segment/analytics-node'

/** How to run the example service. */
export interface SenderOptions {
  /** Where the webhooks go. */
  webhookUrl: string
  /** Signs every request (`X-Signature`); leave out to send unsigned. */
  sharedSecret?: string
  /** The plugin's SQLite queue file. */
  dbPath: string
  /** Where analytics-node sends its own batches; in this example a local endpoint, never api.segment.io. */
  segmentHost: string
  /** Receives each progress line. Default `console.log`. */
  print?: (line: string) => void
  /** How long to wait for every delivery to land or die. Default 20 s. */
  drainTimeoutMs?: number
}

/** What happened to what the service sent. */
export interface SenderReport {
  /** Events and delete notifications committed to the queue. */
  readonly queued: number
  readonly delivered: number
  /** Failed attempts that were tried again. */
  readonly retries: number
  readonly dead: number
  /** Still waiting when the drain timed out (0 when everything settled). */
  readonly remaining: number
}

const userId = '019mr8mf4r'

/** One call per Segment event type, with the example data of the Webhooks spec. */
const CALLS: ReadonlyArray<{
  type: string
  send: (analytics: Analytics, messageId: string) => void
}> = [
  {
    type: 'page',
    send: (a, messageId) =>
      a.page({
        userId,
        messageId,
        name: 'Pricing',
        properties: {
          path: '/pricing',
          title: 'Segment Pricing',
          url: 'https://segment.com/pricing',
        },
      }),
  },
  {
    type: 'screen',
    send: (a, messageId) => a.screen({ userId, messageId, name: 'Main Screen' }),
  },
  {
    type: 'identify',
    send: (a, messageId) =>
      a.identify({
        userId,
        messageId,
        traits: { email: 'achilles@example.com', name: 'Achilles', plan: 'Premium' },
      }),
  },
  {
    type: 'track',
    send: (a, messageId) =>
      a.track({
        userId,
        messageId,
        event: 'Purchased an Item',
        properties: { revenue: 39.95, shippingMethod: '2-day' },
      }),
  },
  {
    type: 'alias',
    send: (a, messageId) => a.alias({ userId, previousId: 'anonymous-4d2a', messageId }),
  },
  {
    type: 'group',
    send: (a, messageId) =>
      a.group({
        userId,
        groupId: '0e8c78ea9d97a7b8185e8632',
        messageId,
        traits: { name: 'Initech', industry: 'Technology', employees: 329 },
      }),
  },
]

/**
 * Runs the example service once: registers the webhook plugin on
 * analytics-node, sends a page, screen, identify, track, alias and group
 * call and a delete notification, prints each delivery's outcome as the
 * plugin reports it, waits until everything is delivered or dead, and closes.
 *
 * @example
 * const report = await runSender({
 *   webhookUrl: 'http://127.0.0.1:4000/hooks',
 *   sharedSecret: process.env.WEBHOOK_SECRET,
 *   dbPath: '.data/node-sender/queue.sqlite',
 *   segmentHost: 'http://127.0.0.1:4000',
 * })
 * console.log(`${report.delivered} of ${report.queued} delivered`)
 */
export async function runSender(options: SenderOptions): Promise<SenderReport> {
  const print = options.print ?? console.log
  const analytics = new Analytics({
    writeKey: 'demo-write-key',
    host: options.segmentHost,
    flushInterval: 500,
    maxRetries: 0,
  })
  analytics.on('error', (error) => print(`  ! analytics-node: ${describeError(error)}`))
  const webhooks = webhookPlugin(
    { webhooks: [options.webhookUrl], sharedSecret: options.sharedSecret },
    { store: { sqlite: { path: options.dbPath } } },
  )
  const runId = Date.now().toString(36)
  const labels = new Map<string, string>() // messageId -> event type
  let delivered = 0
  let retries = 0
  let dead = 0

  webhooks.on('delivered', (event) => {
    for (const messageId of event.messageIds) {
      delivered += 1
      const label = messageId === null ? 'delete' : (labels.get(messageId) ?? messageId)
      const tries =
        event.attempts === 1 ? 'the first attempt' : `attempt ${event.attempts} (retried)`
      print(`  ✓ ${label.padEnd(8)} delivered: ${event.status ?? '2xx'} on ${tries}`)
    }
  })
  webhooks.on('retry', (event) => {
    retries += event.ids.length
    const wait = Math.max(0, event.at - Date.now())
    const why = event.status === undefined ? event.reason : `${event.status} (${event.reason})`
    const what = event.ids.length === 1 ? 'a delivery' : `${event.ids.length} deliveries`
    print(`  ↻ ${what} got ${why}; the plugin retries in ${(wait / 1000).toFixed(1)} s`)
  })
  webhooks.on('dead', (event) => {
    dead += event.ids.length
    const what = event.ids.length === 1 ? 'a delivery' : `${event.ids.length} deliveries`
    const detail = event.detail ? ` (${event.detail})` : ''
    print(`  ✗ ${what} dead-lettered after ${event.attempts} attempt(s): ${event.reason}${detail}`)
  })
  webhooks.on('error', (error) => print(`  ! webhook plugin: ${error.message}`))

  await analytics.register(webhooks)
  print(`Sending one of each event type and a delete to ${options.webhookUrl}`)
  for (const call of CALLS) {
    const messageId = `${call.type}-${runId}`
    labels.set(messageId, call.type)
    call.send(analytics, messageId)
    print(`  → ${call.type.padEnd(8)} queued (messageId ${messageId})`)
  }
  await webhooks.delete({ userId })
  print(`  → ${'delete'.padEnd(8)} queued (userId ${userId})`)

  // closeAndFlush waits for the plugin's queue commits (not for deliveries) and flushes analytics-node's own batch.
  await analytics.closeAndFlush({ timeout: 10_000 })
  const { remaining } = await webhooks.drain({ timeoutMs: options.drainTimeoutMs ?? 20_000 })
  const stats = await webhooks.stats()
  await webhooks.close()
  return {
    queued: CALLS.length + 1,
    delivered,
    retries,
    dead: Math.max(dead, stats.dead),
    remaining,
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message
  if (error !== null && typeof error === 'object' && 'code' in error) return String(error.code)
  return String(error)
}
