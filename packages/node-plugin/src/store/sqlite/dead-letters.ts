/** The SQLite queue's dead letters: storing them, listing, replaying into the queue, and purging. */

import { type DeadRow, toDeadLetter } from '../dead-row.js'
import { REPLAYABLE_SQL } from '../replayable.js'
import type { DeadLetter, DeadSelection, ReplayResult } from '../types.js'
import type { SqliteConnection, Statement } from './connection.js'

/**
 * The `dead_letters` table of one SQLite store. Methods that change several
 * letters do it in one transaction.
 *
 * @example
 * const dead = new SqliteDeadLetters(sql)
 * dead.list({ queue: 'default', limit: 50 })
 */
export class SqliteDeadLetters {
  private readonly sql: SqliteConnection

  constructor(sql: SqliteConnection) {
    this.sql = sql
  }

  /**
   * The statement that stores one letter (an id already dead is ignored), with
   * arguments queue, id, body, messageId, enqueuedAt, attempts, deadAt, reason,
   * lastStatus, detail; also used when a delivery of a block is killed.
   */
  insert(): Statement {
    return this.sql.statement(
      `INSERT OR IGNORE INTO dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
  }

  /** Stores letters straight in the dead-letter table (for example `invalid_payload`). */
  enqueue(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): void {
    if (letters.length === 0) return
    const insert = this.insert()
    this.sql.transaction(() => {
      for (const l of letters) {
        insert.run(
          queue,
          l.id,
          l.body,
          l.messageId,
          l.enqueuedAt,
          l.attempts,
          l.deadAt,
          l.reason,
          l.lastStatus,
          l.detail,
        )
      }
    })
  }

  /** Dead letters in the order they died. */
  list(options: { queue?: string; limit?: number; offset?: number } = {}): DeadLetter[] {
    const where = options.queue === undefined ? '' : 'WHERE queue = ?'
    const args: unknown[] = options.queue === undefined ? [] : [options.queue]
    const rows = this.sql
      .statement(
        `SELECT queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail
         FROM dead_letters ${where} ORDER BY seq LIMIT ? OFFSET ?`,
      )
      .all(...args, options.limit ?? 100, options.offset ?? 0) as DeadRow[]
    return rows.map(toDeadLetter)
  }

  /** Moves the selected letters that can be sent back into their queues as rows due `now`; counts the rest. */
  replay(selection: DeadSelection, options: { now: number; queue?: string }): ReplayResult {
    const [where, args] = deadWhere(selection, options.queue)
    const take = this.sql.statement(
      `DELETE FROM dead_letters WHERE ${where} AND ${REPLAYABLE_SQL}
       RETURNING seq, queue, id, body, message_id`,
    )
    const left = this.sql.statement(
      `SELECT count(*) AS n FROM dead_letters WHERE ${where} AND NOT ${REPLAYABLE_SQL}`,
    )
    const insert = this.sql.statement(
      `INSERT INTO deliveries (queue, id, message_id, enqueued_at, due_at, ready_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    )
    const insertBody = this.sql.statement('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)')
    const now = options.now
    return this.sql.transaction(() => {
      let replayed = 0
      let unsendable = 0
      for (const a of args) {
        const rows = take.all(...a) as (DeadRow & { seq: number })[]
        rows.sort((x, y) => x.seq - y.seq)
        for (const row of rows) {
          const { lastInsertRowid } = insert.run(row.queue, row.id, row.message_id, now, now, now)
          insertBody.run(lastInsertRowid, row.body)
          replayed++
        }
        unsendable += (left.get(...a) as { n: number }).n
      }
      return { replayed, unsendable }
    })
  }

  /** Deletes the selected letters for good; returns how many. */
  purge(selection: DeadSelection, options: { queue?: string } = {}): number {
    const [where, args] = deadWhere(selection, options.queue)
    const remove = this.sql.statement(`DELETE FROM dead_letters WHERE ${where}`)
    return this.sql.transaction(() => {
      let removed = 0
      for (const a of args) removed += remove.run(...a).changes
      return removed
    })
  }
}

/** The WHERE clause and one argument list per statement run for a dead-letter selection. */
function deadWhere(selection: DeadSelection, queue: string | undefined): [string, unknown[][]] {
  const queueClause = queue === undefined ? '' : ' AND queue = ?'
  const queueArgs = queue === undefined ? [] : [queue]
  if ('all' in selection) return [`1 = 1${queueClause}`, [queueArgs]]
  return [`id = ?${queueClause}`, selection.ids.map((id) => [id, ...queueArgs])]
}
