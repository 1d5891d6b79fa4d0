/** The error the SQLite queue store raises itself, on core's coded base, with a stable `code`. */

import { WebhookError } from '@analytics-webhooks/core'

/** What went wrong with the SQLite store. */
export type SqliteStoreErrorCode =
  /** A method was called before `open()` or after `close()`. */
  | 'store_closed'
  /** The file's integrity check failed on open (`PRAGMA quick_check`): its pages are damaged. */
  | 'corrupt'

/**
 * Thrown by the SQLite store; it extends core's `WebhookError`. Branch on
 * `code`, not on the message.
 *
 * @example
 * try { await store.nextDueAt('default') } catch (e) {
 *   if (e instanceof SqliteStoreError && e.code === 'store_closed') await store.open()
 * }
 */
export class SqliteStoreError extends WebhookError<SqliteStoreErrorCode> {
  override readonly name = 'SqliteStoreError'
}
