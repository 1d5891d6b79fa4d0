/** `@analytics-webhooks/node-plugin/dashboard`: the queue dashboard as a web-standard handler, its `node:http`/Express and Fastify adapters, and the `ui` command's server. */

export type { DeadLetterView, DeadPage } from './dead-letters.js'
export {
  type DashboardFastifyInstance,
  type DashboardFastifyReply,
  type DashboardFastifyRequest,
  fastifyDashboard,
} from './fastify.js'
export {
  type DashboardHandler,
  type DashboardOptions,
  type DashboardSettings,
  type DashboardSource,
  dashboard,
} from './handler.js'
export {
  type NodeDashboardListener,
  type NodeDashboardRequest,
  nodeDashboard,
  type WebHandler,
} from './node.js'
export type { ChartPoint, QueueReading, Sample } from './sampler.js'
export { runUi, UI_TOKEN_ENV, type UiIo } from './ui.js'
