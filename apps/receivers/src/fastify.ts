/** Fastify receiver: the verifier plugin keeps raw bodies and verifies them in its scope. */

import { verifySignature } from '@analytics-webhooks/verifier/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import { logEvents, type ReceiverOptions } from './receiver.js'

/**
 * A Fastify app that accepts signed webhooks on `POST /segment`. The plugin is
 * registered in its own scope, so other routes keep Fastify's JSON parser.
 *
 * @example
 * await createFastifyReceiver({ secret: process.env.WEBHOOK_SECRET! }).listen({ port: 3000 })
 */
export function createFastifyReceiver({
  secret,
  onEvents = logEvents,
}: ReceiverOptions): FastifyInstance {
  const app = Fastify()
  app.register(async (webhooks) => {
    await webhooks.register(verifySignature, { secret })
    webhooks.post('/segment', async (request) => {
      const { events } = request.webhook!
      onEvents(events)
      return { received: events.length }
    })
  })
  return app
}
