/** What the SQLite queue holds as a whole, over rows and blocks alike: its counters, its stats, when it is next due, and waking it. */

import type { ReasonCode } from '@analytics-webhooks/core'
import type { QueueStats } from '../types.js'
import type { SqliteConnection } from './connection.js'

/**
 * Adds to a queue's `delivered` and `retried` counters (one row per queue);
 * runs inside the caller's transaction.
 *
 * @example
 * countOutcomes(sql, 'default', { delivered: 3 })
 */
export function countOutcomes(
  sql: SqliteConnection,
  queue: string,
  { delivered = 0, retried = 0 }: { delivered?: number; retried?: number },
): void {
  sql
    .statement(
      `INSERT INTO queue_counters (queue, delivered, retried) VALUES (?, ?, ?)
       ON CONFLICT (queue) DO UPDATE SET delivered = delivered + excluded.delivered,
       retried = retried + excluded.retried`,
    )
    .run(queue, delivered, retried)
}

/**
 * Counts for one queue, or every queue in the file. A block's deliveries
 * already delivered or moved out (`done`) are not counted; dead letters are
 * read from their counts per queue and reason.
 *
 * @example
 * const { queued, inFlight } = queueStats(sql, 'default')
 */
export function queueStats(sql: SqliteConnection, queue?: string): QueueStats {
  const now = Date.now()
  const where = queue === undefined ? '' : 'WHERE queue = ?'
  const args = queue === undefined ? [] : [queue]
  const waiting = sql
    .statement(
      `SELECT count(*) AS total, coalesce(sum(lease_until > ?), 0) AS in_flight,
       coalesce(sum(lease_until <= ? AND attempts > 0), 0) AS retrying, min(enqueued_at) AS oldest
       FROM deliveries ${where}`,
    )
    .get(now, now, ...args) as {
    total: number
    in_flight: number
    retrying: number
    oldest: number | null
  }
  const blocks = sql
    .statement(
      `SELECT coalesce(sum(count - done), 0) AS total,
       coalesce(sum(CASE WHEN lease_until > ? THEN count - done ELSE 0 END), 0) AS in_flight,
       min(first_at) AS oldest
       FROM delivery_blocks ${where}`,
    )
    .get(now, ...args) as { total: number; in_flight: number; oldest: number | null }
  const counters = sql
    .statement(
      `SELECT coalesce(sum(delivered), 0) AS delivered, coalesce(sum(retried), 0) AS retried FROM queue_counters ${where}`,
    )
    .get(...args) as { delivered: number; retried: number }
  // The triggers' counts (schema version 6), not the letters: a few rows however many died.
  const dead = sql
    .statement(
      `SELECT reason, sum(n) AS n FROM dead_counts ${where} GROUP BY reason HAVING sum(n) > 0`,
    )
    .all(...args) as { reason: ReasonCode; n: number }[]
  const deadByReason: Partial<Record<ReasonCode, number>> = {}
  let deadTotal = 0
  for (const { reason, n } of dead) {
    deadByReason[reason] = n
    deadTotal += n
  }
  const oldest = [waiting.oldest, blocks.oldest].filter((t): t is number => t !== null)
  const inFlight = waiting.in_flight + blocks.in_flight
  return {
    queued: waiting.total + blocks.total - inFlight,
    inFlight,
    retrying: waiting.retrying,
    delivered: counters.delivered,
    retried: counters.retried,
    dead: deadTotal,
    deadByReason,
    oldestEnqueuedAt: oldest.length === 0 ? null : Math.min(...oldest),
  }
}

/**
 * When a row or a block of `queue` may next be claimed, or `null` when it is empty.
 *
 * @example
 * const at = nextDueAt(sql, 'default')
 */
export function nextDueAt(sql: SqliteConnection, queue: string): number | null {
  const row = sql
    .statement('SELECT ready_at FROM deliveries WHERE queue = ? ORDER BY ready_at LIMIT 1')
    .pluck()
  const block = sql
    .statement('SELECT ready_at FROM delivery_blocks WHERE queue = ? ORDER BY ready_at LIMIT 1')
    .pluck()
  const [a, b] = [row.get(queue), block.get(queue)] as (number | undefined)[]
  if (a === undefined) return b ?? null
  return b === undefined ? a : Math.min(a, b)
}

/**
 * Makes every waiting row and block of `queue` (no live lease) due `now`;
 * returns how many deliveries moved forward.
 *
 * @example
 * wake(sql, 'default', Date.now()) // the destination recovered
 */
export function wake(sql: SqliteConnection, queue: string, now: number): number {
  const wakeRows = sql.statement(
    `UPDATE deliveries SET due_at = ?, ready_at = ? WHERE queue = ? AND lease_until <= ? AND due_at > ?`,
  )
  const waiting = sql
    .statement(
      `SELECT coalesce(sum(count - done), 0) FROM delivery_blocks
       WHERE queue = ? AND lease_until <= ? AND due_at > ?`,
    )
    .pluck()
  const wakeBlocks = sql.statement(
    `UPDATE delivery_blocks SET due_at = ?, ready_at = ?, last_at = min(last_at, ?)
     WHERE queue = ? AND lease_until <= ? AND due_at > ?`,
  )
  return sql.transaction(() => {
    const rows = wakeRows.run(now, now, queue, now, now).changes
    const inBlocks = waiting.get(queue, now, now) as number
    if (inBlocks > 0) wakeBlocks.run(now, now, now, queue, now, now)
    return rows + inBlocks
  })
}
