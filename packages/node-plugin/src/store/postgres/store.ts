/** The PostgreSQL `QueueStore`: one durable delivery queue shared by many worker processes and machines. */

import type pg from 'pg'
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
import { PostgresConnection, type PostgresStoreOptions } from './connection.js'
import { PostgresDeadLetters } from './dead-letters.js'
import { describeError, PostgresStoreError } from './errors.js'
import { WakeupListener } from './listener.js'
import { PostgresQueue } from './queue.js'
import { migratePostgres } from './schema.js'
import { queueStats } from './stats.js'
import { reportState, workerStates } from './worker-states.js'

export type { PostgresStoreOptions } from './connection.js'

/**
 * A `QueueStore` on PostgreSQL (the `pg` driver). Claims use
 * `FOR UPDATE SKIP LOCKED` and leases, so each delivery is held by one worker
 * at a time and a dead worker's deliveries are taken over once its lease
 * expires. Enqueues `NOTIFY` idle workers (see {@link PostgresQueueStore.subscribe}).
 * Statements that change several deliveries lock them in id order, so two
 * workers finishing overlapping sets (after a lease takeover) wait for each
 * other instead of deadlocking; `wake` skips rows another statement holds.
 * The SQL lives beside it: {@link PostgresDeliveries}, {@link PostgresDeadLetters},
 * {@link queueStats}; the `LISTEN` connection is a {@link WakeupListener}.
 *
 * @example
 * const store = new PostgresQueueStore({ connectionString: process.env.DATABASE_URL })
 * await store.open()
 * await store.enqueue('default', [{ id: randomUUID(), body: '{"type":"track"}', messageId: 'm1', enqueuedAt: Date.now() }])
 * const claimed = await store.claim('default', { limit: 10, now: Date.now(), leaseMs: 30_000, worker: 'w1' })
 */
export class PostgresQueueStore implements QueueStore {
  readonly schema: string
  private readonly db: PostgresConnection
  private readonly queue: PostgresQueue
  private readonly dead: PostgresDeadLetters
  private readonly wakeups: WakeupListener
  private readonly migrate: boolean
  /**
   * The schema is at version 6 or later: it counts dead letters per queue and
   * reason and keeps worker states. Only a store that must not migrate
   * (`migrate: false`, the CLI) can find an older one, whose process still
   * runs an earlier release.
   */
  private current = true
  private opened = false
  private closed = false

  constructor(options: PostgresStoreOptions) {
    this.db = new PostgresConnection(options)
    this.schema = this.db.schema
    this.migrate = options.migrate ?? true
    this.queue = new PostgresQueue(this.db)
    this.dead = new PostgresDeadLetters(this.db)
    this.wakeups = new WakeupListener(this.db.pool.options, this.db.channel)
  }

  /**
   * Creates the schema or migrates it to the newest version, under an
   * advisory lock, so many processes may open at once.
   *
   * @example
   * await new PostgresQueueStore({ connectionString }).open()
   */
  async open(): Promise<void> {
    if (this.closed) throw new PostgresStoreError('not_open', 'PostgreSQL store is closed')
    if (this.opened) return
    let client: pg.PoolClient
    try {
      client = await this.db.pool.connect()
    } catch (error) {
      throw new PostgresStoreError(
        'connection_failed',
        `Cannot connect to PostgreSQL: ${describeError(error)}`,
        {
          cause: error,
        },
      )
    }
    try {
      // A schema from a newer release fails here with a PostgresStoreError (`future_schema`).
      if (this.migrate) await migratePostgres(client, this.db.s, this.schema)
      else this.current = (await this.checkSchemaExists(client)) >= 6
    } finally {
      client.release()
    }
    this.opened = true
  }

  /**
   * Commits deliveries in one statement (arrays unnested into one insert), due
   * at their `enqueuedAt`, and wakes subscribed workers. An id already queued is ignored.
   *
   * @example
   * await store.enqueue('default', [{ id, body, messageId: 'm1', enqueuedAt: Date.now() }])
   */
  async enqueue(queue: string, deliveries: readonly NewDelivery[]): Promise<void> {
    this.assertOpen()
    await this.queue.blocks.enqueue(queue, deliveries)
  }

