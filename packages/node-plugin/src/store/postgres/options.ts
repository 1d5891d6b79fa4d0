/** The `store: { postgres: … }` option and its checks, without loading `pg` (an optional peer dependency). */

import { PostgresStoreError } from './errors.js'

/** The schema used when none is given. */
export const DEFAULT_POSTGRES_SCHEMA = 'analytics_webhooks'

/** The environment variable the CLI (and the tests) read a connection string from. */
export const DATABASE_URL_ENV = 'DATABASE_URL'

/** How to reach PostgreSQL and where the queue's tables live: the plugin's `store: { postgres }` option. */
export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:5432/db` (the password never appears in errors). */
  readonly connectionString: string
  /** The schema holding the queue's tables, created on first open. Default `analytics_webhooks`. */
  readonly schema?: string
  /** Most connections the store's pool opens (one more is used to listen for wakeups). Default 10. */
  readonly max?: number
  /** Reported in `pg_stat_activity`. Default `analytics-webhooks`. */
  readonly applicationName?: string
  /**
   * `true` (default): `open()` creates the schema or migrates it. `false`:
   * `open()` only checks that the queue's schema exists (`missing_schema`
   * otherwise), for tools such as the CLI that must not create tables.
   */
  readonly migrate?: boolean
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/

/**
 * Checks a schema name: letters, digits and `_`, not starting with a digit,
 * at most 48 characters (the wakeup channel's name must fit in 63). Returns it,
 * or the default when `undefined`; throws `PostgresStoreError` `invalid_schema`.
 *
 * @example
 * checkSchemaName(undefined) // 'analytics_webhooks'
 * checkSchemaName('webhooks_eu') // 'webhooks_eu'
 */
export function checkSchemaName(schema: string | undefined): string {
  const name = schema ?? DEFAULT_POSTGRES_SCHEMA
  if (typeof name !== 'string' || !SCHEMA_NAME.test(name)) {
    throw new PostgresStoreError(
      'invalid_schema',
      `Invalid PostgreSQL schema name ${JSON.stringify(String(name).slice(0, 80))}: letters, digits and _ only, at most 48 characters, not starting with a digit`,
    )
  }
  return name
}

/**
 * Checks the `store: { postgres }` option synchronously, so a bad option fails
 * when the plugin is created rather than at the first commit.
 *
 * @example
 * checkPostgresOptions({ connectionString: process.env.DATABASE_URL ?? '' }) // throws missing_connection if empty
 */
export function checkPostgresOptions(
  options: PostgresConnectionOptions,
): PostgresConnectionOptions {
  if (typeof options?.connectionString !== 'string' || options.connectionString.length === 0) {
    throw new PostgresStoreError('missing_connection', 'PostgreSQL store needs a connectionString')
  }
  checkSchemaName(options.schema)
  if (options.max !== undefined && (!Number.isInteger(options.max) || options.max < 1)) {
    throw new PostgresStoreError(
      'invalid_option',
      `Invalid PostgreSQL option max: a whole number >= 1, got ${options.max}`,
    )
  }
  return options
}
