/** @analytics-webhooks/browser-plugin: signed webhooks from @segment/analytics-next, with a retry queue persisted in localStorage. */

export type {
  DeadReport,
  DeliveredReport,
  DeliveryReports,
  RetryReport,
} from '@analytics-webhooks/core/destination'
export { DESTINATION_NAME } from '@analytics-webhooks/core/destination'
export { PayloadError, SettingsError, WebhookError } from '@analytics-webhooks/core/errors'
export type { EventsInput } from '@analytics-webhooks/core/filter'
export type { WebhookSettingsInput } from '@analytics-webhooks/core/settings'
export type { Transform } from '@analytics-webhooks/core/transform'
export { BrowserWebhookError, type BrowserWebhookErrorCode } from './errors.js'
export type {
  DropReason,
  QueuedEvent,
  Subscribe,
  WebhookEventMap,
  WebhookEventName,
  WebhookListener,
} from './events.js'
export { type WebhookPlugin, type WebhookPluginOptions, webhookPlugin } from './plugin.js'
export type { Fetch } from './send.js'
