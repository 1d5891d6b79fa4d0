/** The PostgreSQL queue's dead letters: storing them, listing, replaying into the queue, and purging. */

import { type DeadRow, toDeadLetter } from '../dead-row.js'
import { REPLAYABLE_SQL } from '../replayable.js'
import type { DeadLetter, DeadSelection, ReplayResult } from '../types.js'
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

  /** Dead letters, oldest death first. */
  async list(
    options: { queue?: string; limit?: number; offset?: number } = {},
  ): Promise<DeadLetter[]> {
    const { rows } = await this.db.pool.query<DeadRow>(
      `SELECT queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail
       FROM ${this.db.s}.dead_letters WHERE ($1::text IS NULL OR queue = $1)
       ORDER BY dead_at, seq LIMIT $2 OFFSET $3`,
      [options.queue ?? null, options.limit ?? null, options.offset ?? 0],
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
    const ids = 'ids' in selection ? [...selection.ids] : null
    if (ids && ids.length === 0) return { replayed: 0, unsendable: 0 }
    const { s, channel } = this.db
    const selected =
      '($1::text IS NULL OR queue = $1) AND ($2::text[] IS NULL OR id = ANY($2::text[]))'
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<{ queue: string; n: string }>(
        `WITH moved AS (
           DELETE FROM ${s}.dead_letters
           WHERE ${selected} AND ${REPLAYABLE_SQL}
           RETURNING queue, id, body, message_id, seq
         ), ins AS (
           INSERT INTO ${s}.deliveries (queue, id, body, message_id, enqueued_at, next_attempt_at)
           SELECT queue, id, body, message_id, $3, $3 FROM moved ORDER BY seq
           ON CONFLICT (queue, id) DO NOTHING
           RETURNING queue
         )
         SELECT queue, count(*) AS n FROM ins GROUP BY queue`,
        [options.queue ?? null, ids, options.now],
      )
      const left = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${s}.dead_letters WHERE ${selected} AND NOT ${REPLAYABLE_SQL}`,
        [options.queue ?? null, ids],
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
    const ids = 'ids' in selection ? [...selection.ids] : null
    if (ids && ids.length === 0) return 0
    const result = await this.db.pool.query(
      `DELETE FROM ${this.db.s}.dead_letters
       WHERE ($1::text IS NULL OR queue = $1) AND ($2::text[] IS NULL OR id = ANY($2::text[]))`,
      [options.queue ?? null, ids],
    )
    return result.rowCount ?? 0
  }
}
