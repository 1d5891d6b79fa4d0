/** Errors the plugin raises itself, each with a stable `code`. */

/** What went wrong in the plugin (settings errors come from core's `SettingsError`). */
export type PluginErrorCode =
  | 'queue_in_use'
  | 'invalid_option'
  | 'closed'
  | 'commit_failed'
  | 'store_failed'

/**
 * An error raised by the webhook plugin. Branch on `code`, not on the message.
 *
 * @example
 * try { webhookPlugin(settings, { queue: 'default' }) } catch (e) {
 *   if (e instanceof WebhookPluginError && e.code === 'queue_in_use') console.log('pick another queue name')
 * }
 */
export class WebhookPluginError extends Error {
  override readonly name = 'WebhookPluginError'
  readonly code: PluginErrorCode

  constructor(code: PluginErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
