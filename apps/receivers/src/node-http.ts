/** Plain `node:http` receiver: the verifier wraps the request handler. */

import { createServer, type Server } from 'node:http'
import { verifySignature } from '@analytics-webhooks/verifier/node'
import { logEvents, type ReceiverOptions } from './receiver.js'

/**
 * A `node:http` server that accepts signed webhooks on `POST /segment`.
 *
 * @example
 * createNodeReceiver({ secret: process.env.WEBHOOK_SECRET! }).listen(3000)
 */
export function createNodeReceiver({ secret, onEvents = logEvents }: ReceiverOptions): Server {
  const handle = verifySignature({ secret }, (req, res) => {
    onEvents(req.webhook.events)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ received: req.webhook.events.length }))
  })
  return createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/segment') return void res.writeHead(404).end()
    handle(req, res).catch((error: unknown) => {
      console.error(error)
      res.destroy()
    })
  })
}
