/** Errors raised by the PostgreSQL queue store, each with a stable `code`; none ever carries a connection-string password. */

import { WebhookError } from '@analytics-webhooks/core'

/** What went wrong with the PostgreSQL store. */
export type PostgresStoreErrorCode =
  /** The optional peer dependency `pg` is not installed. */
  | 'pg_not_installed'
  /** Neither `connectionString` nor `pool` was given. */
  | 'missing_connection'
  /** `schema` is not a plain identifier. */
  | 'invalid_schema'
  /** Another option (such as `max`) is out of range. */
  | 'invalid_option'
  /** The queue's schema does not exist (and the store was told not to create it). */
  | 'missing_schema'
  /** The database schema is newer than this version of the plugin. */
  | 'future_schema'
  /** A method was called before `open()` or after `close()`. */
  | 'not_open'
  /** The server could not be reached or refused the connection. */
  | 'connection_failed'

/**
 * Thrown by the PostgreSQL store; it extends core's `WebhookError`. Branch on
 * `code`; the message is for humans and never contains a password.
 *
 * @example
 * try { await store.open() } catch (e) {
 *   if (e instanceof PostgresStoreError && e.code === 'connection_failed') retryLater()
 * }
 */
export class PostgresStoreError extends WebhookError<PostgresStoreErrorCode> {
  override readonly name = 'PostgresStoreError'

  constructor(code: PostgresStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, redactConnectionStrings(message), options)
  }
}

/**
 * Replaces the password of every `postgres://` / `postgresql://` URL in a
 * text with `***`, so a connection string can be shown in a log or an error.
 *
 * @example
 * redactConnectionStrings('postgres://app:s3cret@db:5432/app') // 'postgres://app:***@db:5432/app'
 */
export function redactConnectionStrings(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@')
}

/**
 * A driver error as one line for a `PostgresStoreError` message: its code
 * (`ECONNREFUSED`, a SQLSTATE) and its message.
 *
 * @example
 * describeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))
 * // 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432'
 */
export function describeError(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown }
  const code = typeof e?.code === 'string' ? `${e.code}: ` : ''
  return `${code}${typeof e?.message === 'string' ? e.message : String(error)}`
}
