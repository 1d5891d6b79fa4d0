/** The SQLite store's open database and its statements, each prepared once and shared by every part of the store. */

import type Database from 'better-sqlite3'
import { SqliteStoreError } from './errors.js'

/** A prepared statement, as better-sqlite3 types one whose arguments and rows the caller casts. */
export type Statement = Database.Statement<unknown[], unknown>

/**
 * The database a SQLite store opened, shared with the parts it is
 * made of (rows, blocks, dead letters, stats). Statements are prepared on
 * first use and kept by their SQL text, so a hot path prepares nothing.
 * Every use while the store is closed throws `SqliteStoreError` `store_closed`.
 *
 * @example
 * const sql = new SqliteConnection()
 * sql.attach(new Database(':memory:'))
 * sql.statement('SELECT 1').pluck().get() // 1
 */
export class SqliteConnection {
  private db: Database.Database | undefined
  private statements: Record<string, Statement> = {}

  /** Whether a database is attached (the store is open). */
  get isOpen(): boolean {
    return this.db !== undefined
  }

  /** The open database; throws `store_closed` when there is none. */
  get database(): Database.Database {
    if (!this.db) throw new SqliteStoreError('store_closed', 'The SQLite queue store is not open')
    return this.db
  }

  /** Uses `db` from now on (the store opened it and migrated it). */
  attach(db: Database.Database): void {
    this.db = db
  }

  /** Forgets every statement and closes the database, if one is open. */
  close(): void {
    this.statements = {}
    const db = this.db
    this.db = undefined
    db?.close()
  }

  /** The statement for `sql`, prepared the first time it is asked for. */
  statement(sql: string): Statement {
    let statement = this.statements[sql]
    if (!statement) {
      statement = this.database.prepare(sql)
      this.statements[sql] = statement
    }
    return statement
  }

  /**
   * Runs `work` in one write transaction and returns what it returns. It
   * begins `IMMEDIATE`, taking the write lock first: a deferred transaction
   * that reads and then writes while another process committed in between
   * gets `SQLITE_BUSY` at once instead of waiting out the busy timeout, so
   * processes sharing the file would see locking errors.
   */
  transaction<T>(work: () => T): T {
    return this.database.transaction(work).immediate()
  }
}
