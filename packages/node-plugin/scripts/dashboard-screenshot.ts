/**
 * Takes the README's screenshot of the dashboard (docs/dashboard.png): a real
 * plugin on a real analytics-node pipeline delivers to a local receiver that
 * accepts most events, asks for a retry now and then (500) and refuses a few
 * (400), while `analytics-webhooks ui` serves the page to Chromium, so the
 * counts, the chart and the dead letters are what the page shows for real.
 * Run: `npx tsx scripts/dashboard-screenshot.ts` (needs Chromium; `CHROMIUM_PATH`).
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { launchChromium } from '@analytics-webhooks/testing'
import { startReceiver, testAnalytics } from '../src/__tests__/receiver.js'
import { runUi } from '../src/dashboard/ui.js'
import { webhookPlugin } from '../src/plugin.js'

const OUT = fileURLToPath(new URL('../docs/dashboard.png', import.meta.url))
const SECONDS = 14

const dir = mkdtempSync(join(tmpdir(), 'aw-dashboard-shot-'))
const path = join(dir, 'queue.sqlite')
const receiver = await startReceiver((request) => {
  const event = JSON.parse(request.body) as { event?: string; messageId?: string }
  if (event.event === 'Invoice Sent') return { status: 400 }
  // About one in eight first attempts fails and is retried.
  return Number.parseInt((event.messageId ?? '0').slice(-1), 16) % 8 === 0 &&
    receiver.requests.filter((r) => r.body === request.body).length === 1
    ? { status: 500 }
    : { status: 200 }
})
const plugin = webhookPlugin(
  { webhooks: [receiver.url], sharedSecret: 'screenshot-secret' },
  {
    store: { sqlite: { path } },
    queue: 'default',
    pollIntervalMs: 200,
    retry: { baseDelayMs: 1_500, maxDelayMs: 3_000 },
  },
)
const analytics = testAnalytics()
await analytics.register(plugin)
await plugin.stats()

const stop = new AbortController()
let announce: (url: string) => void = () => undefined
const announced = new Promise<string>((resolve) => {
  announce = resolve
})
const exit = runUi(['--db', path, '--queue', 'default', '--port', '0'], {
  out: (text) => {
    const url = /^Dashboard: (\S+)/.exec(text)?.[1]
    if (url) announce(url)
  },
  err: (text) => console.error(text),
  signal: stop.signal,
})
const browser = await launchChromium()
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  await page.goto(await announced)
  await page.locator('#live', { hasText: 'live' }).waitFor()
  const names = ['Order Completed', 'Product Viewed', 'Signed Up', 'Cart Updated']
  for (let second = 0; second < SECONDS; second++) {
    const burst = 40 + Math.round(30 * Math.sin(second / 2) ** 2)
    for (let i = 0; i < burst; i++) {
      analytics.track({
        userId: `user-${(second * 97 + i) % 500}`,
        event: names[i % names.length] as string,
        properties: { orderId: `o-${second}-${i}`, revenue: 19.5 + i, currency: 'USD' },
      })
    }
    if (second % 4 === 1) {
      analytics.track({
        userId: `user-${second}`,
        event: 'Invoice Sent',
        properties: { invoiceId: `inv-${1000 + second}`, amount: 240, note: '<b>net 30</b>' },
      })
    }
    if (second === 6)
      analytics.track({ userId: 'user-7', event: 'Refund Issued', properties: { cents: 10n } })
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  await plugin.drain({ timeoutMs: 10_000 })
  await new Promise((resolve) => setTimeout(resolve, 2500))
  await page.screenshot({ path: OUT, fullPage: true })
  console.log(`wrote ${OUT}`)
} finally {
  await browser.close()
  stop.abort()
  await exit
  await analytics.closeAndFlush({ timeout: 1000 })
  await plugin.close()
  await receiver.close()
  rmSync(dir, { recursive: true, force: true })
}
