/** The PostgreSQL store's pool, the schema its tables live in, and its wakeup channel, shared by every part of the store. */

import { createHash } from 'node:crypto'
import pg from 'pg'
import { checkPostgresOptions, checkSchemaName, type PostgresConnectionOptions } from './options.js'

/** How to reach the database and where the queue's tables live; or bring your own pool. */
export interface PostgresStoreOptions extends Partial<PostgresConnectionOptions> {
  /** Bring your own pool instead of a `connectionString` (it is not ended by `close()`). */
  readonly pool?: pg.Pool
}

/**
 * The pool a PostgreSQL store queries through (its own, or one it was given)
 * and the names its statements use: `s` is the quoted schema to prefix
 * tables with, `channel` the `NOTIFY` channel that wakes its workers.
 *
 * @example
 * const db = new PostgresConnection({ connectionString: process.env.DATABASE_URL })
 * await db.pool.query(`SELECT count(*) FROM ${db.s}.deliveries`)
 */
export class PostgresConnection {
  readonly pool: pg.Pool
  /** The schema name, checked. */
  readonly schema: string
  /** The schema, quoted for SQL. */
  readonly s: string
  /** The `LISTEN/NOTIFY` channel enqueues, releases and replays notify. */
  readonly channel: string
  private readonly ownsPool: boolean
  /** Prepared statement names, by statement text (see {@link PostgresConnection.run}). */
  private readonly names = new Map<string, string>()

  constructor(options: PostgresStoreOptions) {
    const schema = checkSchemaName(options.schema)
    if (options.pool) {
      this.pool = options.pool
      this.ownsPool = false
    } else {
      checkPostgresOptions(options as PostgresConnectionOptions)
      this.pool = new pg.Pool({
        connectionString: options.connectionString,
        max: options.max ?? 10,
        application_name: options.applicationName ?? 'analytics-webhooks',
      })
      this.ownsPool = true
    }
    // An idle client that loses its server must not crash the process; the next query reports it.
    this.pool.on('error', () => {})
    this.schema = schema
    this.s = `"${schema}"`
    this.channel = `aw_wake_${schema}`
  }

  /**
   * Runs `text` as a named prepared statement on `client` (the pool by
   * default): each connection parses and plans it once, not on every call,
   * which is most of what a queue statement costs PostgreSQL. The name is a
   * digest of the text, so one name never stands for two statements.
   *
   * @example
   * const { rows } = await db.run<{ n: string }>('SELECT count(*) AS n FROM t WHERE q = $1', ['default'])
   */
  run<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: unknown[],
    client: pg.Pool | pg.PoolClient = this.pool,
  ): Promise<pg.QueryResult<R>> {
    let name = this.names.get(text)
    if (name === undefined) {
      name = `aw_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`
      this.names.set(text, name)
    }
    return client.query<R>({ name, text, values })
  }

  /** Runs `work` on one client between `BEGIN` and `COMMIT`, rolled back if it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release()
    }
  }

  /** Ends the pool, unless it was given. */
  async end(): Promise<void> {
    // Checked on the pool too: a close through a wrapper object must not end it a second time.
    if (this.ownsPool && !this.pool.ending && !this.pool.ended) await this.pool.end()
  }
}
