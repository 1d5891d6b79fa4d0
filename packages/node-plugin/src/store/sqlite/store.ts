/** The embedded queue: a {@link QueueStore} on one SQLite file (better-sqlite3, WAL), shared by queues and processes. */

import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { idsOf, oldestDueFirst, requestsOfRows } from '../bind.js'
import { BlockClaim, type BlockRange } from '../blocks/block.js'
import type {
  ClaimedRequest,
  ClaimOptions,
  DeadLetter,
  DeadListOptions,
  DeadSelection,
  KillUpdate,
  NewDelivery,
  QueueStats,
  QueueStore,
  ReplayResult,
  RetryUpdate,
  WorkerState,
  WorkerStateRow,
} from '../types.js'
import { SqliteBlocks } from './blocks.js'
import { SqliteConnection } from './connection.js'
import { SqliteDeadLetters } from './dead-letters.js'
import { SqliteStoreError } from './errors.js'
import { SqliteRows } from './rows.js'
import { migrate } from './schema.js'
import { nextDueAt, queueStats, wake } from './stats.js'
import { reportState, workerStates } from './worker-states.js'

/** The environment variable that overrides the default SQLite path. */
export const DB_PATH_ENV = 'ANALYTICS_WEBHOOKS_DB'

/**
 * Where the queue lives when no path is given: `$ANALYTICS_WEBHOOKS_DB`, else
 * `./.data/analytics-webhooks.sqlite` under the working directory.
 *
 * @example
 * defaultSqlitePath() // '/srv/app/.data/analytics-webhooks.sqlite'
 */
export function defaultSqlitePath(): string {
  const fromEnv = process.env[DB_PATH_ENV]
  return resolve(fromEnv && fromEnv.length > 0 ? fromEnv : '.data/analytics-webhooks.sqlite')
}

/** Options for {@link SqliteQueueStore}. */
export interface SqliteStoreOptions {
  /** The database file; created with its directory if missing. Default {@link defaultSqlitePath}. `':memory:'` for a private, non-durable store. */
  path?: string
  /**
   * `normal` (default) survives a killed process (SIGKILL) but may lose the
   * last commits on power loss; `full` also survives power loss, at a cost.
   */
  synchronous?: 'normal' | 'full'
  /** How long a writer waits for another process's lock. Default 5000 ms. */
  busyTimeoutMs?: number
}

/**
 * A durable queue in one SQLite file. Never-attempted deliveries are packed
 * many to a row ({@link SqliteBlocks}); a delivery that is rescheduled, given
 * back on its own or replayed is a row of its own ({@link SqliteRows}). In
 * both, `ready_at` is when it may next be claimed: its due time, or its
 * lease's end while a worker holds it, so expired leases of a dead process
 * become claimable with no extra query.
 *
 * @example
 * const store = new SqliteQueueStore({ path: './.data/analytics-webhooks.sqlite' })
 * await store.open()
 * await store.enqueue('default', [{ id: randomUUID(), body: '{"type":"track"}', messageId: 'm1', enqueuedAt: Date.now() }])
 */
export class SqliteQueueStore implements QueueStore {
  /** The resolved file path (or `:memory:`). */
  readonly path: string
  private readonly options: SqliteStoreOptions
  private readonly sql = new SqliteConnection()
  private readonly blocks = new SqliteBlocks(this.sql)
  private readonly dead = new SqliteDeadLetters(this.sql)
  private readonly rows = new SqliteRows(this.sql, this.blocks, this.dead)

  constructor(options: SqliteStoreOptions = {}) {
    this.options = options
    this.path =
      options.path === ':memory:' ? ':memory:' : resolve(options.path ?? defaultSqlitePath())
  }

  async open(): Promise<void> {
    this.openSync()
  }

