/** The SQLite queue's worker states: each worker's last report of what it is doing, for a dashboard in any process. */

import type { WorkerState, WorkerStateRow } from '../types.js'
import {
  toWorkerStateRow,
  WORKER_STATE_TTL_MS,
  type WorkerStateDbRow,
} from '../worker-state-row.js'
import type { SqliteConnection } from './connection.js'

/**
 * Records `worker`'s state on `queue` in one small write transaction, unless
 * a newer report is already there, and deletes reports over an hour older
 * than this one (of any queue).
 *
 * @example
 * reportState(sql, 'default', 'host-1:4242', { state: 'paused', until: Date.now() + 30_000, at: Date.now() })
 */
export function reportState(
  sql: SqliteConnection,
  queue: string,
  worker: string,
  state: WorkerState,
): void {
  const upsert = sql.statement(
    `INSERT INTO worker_states (queue, worker, state, until_at, reported_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (queue, worker) DO UPDATE SET state = excluded.state, until_at = excluded.until_at,
       reported_at = excluded.reported_at
     WHERE excluded.reported_at >= worker_states.reported_at`,
  )
  const expire = sql.statement('DELETE FROM worker_states WHERE reported_at < ?')
  sql.transaction(() => {
    upsert.run(queue, worker, state.state, state.until, state.at)
    expire.run(state.at - WORKER_STATE_TTL_MS)
  })
}

/**
 * Every worker's last report on `queue`, newest first (ties by worker name).
 *
 * @example
 * const [latest] = workerStates(sql, 'default')
 */
export function workerStates(sql: SqliteConnection, queue: string): WorkerStateRow[] {
  const rows = sql
    .statement(
      `SELECT worker, state, until_at, reported_at FROM worker_states WHERE queue = ?
       ORDER BY reported_at DESC, worker`,
    )
    .all(queue) as WorkerStateDbRow[]
  return rows.map(toWorkerStateRow)
}
