/** The SQLite queue's dead letters: storing them, listing, replaying into the queue, and purging. */

import { type DeadRow, toDeadLetter } from '../dead-row.js'
import { REPLAYABLE_SQL } from '../replayable.js'
import type { DeadLetter, DeadListOptions, DeadSelection, ReplayResult } from '../types.js'
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

  /**
   * Dead letters, filtered and paged (see {@link DeadListOptions}): in the
   * order they died, or newest first before a cursor. Across queues, with a
   * filter or a cursor, each queue that has letters (as `dead_counts` says)
   * is read through its own index range and the pages are merged.
   */
  list(options: DeadListOptions = {}): DeadLetter[] {
    const { queue, before, limit = 100, offset = 0 } = options
    const filters: string[] = []
    const args: unknown[] = []
    if (options.reason !== undefined) {
      filters.push('reason = ?')
      args.push(options.reason)
    }
    if (options.messageId !== undefined) {
      filters.push('message_id = ?')
      args.push(options.messageId)
    }
    if (before !== undefined) {
      filters.push('(dead_at, id) < (?, ?)')
      args.push(before.deadAt, before.id)
    }
    const order = before === undefined ? 'seq' : 'dead_at DESC, id DESC'
    const columns = `queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail, seq`
    const where = ['queue = ?', ...filters].join(' AND ')
    // A messageId names a letter or a few: found by it, then sorted. Left to itself, the planner
    // walks the time index past the cursor for them instead, to save that sort.
    const from =
      options.messageId === undefined
        ? 'dead_letters'
        : 'dead_letters INDEXED BY dead_letters_message'
    let rows: DeadRow[]
    if (queue !== undefined) {
      rows = this.sql
        .statement(
          `SELECT ${columns} FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`,
        )
        .all(queue, ...args, limit, offset) as DeadRow[]
    } else if (filters.length === 0) {
      rows = this.sql
        .statement(`SELECT ${columns} FROM dead_letters ORDER BY seq LIMIT ? OFFSET ?`)
        .all(limit, offset) as DeadRow[]
    } else {
      const queues = this.sql
        .statement('SELECT queue FROM dead_counts GROUP BY queue HAVING sum(n) > 0 ORDER BY queue')
        .pluck()
        .all() as string[]
      if (queues.length === 0) return []
      // One page per queue (each an index range), merged: a range across queues has no index.
      const page = `SELECT * FROM (SELECT ${columns} FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT ?)`
      rows = this.sql
        .statement(
          `SELECT * FROM (${queues.map(() => page).join(' UNION ALL ')}) ORDER BY ${order} LIMIT ? OFFSET ?`,
        )
        .all(...queues.flatMap((q) => [q, ...args, limit + offset]), limit, offset) as DeadRow[]
    }
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
  if ('reason' in selection) return [`reason = ?${queueClause}`, [[selection.reason, ...queueArgs]]]
  return [`id = ?${queueClause}`, selection.ids.map((id) => [id, ...queueArgs])]
}