  /** Synchronous {@link open}, for callers (the CLI) that need no promise. */
  openSync(): void {
    if (this.sql.isOpen) return
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true })
    const db = new Database(this.path)
    try {
      db.pragma(`busy_timeout = ${this.options.busyTimeoutMs ?? 5000}`)
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${this.options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
      // The write-ahead log is checkpointed every ~8 MB (2000 pages; checkpoints fsync, so not at
      // SQLite's default 4 MB) and cut back to 16 MB after one, so it never holds much of a small
      // disk; see SqliteConnection.transaction for a disk that fills anyway.
      db.pragma('wal_autocheckpoint = 2000')
      db.pragma('journal_size_limit = 16777216')
      checkIntegrity(db)
      migrate(db)
    } catch (error) {
      db.close()
      throw error
    }
    this.sql.attach(db)
  }

  /** Packs the deliveries into blocks (see {@link SqliteBlocks.enqueue}). */
  async enqueue(queue: string, deliveries: readonly NewDelivery[]): Promise<void> {
    this.blocks.enqueue(queue, deliveries)
  }

  async enqueueDead(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void> {
    this.dead.enqueue(queue, letters)
  }

  /**
   * Leases rows first (retries, replays, deliveries rescheduled or given back
   * one by one), then whole blocks, and returns them as the requests they
   * form, oldest due first (see {@link SqliteBlocks.claim}).
   */
  async claim(queue: string, options: ClaimOptions): Promise<ClaimedRequest[]> {
    const { now, worker } = options
    const until = now + options.leaseMs
    const batchSize = options.batchSize ?? 1
    const { deliveries: rows, requests } = this.blocks.claim(queue, options, (limit) =>
      this.rows.claim(queue, limit, now, until, worker, batchSize),
    )
    return oldestDueFirst(requestsOfRows(rows), requests)
  }

  /** Delivered: requests cut from blocks this store holds by range (no lookup per delivery), the rest by id. */
  async complete(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    const ranges: BlockRange[] = []
    const others: ClaimedRequest[] = []
    for (const request of requests) {
      if (request instanceof BlockClaim) ranges.push(...request.ranges)
      else others.push(request)
    }
    if (ranges.length > 0) {
      // A block no longer held here (split into rows meanwhile) is completed by id instead.
      const elsewhere = this.blocks.complete(queue, ranges)
      if (elsewhere.length > 0) this.rows.complete(queue, elsewhere)
    }
    if (others.length > 0) this.rows.complete(queue, idsOf(others))
  }

  async retry(queue: string, request: ClaimedRequest, update: RetryUpdate): Promise<void> {
    this.rows.retry(queue, idsOf([request]), update)
  }

  async kill(
    queue: string,
    requests: readonly ClaimedRequest[],
    update: KillUpdate,
  ): Promise<void> {
    this.rows.kill(queue, idsOf(requests), update)
  }

  async release(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    this.rows.release(queue, idsOf(requests))
  }

  /** Never calls back: other processes sharing the file are seen by polling (`pollIntervalMs`). */
  async subscribe(_queue: string, _onWake: () => void): Promise<() => Promise<void>> {
    return async () => {}
  }

  async wake(queue: string, now: number): Promise<number> {
    return wake(this.sql, queue, now)
  }

  async nextDueAt(queue: string): Promise<number | null> {
    return nextDueAt(this.sql, queue)
  }

  async stats(queue?: string): Promise<QueueStats> {
    return queueStats(this.sql, queue)
  }

  /** Dead letters, filtered and paged; at most 100 when no `limit` is given. */
  async listDead(options: DeadListOptions = {}): Promise<DeadLetter[]> {
    return this.dead.list(options)
  }

  async replayDead(
    selection: DeadSelection,
    options: { now: number; queue?: string },
  ): Promise<ReplayResult> {
    return this.dead.replay(selection, options)
  }

  async purgeDead(selection: DeadSelection, options: { queue?: string } = {}): Promise<number> {
    return this.dead.purge(selection, options)
  }

  async reportState(queue: string, worker: string, state: WorkerState): Promise<void> {
    reportState(this.sql, queue, worker, state)
  }

  async workerStates(queue: string): Promise<WorkerStateRow[]> {
    return workerStates(this.sql, queue)
  }

  async close(): Promise<void> {
    this.blocks.clear()
    this.sql.close()
  }
}

/**
 * Fails on a damaged file before anything is committed to it: `PRAGMA
 * quick_check` reads every page and checks its structure (not index
 * contents), so a truncated file or damaged interior pages are found here
 * rather than as events acknowledged and then lost. Throws
 * `SqliteStoreError` `corrupt` with SQLite's first findings.
 */
function checkIntegrity(db: Database.Database): void {
  const findings = db.pragma('quick_check(5)', { simple: false }) as { quick_check: string }[]
  const problems = findings.map((row) => row.quick_check).filter((line) => line !== 'ok')
  if (problems.length > 0) {
    throw new SqliteStoreError(
      'corrupt',
      `integrity check failed: ${problems.join('; ').slice(0, 300)}`,
    )
  }
}
