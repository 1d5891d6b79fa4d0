/** @analytics-webhooks/browser-plugin: signed webhooks from @segment/analytics-next, with a retry queue persisted in localStorage. */

export { SettingsError } from '@analytics-webhooks/core/errors'
export type { WebhookSettingsInput } from '@analytics-webhooks/core/settings'
export type {
  DropReason,
  QueuedEvent,
  Subscribe,
  WebhookEventMap,
  WebhookEventName,
  WebhookListener,
} from './events.js'
export {
  type WebhookPlugin,
  WebhookPluginError,
  type WebhookPluginOptions,
  webhookPlugin,
} from './plugin.js'
export type { Fetch } from './send.js'
