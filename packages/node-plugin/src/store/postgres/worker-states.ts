/** The PostgreSQL queue's worker states: each worker's last report of what it is doing, for a dashboard in any process. */

import type { WorkerState, WorkerStateRow } from '../types.js'
import {
  toWorkerStateRow,
  WORKER_STATE_TTL_MS,
  type WorkerStateDbRow,
} from '../worker-state-row.js'
import type { PostgresConnection } from './connection.js'

/**
 * Records `worker`'s state on `queue` in one statement, unless a newer
 * report is already there, and deletes reports of any queue over an hour
 * older than this one.
 *
 * @example
 * await reportState(db, 'default', 'host-1:4242', { state: 'sending', until: null, at: Date.now() })
 */
export async function reportState(
  db: PostgresConnection,
  queue: string,
  worker: string,
  state: WorkerState,
): Promise<void> {
  // The expired rows never include the one upserted: a statement must not change one row twice.
  await db.run(
    `WITH expired AS (
       DELETE FROM ${db.s}.worker_states WHERE reported_at < $6 AND NOT (queue = $1 AND worker = $2)
     )
     INSERT INTO ${db.s}.worker_states AS w (queue, worker, state, until_at, reported_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (queue, worker) DO UPDATE SET state = excluded.state, until_at = excluded.until_at,
       reported_at = excluded.reported_at
     WHERE excluded.reported_at >= w.reported_at`,
    [queue, worker, state.state, state.until, state.at, state.at - WORKER_STATE_TTL_MS],
  )
}

/**
 * Every worker's last report on `queue`, newest first (ties by worker name,
 * byte for byte).
 *
 * @example
 * const workers = await workerStates(db, 'default')
 */
export async function workerStates(
  db: PostgresConnection,
  queue: string,
): Promise<WorkerStateRow[]> {
  const { rows } = await db.run<WorkerStateDbRow>(
    `SELECT worker, state, until_at, reported_at FROM ${db.s}.worker_states WHERE queue = $1
     ORDER BY reported_at DESC, worker COLLATE "C"`,
    [queue],
  )
  return rows.map(toWorkerStateRow)
}
