/** Next.js App Router route handler (`app/api/segment/route.ts`), verified with the verifier's web adapter. */

import { verifyRequest } from '@analytics-webhooks/verifier/web'
import { logEvents, type ReceiverOptions } from './receiver.js'

/**
 * Makes a route handler for a secret; the file's `POST` below is one, reading
 * `WEBHOOK_SECRET` from the environment.
 *
 * @example
 * export const POST = createRouteHandler({ secret: process.env.WEBHOOK_SECRET! })
 */
export function createRouteHandler({ secret, onEvents = logEvents }: ReceiverOptions) {
  return async (request: Request): Promise<Response> => {
    const webhook = await verifyRequest(request, { secret })
    if (webhook instanceof Response) return webhook // 401, 400 or 413 with { "error": code }
    onEvents(webhook.events)
    return Response.json({ received: webhook.events.length })
  }
}

/**
 * What Next.js calls for `POST /api/segment`, with the secret from `WEBHOOK_SECRET`.
 *
 * @example
 * // app/api/segment/route.ts
 * export { POST } from './next-route'
 */
export async function POST(request: Request): Promise<Response> {
  return createRouteHandler({ secret: process.env.WEBHOOK_SECRET ?? '' })(request)
}