  /**
   * Stores letters straight in the dead-letter table (for example `invalid_payload`).
   *
   * @example
   * await store.enqueueDead('default', [{ id, body: '', messageId: null, enqueuedAt: now, attempts: 0, deadAt: now, reason: 'invalid_payload', lastStatus: null, detail: 'circular' }])
   */
  async enqueueDead(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void> {
    this.assertOpen()
    await this.dead.enqueue(queue, letters)
  }

  /**
   * Leases up to `limit` due deliveries, oldest due first. Rows another worker
   * is claiming right now are skipped (`FOR UPDATE SKIP LOCKED`), rows with a
   * live lease are not due, and rows whose lease expired are taken over. With
   * `batchSize` above 1, the unbound ones are bound to requests in the same
   * transaction, and claims of the queue take turns (a transaction-scoped
   * advisory lock), so two workers never lease parts of one request.
   *
   * @example
   * const requests = await store.claim('default', { limit: 100, now: Date.now(), leaseMs: 30_000, worker: 'host-1:4242' })
   */
  async claim(queue: string, options: ClaimOptions): Promise<ClaimedRequest[]> {
    this.assertOpen()
    return this.queue.claim(queue, options)
  }

  /**
   * Removes delivered deliveries and adds them to the `delivered` counter, in
   * one statement. Only rows actually removed are counted, so two workers
   * completing the same id (after a lease takeover) count it once.
   *
   * @example
   * await store.complete('default', requests)
   */
  async complete(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    this.assertOpen()
    await this.queue.complete(queue, requests)
  }

  /**
   * Releases the leases, records the attempt and schedules the next one;
   * adds to the `retried` counter.
   *
   * @example
   * await store.retry('default', request, { at: Date.now() + 5_000, attempts: 1, reason: 'http_5xx', status: 503 })
   */
  async retry(queue: string, request: ClaimedRequest, update: RetryUpdate): Promise<void> {
    this.assertOpen()
    await this.queue.retry(queue, request, update)
  }

  /**
   * Moves deliveries to the dead-letter table with the reason, in one statement.
   *
   * @example
   * await store.kill('default', [request], { now: Date.now(), attempts: 1, reason: 'http_4xx', status: 400, detail: null })
   */
  async kill(
    queue: string,
    requests: readonly ClaimedRequest[],
    update: KillUpdate,
  ): Promise<void> {
    this.assertOpen()
    await this.queue.kill(queue, requests, update)
  }

  /**
   * Gives leases back without counting an attempt, and wakes other workers.
   *
   * @example
   * await store.release('default', unsent)
   */
  async release(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    this.assertOpen()
    await this.queue.release(queue, requests)
  }

  /**
   * Makes every waiting delivery (no live lease) due now; returns how many
   * moved forward and wakes subscribed workers.
   *
   * @example
   * await store.wake('default', Date.now()) // the destination recovered
   */
  async wake(queue: string, now: number): Promise<number> {
    this.assertOpen()
    return this.queue.rows.wake(queue, now)
  }

  /**
   * When the next delivery becomes claimable: its next attempt, or its
   * lease's expiry if a worker holds it. `null` when the queue is empty.
   * Two index lookups (waiting rows by due time, leased rows by expiry), so
   * it stays cheap however large the backlog.
   *
   * @example
   * const at = await store.nextDueAt('default') // sleep until then, or until a wakeup
   */
  async nextDueAt(queue: string): Promise<number | null> {
    this.assertOpen()
    return this.queue.rows.nextDueAt(queue)
  }

  /**
   * Counts for one queue, or every queue in the schema, read in one snapshot.
   * In flight means leased until after `Date.now()`; an expired lease counts
   * as queued again. `delivered` and `retried` add up what every process recorded.
   *
   * @example
   * const { queued, inFlight, delivered, dead } = await store.stats('default')
   */
  async stats(queue?: string): Promise<QueueStats> {
    this.assertOpen()
    return queueStats(this.db, queue, this.current)
  }

  /**
   * Dead letters, filtered and paged: oldest death first, or newest first
   * before a cursor (see {@link DeadListOptions}); all of them when no
   * `limit` is given.
   *
   * @example
   * const letters = await store.listDead({ queue: 'default', limit: 50 })
   * const timeouts = await store.listDead({ queue: 'default', limit: 50, reason: 'timeout', before: { deadAt: Number.MAX_SAFE_INTEGER, id: '' } })
   */
  async listDead(options: DeadListOptions = {}): Promise<DeadLetter[]> {
    this.assertOpen()
    return this.dead.list(options, this.current)
  }

  /**
   * Moves the selected dead letters that can be sent back into their queues,
   * due now, with attempts reset and a fresh retry window; wakes subscribed
   * workers. Letters with no sendable body stay and are counted.
   *
   * @example
   * await store.replayDead({ ids: ['0b7c…'] }, { now: Date.now() })
   * await store.replayDead({ all: true }, { now: Date.now(), queue: 'default' })
   * await store.replayDead({ reason: 'http_5xx' }, { now: Date.now(), queue: 'default' })
   */
  async replayDead(
    selection: DeadSelection,
    options: { now: number; queue?: string },
  ): Promise<ReplayResult> {
    this.assertOpen()
    return this.dead.replay(selection, options)
  }

  /**
   * Deletes dead letters for good. Returns how many.
   *
   * @example
   * await store.purgeDead({ all: true }, { queue: 'default' })
   * await store.purgeDead({ reason: 'invalid_payload' })
   */
  async purgeDead(selection: DeadSelection, options: { queue?: string } = {}): Promise<number> {
    this.assertOpen()
    return this.dead.purge(selection, options)
  }

  /**
   * Calls `onWake` whenever deliveries become due in `queue` because another
   * process (or this one) enqueued, released or replayed them, through
   * `LISTEN/NOTIFY` on one dedicated connection. After the connection drops
   * it reconnects and calls `onWake` once, since notifications may have been
   * missed. Resolves once listening; the returned function unsubscribes.
   *
   * @example
   * const stop = await store.subscribe('default', () => console.log('deliveries are due'))
   * await stop()
   */
  async subscribe(queue: string, onWake: () => void): Promise<() => Promise<void>> {
    this.assertOpen()
    return this.wakeups.subscribe(queue, onWake)
  }

  /**
   * Records what a worker is doing on `queue` (one row per queue and worker,
   * kept unless a newer report is there); deletes reports over an hour old.
   * On a schema older than version 6 (only with `migrate: false`) there is
   * nowhere to keep it, and nothing is recorded.
   *
   * @example
   * await store.reportState('default', 'host-1:4242', { state: 'paused', until: Date.now() + 30_000, at: Date.now() })
   */
  async reportState(queue: string, worker: string, state: WorkerState): Promise<void> {
    this.assertOpen()
    if (this.current) await reportState(this.db, queue, worker, state)
  }

  /**
   * Every worker's last report on `queue`, newest first; none on a schema
   * older than version 6.
   *
   * @example
   * const workers = await store.workerStates('default')
   */
  async workerStates(queue: string): Promise<WorkerStateRow[]> {
    this.assertOpen()
    return this.current ? workerStates(this.db, queue) : []
  }

  /**
   * Stops listening and, unless the pool was given, closes every connection.
   *
   * @example
   * await store.close()
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.opened = false
    this.queue.clear()
    await this.wakeups.close()
    await this.db.end()
  }

  /** Throws `missing_schema` when there is no queue in the schema; returns its version. */
  private async checkSchemaExists(client: pg.PoolClient): Promise<number> {
    const { rows } = await client.query<{ found: string | null }>(
      `SELECT to_regclass($1) AS found`,
      [`${this.db.s}.schema_migrations`],
    )
    if (!rows[0]?.found) {
      throw new PostgresStoreError(
        'missing_schema',
        `No analytics-webhooks queue in PostgreSQL schema ${this.schema} (start the plugin once, or pass the right schema)`,
      )
    }
    const version = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${this.db.s}.schema_migrations`,
    )
    return version.rows[0]?.v ?? 0
  }

  private assertOpen(): void {
    if (!this.opened) {
      throw new PostgresStoreError(
        'not_open',
        this.closed ? 'PostgreSQL store is closed' : 'Call open() first',
      )
    }
  }
}
