/** The dashboard as a Fastify plugin: every method and path under its prefix goes to the web-standard handler. */

import type { IncomingMessage, ServerResponse } from 'node:http'
import { serveNode, type WebHandler } from './node.js'

/** The parts of a Fastify request the plugin uses. */
export interface DashboardFastifyRequest {
  readonly raw: IncomingMessage
  readonly body: unknown
}

/** The parts of a Fastify reply the plugin uses. */
export interface DashboardFastifyReply {
  readonly raw: ServerResponse
  hijack(): unknown
}

/** The parts of a Fastify instance the plugin uses. */
export interface DashboardFastifyInstance {
  all(
    path: string,
    handler: (request: DashboardFastifyRequest, reply: DashboardFastifyReply) => Promise<void>,
  ): unknown
}

/**
 * A Fastify plugin serving a web-standard handler under the prefix it is
 * registered with. Fastify has already parsed an action's JSON body by then;
 * the plugin hands it over, takes the reply over (`hijack`) and streams the
 * response, so the live feed is not buffered.
 *
 * @example
 * import Fastify from 'fastify'
 * import { dashboard, fastifyDashboard } from '@analytics-webhooks/node-plugin/dashboard'
 * const app = Fastify()
 * const board = dashboard({ store, queue: 'default' })
 * await app.register(fastifyDashboard(board), { prefix: '/webhooks' })
 * app.addHook('onClose', () => board.close())
 */
export function fastifyDashboard(
  handler: WebHandler,
): (instance: DashboardFastifyInstance) => Promise<void> {
  return async (instance) => {
    const route = async (
      request: DashboardFastifyRequest,
      reply: DashboardFastifyReply,
    ): Promise<void> => {
      reply.hijack()
      // Taken over: Fastify no longer answers for it, so a failure here ends the connection.
      await serveNode(handler, request.raw, reply.raw, request.body).catch(() =>
        reply.raw.destroy(),
      )
    }
    instance.all('/', route)
    instance.all('/*', route)
  }
}
