/** Express receiver: the verifier's middleware runs before the handler, which reads `req.webhook`. */

import { verifySignature } from '@analytics-webhooks/verifier/express'
import express, { type Express } from 'express'
import { logEvents, type ReceiverOptions } from './receiver.js'

/**
 * An Express app that accepts signed webhooks on `POST /segment` and answers
 * anything unsigned or tampered with 401. Mount the verifier before
 * `express.json()`: it needs the raw bytes.
 *
 * @example
 * createExpressReceiver({ secret: process.env.WEBHOOK_SECRET! }).listen(3000)
 */
export function createExpressReceiver({ secret, onEvents = logEvents }: ReceiverOptions): Express {
  const app = express()
  app.post('/segment', verifySignature({ secret }), (req, res) => {
    const { events } = req.webhook!
    onEvents(events)
    res.json({ received: events.length })
  })
  return app
}
