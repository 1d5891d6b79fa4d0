/** Where a command's queue is (`--db`, or `--database-url` and `--schema`, or the environment), opened for reading and repair: the CLI's commands and the dashboard's `ui` share it. */

import { existsSync } from 'node:fs'
import { WebhookError } from '@analytics-webhooks/core'
import { loadPostgresStore } from './store/index.js'
import { DATABASE_URL_ENV, DEFAULT_POSTGRES_SCHEMA } from './store/postgres/options.js'
import { DB_PATH_ENV, defaultSqlitePath, SqliteQueueStore } from './store/sqlite/store.js'
import type { QueueStore } from './store/types.js'

/** The command-line options that say where the queue is. */
export interface QueueLocation {
  readonly db?: string | undefined
  readonly 'database-url'?: string | undefined
  readonly schema?: string | undefined
}

/** Why a queue could not be opened: `usage` (options that do not go together, exit code 2), `no_database` (no file there, exit code 1). */
export class QueueLocationError extends WebhookError<'usage' | 'no_database'> {
  override readonly name = 'QueueLocationError'
}

/**
 * Opens the queue `location` names: PostgreSQL when asked for, or when only
 * `$DATABASE_URL` says where the queue is; SQLite otherwise, and only a file
 * that exists. It never creates or migrates a queue (a command reads and
 * repairs one; the plugin makes it). `label` names the file or the schema,
 * never the connection string. `connections` bounds the PostgreSQL pool.
 *
 * @example
 * const { store, label } = await openQueueAt({ db: './.data/analytics-webhooks.sqlite' })
 * console.log(label, await store.stats('default'))
 * await store.close()
 */
export async function openQueueAt(
  location: QueueLocation,
  { env = process.env, connections = 1 }: { env?: NodeJS.ProcessEnv; connections?: number } = {},
): Promise<{ store: QueueStore; label: string }> {
  const { db, schema } = location
  if (db !== undefined && location['database-url'] !== undefined)
    throw new QueueLocationError('usage', 'give --db or --database-url, not both')
  const databaseUrl =
    location['database-url'] ??
    (db === undefined && !env[DB_PATH_ENV] ? env[DATABASE_URL_ENV] : undefined)
  if (databaseUrl) {
    const store = await loadPostgresStore({
      connectionString: databaseUrl,
      schema: schema ?? DEFAULT_POSTGRES_SCHEMA,
      max: connections,
      migrate: false,
    })
    try {
      await store.open()
    } catch (error) {
      await store.close()
      throw error
    }
    return { store, label: `PostgreSQL schema ${schema ?? DEFAULT_POSTGRES_SCHEMA}` }
  }
  if (schema !== undefined) throw new QueueLocationError('usage', '--schema needs --database-url')
  const path = db ?? env[DB_PATH_ENV] ?? defaultSqlitePath()
  if (!existsSync(path)) {
    throw new QueueLocationError(
      'no_database',
      `no queue database at ${path} (use --db PATH or --database-url URL)`,
    )
  }
  const store = new SqliteQueueStore({ path })
  store.openSync()
  return { store, label: `SQLite ${path}` }
}
