/** `webhookPlugin`: the analytics-node destination plugin, a plain object over a {@link WebhookDestination}. */

import {
  DESTINATION_NAME,
  parseSettings,
  type WebhookSettings,
  type WebhookSettingsInput,
} from '@analytics-webhooks/core'
import type { Plugin } from '@segment/analytics-node'
import { version } from '../package.json'
import { type DrainResult, type PluginStats, WebhookDestination } from './destination.js'
import type { Listener, WebhookPluginEvents } from './events.js'
import { destinationOptions, type WebhookPluginOptions } from './options.js'

export type { DrainResult, PluginStats } from './destination.js'
export type { WebhookPluginOptions } from './options.js'

/** The plugin's version, reported to analytics-node (the package's own, inlined at build time). */
export const PLUGIN_VERSION: string = version

/** An analytics-node destination plugin with durable webhook delivery. */
export interface WebhookPlugin extends Plugin {
  /** Queues a deletion notification for `userId`; resolves once it is durable. */
  delete(request: { userId: string; timestamp?: Date | string }): Promise<void>
  /** Resolves when everything queued is delivered or dead, or at the timeout with what is left. Default 30 s. */
  drain(options?: { timeoutMs?: number }): Promise<DrainResult>
  /** Stops delivering (requests in flight finish), commits what is pending and closes the store it opened. */
  close(): Promise<void>
  /** Counts for this plugin's queue, and how many events this plugin filtered (`filtered`). */
  stats(): Promise<PluginStats>
  /** Listens to `delivered`, `retry`, `dead` or `error`; returns a function that stops listening. */
  on<K extends keyof WebhookPluginEvents>(name: K, listener: Listener<K>): () => void
  off<K extends keyof WebhookPluginEvents>(name: K, listener: Listener<K>): void
  /** The validated settings. */
  readonly settings: WebhookSettings
  /** The queue name. */
  readonly queue: string
}

/**
 * Creates the webhook destination for `@segment/analytics-node`. Settings are
 * validated here (a `SettingsError` names the field and the rule). Each event
 * hook resolves once the event is committed to the queue; delivery happens in
 * the background, retried until it lands or dead-lettered.
 *
 * @example
 * import { Analytics } from '@segment/analytics-node'
 * import { webhookPlugin } from '@analytics-webhooks/node-plugin'
 *
 * const analytics = new Analytics({ writeKey })
 * const webhooks = webhookPlugin({ webhooks: ['https://hooks.example.com/segment'], sharedSecret: process.env.WEBHOOK_SECRET })
 * await analytics.register(webhooks)
 * analytics.track({ userId: 'u1', event: 'Signed Up' })
 * await webhooks.delete({ userId: 'u1' })
 */
export function webhookPlugin(
  settingsInput: WebhookSettingsInput,
  options: WebhookPluginOptions = {},
): WebhookPlugin {
  const settings = parseSettings(settingsInput)
  const destination = new WebhookDestination(settings, destinationOptions(settings, options))
  const { enqueue, events } = destination
  const plugin: WebhookPlugin = {
    // Segment's own Webhooks destination's name: `integrations: { Webhooks: false }` skips it.
    name: DESTINATION_NAME,
    type: 'destination',
    version: PLUGIN_VERSION,
    settings,
    queue: destination.queue,
    isLoaded: () => true,
    load: (_ctx, analytics) => destination.load(analytics),
    unload: () => plugin.close(),
    track: enqueue,
    identify: enqueue,
    page: enqueue,
    screen: enqueue,
    group: enqueue,
    alias: enqueue,
    delete: (request) => destination.delete(request),
    drain: (drainOptions) => destination.drain(drainOptions),
    close: () => destination.close(),
    stats: () => destination.stats(),
    on: (name, listener) => events.on(name, listener),
    off: (name, listener) => events.off(name, listener),
  }
  return plugin
}
