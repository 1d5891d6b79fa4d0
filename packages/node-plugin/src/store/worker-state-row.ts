/** The worker-state table's row, as both stores read it, the WorkerStateRow it becomes, and how long a report is kept. */

import type { WorkerState, WorkerStateRow } from './types.js'

/**
 * Reports more than this older than a new one are deleted when it is
 * recorded (1 hour): their workers stopped or were renamed long ago, and the
 * table stays as small as the number of live workers.
 */
export const WORKER_STATE_TTL_MS = 3_600_000

/** A `worker_states` row. PostgreSQL returns its BIGINT times as strings, SQLite as numbers. */
export interface WorkerStateDbRow {
  worker: string
  state: string
  until_at: number | string | null
  reported_at: number | string
}

/**
 * Turns a `worker_states` row into a {@link WorkerStateRow}.
 *
 * @example
 * const workers = rows.map(toWorkerStateRow)
 */
export function toWorkerStateRow(row: WorkerStateDbRow): WorkerStateRow {
  return {
    worker: row.worker,
    state: row.state as WorkerState['state'],
    until: row.until_at === null ? null : Number(row.until_at),
    at: Number(row.reported_at),
  }
}
