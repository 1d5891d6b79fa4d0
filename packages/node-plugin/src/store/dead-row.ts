/** The dead-letter table's row, as both stores read it, and the DeadLetter it becomes. */

import type { ReasonCode } from '@analytics-webhooks/core'
import type { DeadLetter } from './types.js'

/** A `dead_letters` row. PostgreSQL returns its BIGINT times as strings, SQLite as numbers. */
export interface DeadRow {
  queue: string
  id: string
  body: string
  message_id: string | null
  enqueued_at: number | string
  attempts: number
  dead_at: number | string
  reason: string
  last_status: number | null
  detail: string | null
}

/**
 * Turns a `dead_letters` row into a {@link DeadLetter}.
 *
 * @example
 * const letters = rows.map(toDeadLetter)
 */
export function toDeadLetter(row: DeadRow): DeadLetter {
  return {
    id: row.id,
    body: row.body,
    messageId: row.message_id,
    enqueuedAt: Number(row.enqueued_at),
    queue: row.queue,
    attempts: row.attempts,
    deadAt: Number(row.dead_at),
    reason: row.reason as ReasonCode,
    lastStatus: row.last_status,
    detail: row.detail,
  }
}
