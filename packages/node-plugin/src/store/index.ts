/** Turns the plugin's `store` option into an opened-on-demand QueueStore. */

import { WebhookPluginError } from '../errors.js'
import { knownKeys } from '../options.js'
import { PostgresStoreError } from './postgres/errors.js'
import {
  checkPostgresOptions,
  DEFAULT_POSTGRES_SCHEMA,
  type PostgresConnectionOptions,
} from './postgres/options.js'
import { SqliteQueueStore, type SqliteStoreOptions } from './sqlite/store.js'
import type { QueueStore } from './types.js'

/** Where the queue lives: SQLite (the default), PostgreSQL (several processes or machines), or any {@link QueueStore} you built yourself. */
export type StoreOption =
  | { readonly sqlite: SqliteStoreOptions }
  | { readonly postgres: PostgresConnectionOptions }
  | QueueStore

/** A resolved `store` option: how to make the store, whether the plugin owns it, and what storage it names. */
export interface StoreChoice {
  /** Identifies the underlying storage, so two plugins cannot share one queue in it by accident. */
  readonly key: string | object
  /** `true` when the plugin creates the store and must close it. */
  readonly owned: boolean
  /** The store in words, for messages: `the SQLite queue at /path` (never a password). */
  readonly label: string
  /** Makes the (unopened) store; async so optional drivers load with a dynamic import. */
  load(): Promise<QueueStore>
  /**
   * Opens the store at once, for stores that can without waiting (SQLite),
   * so an unusable file is reported when the plugin is created, before any
   * event is acknowledged. Throws `WebhookPluginError` `store_unavailable`.
   */
  readonly openNow?: () => void
}

/** The `store.sqlite` option's names. */
const SQLITE_NAMES: readonly string[] = Object.keys({
  path: 0,
  synchronous: 0,
  busyTimeoutMs: 0,
} satisfies Record<keyof SqliteStoreOptions, 0>)

/** The `store.postgres` option's names. */
const POSTGRES_NAMES: readonly string[] = Object.keys({
  connectionString: 0,
  schema: 0,
  max: 0,
  applicationName: 0,
  migrate: 0,
} satisfies Record<keyof PostgresConnectionOptions, 0>)

function isQueueStore(value: unknown): value is QueueStore {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as QueueStore).claim === 'function' &&
    typeof (value as QueueStore).enqueue === 'function'
  )
}

/**
 * Resolves the `store` option synchronously (so a bad option fails at
 * `webhookPlugin(...)`), without opening anything (see
 * {@link StoreChoice.openNow}). `undefined` means SQLite at the default path.
 *
 * @example
 * const choice = resolveStore({ sqlite: { path: './.data/queue.sqlite' } })
 * const store = await choice.load(); await store.open()
 */
export function resolveStore(option: StoreOption | undefined): StoreChoice {
  if (
    option === undefined ||
    (typeof option === 'object' && option !== null && 'sqlite' in option)
  ) {
    knownKeys('store.sqlite', option?.sqlite, SQLITE_NAMES)
    const store = new SqliteQueueStore(option?.sqlite ?? {})
    // An in-memory database is private to its connection: never shared.
    const key = store.path === ':memory:' ? store : `sqlite:${store.path}`
    return {
      key,
      owned: true,
      label: `the SQLite queue at ${store.path}`,
      load: async () => store,
      openNow: () => openSqliteNow(store),
    }
  }
  if (isQueueStore(option)) {
    return { key: option, owned: false, label: 'the queue store', load: async () => option }
  }
  if (typeof option === 'object' && option !== null && 'postgres' in option) {
    knownKeys('store.postgres', option.postgres, POSTGRES_NAMES)
    const postgres = checkPostgresOptions(option.postgres)
    return {
      key: `postgres:${postgres.connectionString}#${postgres.schema ?? ''}`,
      owned: true,
      label: `the PostgreSQL queue in schema ${postgres.schema ?? DEFAULT_POSTGRES_SCHEMA}`,
      load: () => loadPostgresStore(postgres),
    }
  }
  throw new WebhookPluginError(
    'invalid_option',
    'Invalid option store: give { sqlite: { path } }, { postgres: { connectionString } } or a QueueStore instance',
  )
}

/**
 * Opens a SQLite store now, naming the file and SQLite's code when it cannot
 * be used: a directory or an unwritable place at its path, a file that is not
 * a database, or one whose integrity check fails.
 *
 * @example
 * openSqliteNow(new SqliteQueueStore({ path: '/var/lib/app/queue.sqlite' }))
 */
export function openSqliteNow(store: SqliteQueueStore): void {
  try {
    store.openSync()
  } catch (error) {
    const { message, code } = error as { message?: string; code?: string }
    throw new WebhookPluginError(
      'store_unavailable',
      `Cannot use the SQLite queue at ${store.path}: ${message ?? String(error)}${code ? ` (${code})` : ''}`,
      { cause: error },
    )
  }
}

/**
 * Makes an unopened PostgreSQL store; the dynamic import keeps `pg` an optional
 * peer dependency (`PostgresStoreError` `pg_not_installed` when it is missing).
 *
 * @example
 * const store = await loadPostgresStore({ connectionString: process.env.DATABASE_URL ?? '' })
 * await store.open()
 */
export async function loadPostgresStore(options: PostgresConnectionOptions): Promise<QueueStore> {
  let driver: typeof import('./postgres/store.js')
  try {
    driver = await import('./postgres/store.js')
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new PostgresStoreError(
        'pg_not_installed',
        'The PostgreSQL store needs the `pg` package: npm install pg',
        { cause: error },
      )
    }
    throw error
  }
  return new driver.PostgresQueueStore(options)
}

/**
 * Resolves, makes and opens the `store` option.
 *
 * @example
 * const { store, owned } = await openStore({ sqlite: { path: '/var/lib/app/webhooks.sqlite' } })
 */
export async function openStore(
  option: StoreOption | undefined,
): Promise<{ store: QueueStore; owned: boolean }> {
  const choice = resolveStore(option)
  const store = await choice.load()
  await store.open()
  return { store, owned: choice.owned }
}

export { PostgresStoreError, type PostgresStoreErrorCode } from './postgres/errors.js'
export {
  DATABASE_URL_ENV,
  DEFAULT_POSTGRES_SCHEMA,
  type PostgresConnectionOptions,
} from './postgres/options.js'
export {
  DB_PATH_ENV,
  defaultSqlitePath,
  SqliteQueueStore,
  type SqliteStoreOptions,
} from './sqlite/store.js'
export type * from './types.js'
