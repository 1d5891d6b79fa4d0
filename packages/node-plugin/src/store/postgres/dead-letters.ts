/** The PostgreSQL queue's dead letters: storing them, listing, replaying into the queue, and purging. */

import { type DeadRow, toDeadLetter } from '../dead-row.js'
import { REPLAYABLE_SQL } from '../replayable.js'
import type { DeadLetter, DeadListOptions, DeadSelection, ReplayResult } from '../types.js'
import type { PostgresConnection } from './connection.js'

/**
 * The `dead_letters` table of one PostgreSQL store: each method is one
 * statement, or one transaction for a replay.
 *
 * @example
 * const dead = new PostgresDeadLetters(db)
 * await dead.list({ queue: 'default', limit: 50 })
 */
export class PostgresDeadLetters {
  private readonly db: PostgresConnection

  constructor(db: PostgresConnection) {
    this.db = db
  }

  /** Stores letters straight in the dead-letter table, arrays unnested into one insert; an id already dead is ignored. */
  async enqueue(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void> {
    if (letters.length === 0) return
    await this.db.pool.query(
      `INSERT INTO ${this.db.s}.dead_letters
         (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       SELECT $1, t.* FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::bigint[], $8::text[], $9::int[], $10::text[])
         AS t(id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       ON CONFLICT (queue, id) DO NOTHING`,
      [
        queue,
        letters.map((l) => l.id),
        letters.map((l) => l.body),
        letters.map((l) => l.messageId),
        letters.map((l) => l.enqueuedAt),
        letters.map((l) => l.attempts),
        letters.map((l) => l.deadAt),
        letters.map((l) => l.reason),
        letters.map((l) => l.lastStatus),
        letters.map((l) => l.detail),
      ],
    )
  }

  /**
   * Dead letters, filtered and paged (see {@link DeadListOptions}): oldest
   * death first, or newest first before a cursor. Across queues, with a
   * filter or a cursor, each queue that has letters is read through its own
   * index range (a lateral join) and the pages merged. `counted`: the schema
   * has `dead_counts` (version 6), which names those queues without reading
   * the letters; a CLI on an older schema it must not migrate finds them in
   * the letters.
   */
  async list(options: DeadListOptions = {}, counted = true): Promise<DeadLetter[]> {
    const { queue, before, offset = 0 } = options
    const limit = options.limit ?? null
    const values: unknown[] = []
    const param = (value: unknown) => {
      values.push(value)
      return `$${values.length}`
    }
    const filters: string[] = []
    if (options.reason !== undefined) filters.push(`d.reason = ${param(options.reason)}`)
    if (options.messageId !== undefined) filters.push(`d.message_id = ${param(options.messageId)}`)
    if (before !== undefined) {
      // A row comparison in the index's collation: one range of (queue, dead_at, id).
      filters.push(
        `(d.dead_at, d.id COLLATE "C") < (${param(before.deadAt)}::bigint, ${param(before.id)}::text COLLATE "C")`,
      )
    }
    const order = before === undefined ? 'dead_at, seq' : 'dead_at DESC, id COLLATE "C" DESC'
    const columns =
      'd.queue, d.id, d.body, d.message_id, d.enqueued_at, d.attempts, d.dead_at, d.reason, d.last_status, d.detail, d.seq'
    const from = `${this.db.s}.dead_letters AS d`
    let text: string
    if (queue !== undefined) {
      const where = [`d.queue = ${param(queue)}`, ...filters].join(' AND ')
      text = `SELECT ${columns} FROM ${from} WHERE ${where} ORDER BY ${order}`
    } else if (filters.length === 0) {
      text = `SELECT ${columns} FROM ${from} ORDER BY ${order}`
    } else {
      const queues = counted
        ? `SELECT queue FROM ${this.db.s}.dead_counts GROUP BY queue HAVING sum(n) > 0`
        : `SELECT DISTINCT queue FROM ${this.db.s}.dead_letters`
      const pageEnd = param(limit === null ? null : limit + offset)
      text = `SELECT p.* FROM (${queues}) AS q CROSS JOIN LATERAL (
                SELECT ${columns} FROM ${from} WHERE d.queue = q.queue AND ${filters.join(' AND ')}
                ORDER BY ${order} LIMIT ${pageEnd}
              ) AS p ORDER BY ${order}`
    }
    const { rows } = await this.db.pool.query<DeadRow>(
      `${text} LIMIT ${param(limit)}::bigint OFFSET ${param(offset)}::bigint`,
      values,
    )
    return rows.map(toDeadLetter)
  }

  /**
   * Moves the selected letters that can be sent back into their queues, due
   * `now`, and notifies each queue that got some; counts the rest.
   */
  async replay(
    selection: DeadSelection,
    options: { now: number; queue?: string },
  ): Promise<ReplayResult> {
    const [ids, reason] = selected(selection)
    if (ids && ids.length === 0) return { replayed: 0, unsendable: 0 }
    const { s, channel } = this.db
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<{ queue: string; n: string }>(
        `WITH moved AS (
           DELETE FROM ${s}.dead_letters
           WHERE ${SELECTED} AND ${REPLAYABLE_SQL}
           RETURNING queue, id, body, message_id, seq
         ), ins AS (
           INSERT INTO ${s}.deliveries (queue, id, body, message_id, enqueued_at, next_attempt_at)
           SELECT queue, id, body, message_id, $4, $4 FROM moved ORDER BY seq
           ON CONFLICT (queue, id) DO NOTHING
           RETURNING queue
         )
         SELECT queue, count(*) AS n FROM ins GROUP BY queue`,
        [options.queue ?? null, ids, reason, options.now],
      )
      const left = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${s}.dead_letters WHERE ${SELECTED} AND NOT ${REPLAYABLE_SQL}`,
        [options.queue ?? null, ids, reason],
      )
      for (const r of rows) await client.query('SELECT pg_notify($1, $2)', [channel, r.queue])
      return {
        replayed: rows.reduce((sum, r) => sum + Number(r.n), 0),
        unsendable: Number(left.rows[0]?.n ?? 0),
      }
    })
  }

  /** Deletes the selected letters for good; returns how many. */
  async purge(selection: DeadSelection, options: { queue?: string } = {}): Promise<number> {
    const [ids, reason] = selected(selection)
    if (ids && ids.length === 0) return 0
    const result = await this.db.pool.query(
      `DELETE FROM ${this.db.s}.dead_letters WHERE ${SELECTED}`,
      [options.queue ?? null, ids, reason],
    )
    return result.rowCount ?? 0
  }
}

/**
 * A selection as a condition on `$1` (the queue), `$2` (the ids) and `$3`
 * (the reason), each `NULL` when it does not narrow it. The statements run
 * unnamed, so each is planned with its values and uses the index they allow.
 */
const SELECTED =
  '($1::text IS NULL OR queue = $1) AND ($2::text[] IS NULL OR id = ANY($2::text[])) AND ($3::text IS NULL OR reason = $3)'

/** The ids (or `null`: any) and the reason (or `null`: any) a selection names. */
function selected(selection: DeadSelection): [string[] | null, string | null] {
  if ('ids' in selection) return [[...selection.ids], null]
  if ('reason' in selection) return [null, selection.reason]
  return [null, null]
}
