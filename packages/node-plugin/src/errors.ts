/** The error the plugin raises itself, on core's coded base, with a stable `code`. */

import { WebhookError } from '@analytics-webhooks/core'

/** What went wrong in the plugin (settings errors come from core's `SettingsError`). */
export type PluginErrorCode =
  /** Another plugin in this process already uses this store and queue. */
  | 'queue_in_use'
  /** An option (named in the message) breaks its rule. */
  | 'invalid_option'
  /** The plugin was closed. */
  | 'closed'
  /** An event could not be committed to the queue (the store's error is the `cause`). */
  | 'commit_failed'
  /** The queue's storage cannot be opened or used (the message names it; the store's error is the `cause`). */
  | 'store_unavailable'

/**
 * An error raised by the webhook plugin; it extends core's `WebhookError`.
 * Branch on `code`, not on the message.
 *
 * @example
 * try { webhookPlugin(settings, { queue: 'default' }) } catch (e) {
 *   if (e instanceof WebhookPluginError && e.code === 'queue_in_use') console.log('pick another queue name')
 * }
 */
export class WebhookPluginError extends WebhookError<PluginErrorCode> {
  override readonly name = 'WebhookPluginError'
}
