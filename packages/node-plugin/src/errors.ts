/** The error the plugin raises itself, on core's coded base, with a stable `code`. */

import { asError, WebhookError } from '@analytics-webhooks/core'

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
  /** The queue's storage cannot be opened, or failed while in use (the message names it; the store's error is the `cause`). */
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

/**
 * What the delivery worker reports in an `error` event when its store fails
 * under it (a claim or an outcome that cannot be written: a full disk, a
 * corrupted file, the database gone): `store_unavailable`, naming the store
 * and the store's own message, with its error as the `cause`. The plugin's
 * own errors pass through as they are. Nothing is lost: what could not be
 * recorded is redone when its lease ends.
 *
 * @example
 * storeFailure('the SQLite queue at /var/lib/app/queue.sqlite', new Error('database or disk is full'))
 * // WebhookPluginError store_unavailable: Delivery could not use the SQLite queue at /var/lib/app/queue.sqlite: database or disk is full
 */
export function storeFailure(label: string, error: unknown): WebhookPluginError {
  if (error instanceof WebhookPluginError) return error
  return new WebhookPluginError(
    'store_unavailable',
    `Delivery could not use ${label}: ${asError(error).message}`,
    { cause: error },
  )
}
