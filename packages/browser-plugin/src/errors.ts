/** The error the browser plugin raises itself, on core's coded base (settings errors are core's `SettingsError`). */

import { WebhookError } from '@analytics-webhooks/core/errors'

/**
 * What the page cannot run as configured. `insecure_context`: signing needs
 * WebCrypto, which browsers only offer on HTTPS and localhost pages.
 * `invalid_option`: a browser option is not a positive whole number, or a
 * name is not an option (the message suggests the nearest one).
 */
export type BrowserWebhookErrorCode = 'insecure_context' | 'invalid_option'

/**
 * Thrown by `webhookPlugin` when the page cannot run it as configured; it
 * extends core's `WebhookError`. The message names the option and the rule
 * (`maxQueueEvents: must be a positive whole number`), never a secret.
 *
 * @example
 * try { webhookPlugin(settings, { maxQueueEvents: 0 }) } catch (e) {
 *   if (e instanceof BrowserWebhookError && e.code === 'invalid_option') console.warn(e.message)
 * }
 */
export class BrowserWebhookError extends WebhookError<BrowserWebhookErrorCode> {
  override readonly name = 'BrowserWebhookError'
}
