/** The SQLite store's open database and its statements, each prepared once and shared by every part of the store. */

import { statfsSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import type Database from 'better-sqlite3'
import { SqliteStoreError } from './errors.js'

/** How often, at most, a commit looks at the disk's free space beside the write-ahead log's size. */
const SPACE_CHECK_MS = 250

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
  /** A commit failed for lack of space and the write-ahead log has not been emptied since. */
  private walToReclaim = false
  /** When a commit next looks at the free space (see {@link watchSpace}). */
  private spaceCheckAt = 0

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
   * processes sharing the file would see locking errors. When the disk is
   * full, the write-ahead log is checkpointed and truncated (before the error
   * is rethrown, and after the first commit that fits again if that failed
   * too), so the space it held is free for the commits after it. Before the
   * disk fills, a log that outgrows the free space is emptied while it still
   * can be (see {@link watchSpace}).
   */
  transaction<T>(work: () => T): T {
    const db = this.database
    let result: T
    try {
      result = db.transaction(work).immediate()
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_FULL') {
        this.walToReclaim = true
        this.walToReclaim = !reclaimWal(db)
      }
      throw error
    }
    // The first commit that fits after a full disk: the log is still as large as the disk
    // allowed, so empty it now, while there is room to copy it into the database.
    if (this.walToReclaim) this.walToReclaim = !reclaimWal(db)
    else this.watchSpace(db)
    return result
  }

  /**
   * Emptying the write-ahead log copies its pages into the database, which
   * needs free space for them while the log still holds its own. On a small
   * or nearly full disk the log never reaches the automatic checkpoint (every
   * ~8 MB) and ends up holding most of the queue; once the disk is full,
   * freeing a little space is then not enough to empty it, and nothing can be
   * written until much more is freed. So, every {@link SPACE_CHECK_MS} at
   * most, a commit compares the log with the disk's free space, and empties
   * the log while the free space is still more than twice its size.
   */
  private watchSpace(db: Database.Database): void {
    const now = Date.now()
    if (now < this.spaceCheckAt || db.memory) return
    this.spaceCheckAt = now + SPACE_CHECK_MS
    try {
      const wal = statSync(`${db.name}-wal`).size
      const { bavail, bsize } = statfsSync(dirname(db.name))
      if (bavail * bsize < 4 * wal) reclaimWal(db)
    } catch {
      // No log file yet, or a file system that cannot say: nothing to watch.
    }
  }
}

/**
 * After `SQLITE_FULL`: copies the write-ahead log into the database and
 * truncates it (`wal_checkpoint(TRUNCATE)`). The log holds every page
 * written since the last checkpoint, often many versions of the same pages,
 * so this frees most of what it held; without it, the log only shrinks at
 * the next automatic checkpoint (every ~40 MB). Best effort: it fails while
 * there is no room to copy the log into the database, or another process
 * reads it; returns whether the log was emptied.
 */
function reclaimWal(db: Database.Database): boolean {
  // Not waiting out the busy timeout for readers in other processes: the next commit tries again.
  const timeout = db.pragma('busy_timeout', { simple: true }) as number
  db.pragma('busy_timeout = 0')
  try {
    const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[]
    return result?.busy === 0
  } catch {
    return false // still no room: tried again after the next commit
  } finally {
    db.pragma(`busy_timeout = ${timeout}`)
  }
}
