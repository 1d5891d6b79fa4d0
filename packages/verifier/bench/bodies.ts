/** The bench's webhook bodies: a small event, a typical Segment track event with context, and a batch of 100 of those. */

import { assembleBatch, encodeEvent, singleBody, type WebhookBody } from '@analytics-webhooks/core'

function smallEvent(): string {
  return encodeEvent({
    type: 'track',
    event: 'Signed Up',
    userId: 'user-1',
    anonymousId: '8c2b1a7e-4d3f-4e9a-b1c2-3d4e5f6a7b8c',
    messageId: 'ajs-next-1767225600000-0',
    timestamp: new Date(1_767_225_600_000),
    properties: { plan: 'pro' },
    context: { library: { name: 'analytics-node', version: '2.1.0' } },
  })
}

/** A track event as analytics.js sends it from a browser: full context, a few products. */
function typicalEvent(i: number): string {
  return encodeEvent({
    type: 'track',
    event: 'Order Completed',
    userId: `user-${i}`,
    anonymousId: '8c2b1a7e-4d3f-4e9a-b1c2-3d4e5f6a7b8c',
    messageId: `ajs-next-1767225600000-${i}`,
    timestamp: new Date(1_767_225_600_000 + i),
    originalTimestamp: new Date(1_767_225_599_870 + i).toISOString(),
    sentAt: new Date(1_767_225_599_950 + i).toISOString(),
    channel: 'client',
    properties: {
      orderId: `o-${i}`,
      total: 81.9,
      revenue: 74.45,
      shipping: 3.5,
      tax: 3.95,
      currency: 'EUR',
      coupon: 'SPRING25',
      products: [
        { product_id: 'p-507', sku: 'GT-10', name: 'Trail shoes', price: 59.95, quantity: 1 },
        { product_id: 'p-123', sku: 'SK-02', name: 'Socks — wool', price: 7.25, quantity: 2 },
      ],
    },
    context: {
      ip: '203.0.113.9',
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
      userAgent:
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
      library: { name: 'analytics.js', version: 'next-1.70.0' },
      page: {
        path: '/checkout/complete',
        referrer: 'https://shop.example.com/checkout',
        search: '?step=3',
        title: 'Thank you for your order',
        url: 'https://shop.example.com/checkout/complete?step=3',
      },
      campaign: { name: 'spring', source: 'newsletter', medium: 'email' },
      screen: { width: 1512, height: 982, density: 2 },
    },
    integrations: { All: true, 'Google Analytics': false },
  })
}

/** The three bodies, named by size. */
export function bodies(): Array<{ label: string; body: WebhookBody }> {
  const small = singleBody(smallEvent())
  const typical = singleBody(typicalEvent(0))
  const batch = assembleBatch(
    Array.from({ length: 100 }, (_, i) => typicalEvent(i)),
    { maxEvents: 100 },
  ).body
  const kb = (text: string) => `${(Buffer.byteLength(text) / 1024).toFixed(1)} KB`
  return [
    { label: `small event, ${Buffer.byteLength(small.json)} B`, body: small },
    { label: `typical track event, ${kb(typical.json)}`, body: typical },
    { label: `batch of ${batch.count} typical, ${kb(batch.json)}`, body: batch },
  ]
}
