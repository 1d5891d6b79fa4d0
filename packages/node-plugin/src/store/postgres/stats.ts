/** The PostgreSQL queue's stats: one query, in one snapshot, over its rows, blocks, counters and dead letters. */

import type { ReasonCode } from '@analytics-webhooks/core'
import type { QueueStats } from '../types.js'
import type { PostgresConnection } from './connection.js'

/**
 * Counts for one queue, or every queue in the schema, read in one snapshot.
 * In flight means leased until after `Date.now()`; an expired lease counts
 * as queued again. `delivered` and `retried` add up every counter shard, and
 * dead letters their counts' shards (`counted`: the schema has them, version
 * 6; a CLI on an older schema, which it never migrates, counts the letters).
 *
 * @example
 * const { queued, inFlight, delivered, dead } = await queueStats(db, 'default')
 */
export async function queueStats(
  db: PostgresConnection,
  queue?: string,
  counted = true,
): Promise<QueueStats> {
  const deadByReason = counted
    ? `SELECT reason, sum(n) AS n FROM ${db.s}.dead_counts
       WHERE ($1::text IS NULL OR queue = $1) GROUP BY reason HAVING sum(n) > 0`
    : `SELECT reason, count(*) AS n FROM ${db.s}.dead_letters
       WHERE ($1::text IS NULL OR queue = $1) GROUP BY reason`
  const { rows } = await db.pool.query<{
    queued: string
    in_flight: string
    retrying: string
    oldest: string | null
    delivered: string
    retried: string
    dead: string
    by_reason: Record<string, string | number>
  }>(
    `WITH d AS (
       SELECT count(*) FILTER (WHERE NOT COALESCE(lease_expires_at > $2, false)) AS queued,
              count(*) FILTER (WHERE lease_expires_at > $2) AS in_flight,
              count(*) FILTER (WHERE NOT COALESCE(lease_expires_at > $2, false) AND attempts > 0) AS retrying,
              min(enqueued_at) AS oldest
       FROM ${db.s}.deliveries WHERE ($1::text IS NULL OR queue = $1)
     ), b AS (
       -- Blocks: deliveries never attempted, so none of them is retrying.
       SELECT COALESCE(sum(count - done) FILTER (WHERE lease_owner IS NULL OR ready_at <= $2), 0) AS queued,
              COALESCE(sum(count - done) FILTER (WHERE lease_owner IS NOT NULL AND ready_at > $2), 0) AS in_flight,
              min(first_at) AS oldest
       FROM ${db.s}.delivery_blocks WHERE ($1::text IS NULL OR queue = $1)
     ), c AS (
       SELECT COALESCE(sum(delivered), 0) AS delivered, COALESCE(sum(retried), 0) AS retried
       FROM ${db.s}.counters WHERE ($1::text IS NULL OR queue = $1)
     ), x AS (
       SELECT COALESCE(sum(n), 0) AS dead, COALESCE(json_object_agg(reason, n), '{}'::json) AS by_reason
       FROM (${deadByReason}) AS r
     )
     SELECT d.queued + b.queued AS queued, d.in_flight + b.in_flight AS in_flight, d.retrying,
            LEAST(d.oldest, b.oldest) AS oldest, c.*, x.*
     FROM d, b, c, x`,
    [queue ?? null, Date.now()],
  )
  const r = rows[0]
  if (!r) throw new Error('stats query returned no row')
  const byReason: Partial<Record<ReasonCode, number>> = {}
  for (const [reason, n] of Object.entries(r.by_reason)) byReason[reason as ReasonCode] = Number(n)
  return {
    queued: Number(r.queued),
    inFlight: Number(r.in_flight),
    retrying: Number(r.retrying),
    delivered: Number(r.delivered),
    retried: Number(r.retried),
    dead: Number(r.dead),
    deadByReason: byReason,
    oldestEnqueuedAt: r.oldest === null ? null : Number(r.oldest),
  }
}
