/** The browser demo: analytics-next with the webhook plugin, one button per Segment call, and the plugin's reports in a log. */

import { webhookPlugin } from '@analytics-webhooks/browser-plugin'
import { AnalyticsBrowser } from '@segment/analytics-next'

const DEFAULT_HOOKS_URL = import.meta.env.VITE_HOOKS_URL ?? 'http://127.0.0.1:4000/hooks'
// Demo only: anything in a browser bundle is public, so a real page sends unsigned (see the README).
const secret: string | undefined = import.meta.env.VITE_WEBHOOK_SECRET || undefined

const hooksUrl = new URLSearchParams(location.search).get('hooks') ?? DEFAULT_HOOKS_URL
const input = document.querySelector<HTMLInputElement>('#hooks-url')!
input.value = hooksUrl
document.querySelector('#signing')!.textContent = secret
  ? 'Signing with VITE_WEBHOOK_SECRET (public in a browser: for this demo only).'
  : 'Unsigned: a secret in a browser is public. The inspector shows these as "unsigned".'
document.querySelector('#url-form')!.addEventListener('submit', (event) => {
  event.preventDefault()
  location.search = `?hooks=${encodeURIComponent(input.value)}`
})

const webhooks = webhookPlugin({ webhooks: [hooksUrl], sharedSecret: secret })

const analytics = AnalyticsBrowser.load(
  // Inline settings, so analytics-next never fetches them from Segment's CDN.
  {
    writeKey: 'browser-demo',
    cdnSettings: { integrations: { 'Segment.io': { apiKey: 'browser-demo' } } },
    plugins: [webhooks],
  },
  // And no delivery to api.segment.io: the webhook plugin is the only destination.
  { integrations: { 'Segment.io': false } },
)

const log = document.querySelector('#log')!
function report(kind: string, text: string): void {
  const line = document.createElement('li')
  line.className = kind
  line.textContent = `${new Date().toLocaleTimeString()}  ${kind.padEnd(9)} ${text}`
  log.prepend(line)
}
// delivered, retry and dead come once per request (a batch's events together), as in Node.
webhooks.on('delivered', (r) => report('delivered', `${r.ids.join(', ')} (${r.status ?? '2xx'})`))
webhooks.on('retry', (r) => {
  const wait = ((r.at - Date.now()) / 1000).toFixed(1)
  report('retry', `${r.ids.join(', ')}: ${r.status ?? r.reason}, again in ${wait} s`)
})
webhooks.on('dead', (r) => report('dead', `${r.ids.join(', ')}: ${r.reason}`))
webhooks.on('dropped', (r) => report('dropped', `${r.messageId}: ${r.reason}`))

const userId = 'browser-user-1'
const calls: Record<string, () => unknown> = {
  page: () => analytics.page('Docs', 'Pricing', { path: '/pricing' }),
  screen: () => analytics.screen('Main Screen', { from: 'browser demo' }),
  identify: () => analytics.identify(userId, { email: 'achilles@example.com', plan: 'Premium' }),
  track: () => analytics.track('Purchased an Item', { revenue: 39.95, shippingMethod: '2-day' }),
  alias: () => analytics.alias(userId, 'anonymous-4d2a'),
  group: () => analytics.group('0e8c78ea9d97a7b8185e8632', { name: 'Initech', employees: 329 }),
}
for (const button of document.querySelectorAll<HTMLButtonElement>('[data-call]')) {
  button.addEventListener('click', () => {
    const call = button.dataset.call ?? ''
    void calls[call]?.()
    report('sent', call)
  })
}
