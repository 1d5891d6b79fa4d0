/** Hono receiver (served by @hono/node-server here; the same app runs on Workers, Bun and Deno). */

import { type WebhookVariables, webhookMiddleware } from '@analytics-webhooks/verifier/web'
import { Hono } from 'hono'
import { logEvents, type ReceiverOptions } from './receiver.js'

/**
 * A Hono app that accepts signed webhooks on `POST /segment`. The middleware
 * verifies with WebCrypto and sets `c.get('webhook')`.
 *
 * @example
 * import { serve } from '@hono/node-server'
 * serve({ fetch: createHonoReceiver({ secret: process.env.WEBHOOK_SECRET! }).fetch, port: 3000 })
 */
export function createHonoReceiver({ secret, onEvents = logEvents }: ReceiverOptions) {
  const app = new Hono<{ Variables: WebhookVariables }>()
  app.post('/segment', webhookMiddleware({ secret }), (c) => {
    const { events } = c.get('webhook')
    onEvents(events)
    return c.json({ received: events.length })
  })
  return app
}
