/** The PostgreSQL `QueueStore`: one durable delivery queue shared by many worker processes and machines. */

import type { ReasonCode } from '@analytics-webhooks/core'
import pg from 'pg'
import { bindClaimed, idsOf, requestsOfRows } from './bind.js'
import { type DeadRow, toDeadLetter } from './dead-row.js'
import { PostgresStoreError } from './postgres-errors.js'
import { migratePostgres } from './postgres-migrations.js'
import {
  checkPostgresOptions,
  checkSchemaName,
  type PostgresConnectionOptions,
} from './postgres-options.js'
import { REPLAYABLE_SQL } from './replayable.js'
import type {
  ClaimedRequest,
  ClaimOptions,
  DeadLetter,
  DeadSelection,
  KillUpdate,
  NewDelivery,
  QueueStats,
  QueueStore,
  ReplayResult,
  RetryUpdate,
  StoredDelivery,
} from './types.js'

export {
  PostgresStoreError,
  type PostgresStoreErrorCode,
  redactConnectionStrings,
} from './postgres-errors.js'

/** How to reach the database and where the queue's tables live; or bring your own pool. */
export interface PostgresStoreOptions extends Partial<PostgresConnectionOptions> {
  /** Bring your own pool instead of a `connectionString` (it is not ended by `close()`). */
  readonly pool?: pg.Pool
}

export { DEFAULT_POSTGRES_SCHEMA, type PostgresConnectionOptions } from './postgres-options.js'

/** Counter rows per queue: each store instance writes to one, so workers do not contend on a hot row. */
const COUNTER_SHARDS = 16

interface DeliveryRow {
  queue: string
  id: string
  body: string
  message_id: string | null
  enqueued_at: string
  next_attempt_at: string
  attempts: number
  last_reason: string | null
  last_status: number | null
  request_id: string | null
  request_pos: number | null
}

type WakeListener = () => void

/**
 * A `QueueStore` on PostgreSQL (the `pg` driver). Claims use
 * `FOR UPDATE SKIP LOCKED` and leases, so each delivery is held by one worker
 * at a time and a dead worker's deliveries are taken over once its lease
 * expires. Enqueues `NOTIFY` idle workers (see {@link PostgresQueueStore.subscribe}).
 * Statements that change several deliveries lock them in id order, so two
 * workers finishing overlapping sets (after a lease takeover) wait for each
 * other instead of deadlocking; `wake` skips rows another statement holds.
 *
 * @example
 * const store = new PostgresQueueStore({ connectionString: process.env.DATABASE_URL })
 * await store.open()
 * await store.enqueue('default', [{ id: randomUUID(), body: '{"type":"track"}', messageId: 'm1', enqueuedAt: Date.now() }])
 * const claimed = await store.claim('default', { limit: 10, now: Date.now(), leaseMs: 30_000, worker: 'w1' })
 */
export class PostgresQueueStore implements QueueStore {
  readonly schema: string
  private readonly pool: pg.Pool
  private readonly ownsPool: boolean
  private readonly s: string
  private readonly channel: string
  private readonly shard: number
  private readonly migrate: boolean
  private opened = false
  private closed = false
  private listener: pg.Client | null = null
  private listenerStarting: Promise<void> | null = null
  private reconnectTimer: NodeJS.Timeout | null = null
  private reconnectDelayMs = 100
  private readonly listeners = new Map<string, Set<WakeListener>>()

  constructor(options: PostgresStoreOptions) {
    const schema = checkSchemaName(options.schema)
    if (options.pool) {
      this.pool = options.pool
      this.ownsPool = false
    } else {
      checkPostgresOptions(options as PostgresConnectionOptions)
      this.pool = new pg.Pool({
        connectionString: options.connectionString,
        max: options.max ?? 10,
        application_name: options.applicationName ?? 'analytics-webhooks',
      })
      this.ownsPool = true
    }
    // An idle client that loses its server must not crash the process; the next query reports it.
    this.pool.on('error', () => {})
    this.schema = schema
    this.migrate = options.migrate ?? true
    this.s = `"${schema}"`
    this.channel = `aw_wake_${schema}`
    this.shard = Math.floor(Math.random() * COUNTER_SHARDS)
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
      client = await this.pool.connect()
    } catch (error) {
      throw new PostgresStoreError(
        'connection_failed',
        `Cannot connect to PostgreSQL: ${describe(error)}`,
        {
          cause: error,
        },
      )
    }
    try {
      // A schema from a newer release fails here with a PostgresStoreError (`future_schema`).
      if (this.migrate) await migratePostgres(client, this.s, this.schema)
      else await this.checkSchemaExists(client)
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
    if (deliveries.length === 0) return
    const ids: string[] = []
    const bodies: string[] = []
    const messageIds: (string | null)[] = []
    const times: number[] = []
    for (const d of deliveries) {
      ids.push(d.id)
      bodies.push(d.body)
      messageIds.push(d.messageId)
      times.push(d.enqueuedAt)
    }
    await this.pool.query(
      `WITH ins AS (
         INSERT INTO ${this.s}.deliveries (queue, id, body, message_id, enqueued_at, next_attempt_at)
         SELECT $1, t.id, t.body, t.message_id, t.at, t.at
         FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS t(id, body, message_id, at)
         ON CONFLICT (queue, id) DO NOTHING
         RETURNING 1
       )
       SELECT pg_notify($6, $1) FROM (SELECT 1 FROM ins LIMIT 1) AS any_inserted`,
      [queue, ids, bodies, messageIds, times, this.channel],
    )
  }

  /**
   * Stores letters straight in the dead-letter table (for example `invalid_payload`).
   *
   * @example
   * await store.enqueueDead('default', [{ id, body: '', messageId: null, enqueuedAt: now, attempts: 0, deadAt: now, reason: 'invalid_payload', lastStatus: null, detail: 'circular' }])
   */
  async enqueueDead(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void> {
    this.assertOpen()
    if (letters.length === 0) return
    await this.pool.query(
      `INSERT INTO ${this.s}.dead_letters
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
    if (options.limit <= 0) return []
    const batchSize = options.batchSize ?? 1
    if (batchSize <= 1) {
      return requestsOfRows((await this.lease(this.pool, queue, options)).map(toStoredDelivery))
    }
    const rows = await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.s}:${queue}`])
      const leased = (await this.lease(client, queue, options)).map(toStoredDelivery)
      const { deliveries, bindings } = bindClaimed(leased, batchSize)
      if (bindings.length > 0) {
        await client.query(
          `UPDATE ${this.s}.deliveries AS d SET request_id = b.request_id, request_pos = b.pos
           FROM unnest($2::text[], $3::text[], $4::int[]) AS b(id, request_id, pos)
           WHERE d.queue = $1 AND d.id = b.id`,
          [
            queue,
            bindings.map((b) => b.id),
            bindings.map((b) => b.requestId),
            bindings.map((b) => b.position),
          ],
        )
      }
      return deliveries
    })
    return requestsOfRows(rows)
  }

  /** Leases due rows, with the rest of any bound request one of them belongs to; sorted oldest due first. */
  private async lease(
    client: pg.Pool | pg.PoolClient,
    queue: string,
    options: ClaimOptions,
  ): Promise<(DeliveryRow & { seq: string })[]> {
    const { rows } = await client.query<DeliveryRow & { seq: string }>(
      `WITH due AS (
         SELECT id, request_id FROM ${this.s}.deliveries
         WHERE queue = $1 AND next_attempt_at <= $2
           AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
         ORDER BY next_attempt_at, seq
         LIMIT $3
         FOR UPDATE SKIP LOCKED
       ), mates AS (
         -- The rest of a bound request one of them belongs to: a request is leased whole. As an
         -- array, so the planner looks the ids up in the request index instead of merging all of it.
         SELECT id FROM ${this.s}.deliveries
         WHERE queue = $1
           AND request_id = ANY (ARRAY(SELECT request_id FROM due WHERE request_id IS NOT NULL))
           AND id NOT IN (SELECT id FROM due)
           AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
         FOR UPDATE SKIP LOCKED
       ), claimed AS (
         SELECT id FROM due UNION ALL SELECT id FROM mates
       )
       UPDATE ${this.s}.deliveries AS d
       SET lease_owner = $4, lease_expires_at = $5
       FROM claimed WHERE d.queue = $1 AND d.id = claimed.id
       RETURNING d.queue, d.id, d.seq, d.body, d.message_id, d.enqueued_at, d.next_attempt_at,
                 d.attempts, d.last_reason, d.last_status, d.request_id, d.request_pos`,
      [queue, options.now, options.limit, options.worker, options.now + options.leaseMs],
    )
    rows.sort(
      (a, b) =>
        Number(a.next_attempt_at) - Number(b.next_attempt_at) || Number(a.seq) - Number(b.seq),
    )
    return rows
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
    const ids = idsOf(requests)
    if (ids.length === 0) return
    await this.pool.query(
      `WITH ${this.lockIds()}, done AS (
         DELETE FROM ${this.s}.deliveries AS d USING locked WHERE d.queue = $1 AND d.id = locked.id RETURNING 1
       )
       INSERT INTO ${this.s}.counters AS c (queue, shard, delivered)
       SELECT $1, $3, count(*) FROM done HAVING count(*) > 0
       ON CONFLICT (queue, shard) DO UPDATE SET delivered = c.delivered + excluded.delivered`,
      [queue, [...ids], this.shard],
    )
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
    const ids = idsOf([request])
    if (ids.length === 0) return
    await this.pool.query(
      `WITH ${this.lockIds()}, moved AS (
         UPDATE ${this.s}.deliveries AS d
         SET next_attempt_at = $3, attempts = $4, last_reason = $5, last_status = $6,
             lease_owner = NULL, lease_expires_at = NULL,
             -- A request's deliveries are bound to it in the order given.
             request_id = $8, request_pos = CASE WHEN $8::text IS NULL THEN NULL
                                                 ELSE array_position($2::text[], d.id) - 1 END
         FROM locked WHERE d.queue = $1 AND d.id = locked.id
         RETURNING 1
       )
       INSERT INTO ${this.s}.counters AS c (queue, shard, retried)
       SELECT $1, $7, count(*) FROM moved HAVING count(*) > 0
       ON CONFLICT (queue, shard) DO UPDATE SET retried = c.retried + excluded.retried`,
      [
        queue,
        [...ids],
        update.at,
        update.attempts,
        update.reason,
        update.status,
        this.shard,
        update.requestId ?? null,
      ],
    )
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
    const ids = idsOf(requests)
    if (ids.length === 0) return
    await this.pool.query(
      `WITH ${this.lockIds()}, moved AS (
         DELETE FROM ${this.s}.deliveries AS d USING locked WHERE d.queue = $1 AND d.id = locked.id
         RETURNING d.queue, d.id, d.body, d.message_id, d.enqueued_at, d.seq
       )
       INSERT INTO ${this.s}.dead_letters AS x
         (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       SELECT queue, id, body, message_id, enqueued_at, $3, $4, $5, $6, $7 FROM moved ORDER BY seq
       ON CONFLICT (queue, id) DO UPDATE SET
         body = excluded.body, message_id = excluded.message_id, enqueued_at = excluded.enqueued_at,
         attempts = excluded.attempts, dead_at = excluded.dead_at, reason = excluded.reason,
         last_status = excluded.last_status, detail = excluded.detail`,
      [queue, [...ids], update.attempts, update.now, update.reason, update.status, update.detail],
    )
  }

  /**
   * Gives leases back without counting an attempt, and wakes other workers.
   *
   * @example
   * await store.release('default', unsent)
   */
  async release(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    this.assertOpen()
    const ids = idsOf(requests)
    if (ids.length === 0) return
    await this.pool.query(
      `WITH ${this.lockIds()}, freed AS (
         UPDATE ${this.s}.deliveries AS d SET lease_owner = NULL, lease_expires_at = NULL
         FROM locked WHERE d.queue = $1 AND d.id = locked.id RETURNING 1
       )
       SELECT pg_notify($3, $1) FROM (SELECT 1 FROM freed LIMIT 1) AS any_freed`,
      [queue, [...ids], this.channel],
    )
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
    const { rows } = await this.pool.query<{ n: string }>(
      `WITH waiting AS (
         SELECT id FROM ${this.s}.deliveries
         WHERE queue = $1 AND next_attempt_at > $2
           AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
         FOR UPDATE SKIP LOCKED
       ), woken AS (
         UPDATE ${this.s}.deliveries AS d SET next_attempt_at = $2
         FROM waiting WHERE d.queue = $1 AND d.id = waiting.id
         RETURNING 1
       ), n AS (SELECT count(*) AS n FROM woken)
       SELECT n, CASE WHEN n > 0 THEN pg_notify($3, $1) END FROM n`,
      [queue, now, this.channel],
    )
    return Number(rows[0]?.n ?? 0)
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
    const { rows } = await this.pool.query<{ at: string | null }>(
      `SELECT LEAST(
         (SELECT next_attempt_at FROM ${this.s}.deliveries
          WHERE queue = $1 AND lease_expires_at IS NULL ORDER BY next_attempt_at LIMIT 1),
         (SELECT min(GREATEST(next_attempt_at, lease_expires_at)) FROM ${this.s}.deliveries
          WHERE queue = $1 AND lease_expires_at IS NOT NULL)
       ) AS at`,
      [queue],
    )
    const at = rows[0]?.at
    return at === null || at === undefined ? null : Number(at)
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
    const { rows } = await this.pool.query<{
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
         FROM ${this.s}.deliveries WHERE ($1::text IS NULL OR queue = $1)
       ), c AS (
         SELECT COALESCE(sum(delivered), 0) AS delivered, COALESCE(sum(retried), 0) AS retried
         FROM ${this.s}.counters WHERE ($1::text IS NULL OR queue = $1)
       ), x AS (
         SELECT COALESCE(sum(n), 0) AS dead, COALESCE(json_object_agg(reason, n), '{}'::json) AS by_reason
         FROM (SELECT reason, count(*) AS n FROM ${this.s}.dead_letters
               WHERE ($1::text IS NULL OR queue = $1) GROUP BY reason) AS r
       )
       SELECT * FROM d, c, x`,
      [queue ?? null, Date.now()],
    )
    const r = rows[0]
    if (!r) throw new Error('stats query returned no row')
    const deadByReason: Partial<Record<ReasonCode, number>> = {}
    for (const [reason, n] of Object.entries(r.by_reason))
      deadByReason[reason as ReasonCode] = Number(n)
    return {
      queued: Number(r.queued),
      inFlight: Number(r.in_flight),
      retrying: Number(r.retrying),
      delivered: Number(r.delivered),
      retried: Number(r.retried),
      dead: Number(r.dead),
      deadByReason,
      oldestEnqueuedAt: r.oldest === null ? null : Number(r.oldest),
    }
  }

  /**
   * Dead letters, oldest death first.
   *
   * @example
   * const letters = await store.listDead({ queue: 'default', limit: 50 })
   */
  async listDead(
    options: { queue?: string; limit?: number; offset?: number } = {},
  ): Promise<DeadLetter[]> {
    this.assertOpen()
    const { rows } = await this.pool.query<DeadRow>(
      `SELECT queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail
       FROM ${this.s}.dead_letters WHERE ($1::text IS NULL OR queue = $1)
       ORDER BY dead_at, seq LIMIT $2 OFFSET $3`,
      [options.queue ?? null, options.limit ?? null, options.offset ?? 0],
    )
    return rows.map(toDeadLetter)
  }

  /**
   * Moves the selected dead letters that can be sent back into their queues,
   * due now, with attempts reset and a fresh retry window; wakes subscribed
   * workers. Letters with no sendable body stay and are counted.
   *
   * @example
   * await store.replayDead({ ids: ['0b7c…'] }, { now: Date.now() })
   * await store.replayDead({ all: true }, { now: Date.now(), queue: 'default' })
   */
  async replayDead(
    selection: DeadSelection,
    options: { now: number; queue?: string },
  ): Promise<ReplayResult> {
    this.assertOpen()
    const ids = 'ids' in selection ? [...selection.ids] : null
    if (ids && ids.length === 0) return { replayed: 0, unsendable: 0 }
    const selected =
      '($1::text IS NULL OR queue = $1) AND ($2::text[] IS NULL OR id = ANY($2::text[]))'
    return this.transaction(async (client) => {
      const { rows } = await client.query<{ queue: string; n: string }>(
        `WITH moved AS (
           DELETE FROM ${this.s}.dead_letters
           WHERE ${selected} AND ${REPLAYABLE_SQL}
           RETURNING queue, id, body, message_id, seq
         ), ins AS (
           INSERT INTO ${this.s}.deliveries (queue, id, body, message_id, enqueued_at, next_attempt_at)
           SELECT queue, id, body, message_id, $3, $3 FROM moved ORDER BY seq
           ON CONFLICT (queue, id) DO NOTHING
           RETURNING queue
         )
         SELECT queue, count(*) AS n FROM ins GROUP BY queue`,
        [options.queue ?? null, ids, options.now],
      )
      const left = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${this.s}.dead_letters WHERE ${selected} AND NOT ${REPLAYABLE_SQL}`,
        [options.queue ?? null, ids],
      )
      for (const r of rows) await client.query('SELECT pg_notify($1, $2)', [this.channel, r.queue])
      return {
        replayed: rows.reduce((sum, r) => sum + Number(r.n), 0),
        unsendable: Number(left.rows[0]?.n ?? 0),
      }
    })
  }

  /**
   * Deletes dead letters for good. Returns how many.
   *
   * @example
   * await store.purgeDead({ all: true }, { queue: 'default' })
   */
  async purgeDead(selection: DeadSelection, options: { queue?: string } = {}): Promise<number> {
    this.assertOpen()
    const ids = 'ids' in selection ? [...selection.ids] : null
    if (ids && ids.length === 0) return 0
    const result = await this.pool.query(
      `DELETE FROM ${this.s}.dead_letters
       WHERE ($1::text IS NULL OR queue = $1) AND ($2::text[] IS NULL OR id = ANY($2::text[]))`,
      [options.queue ?? null, ids],
    )
    return result.rowCount ?? 0
  }

  /**
   * Calls `onWake` whenever deliveries become due in `queue` because another
   * process (or this one) enqueued, released or replayed them, through
   * `LISTEN/NOTIFY` on one dedicated connection. After the connection drops
   * it reconnects and calls `onWake` once, since notifications may have been
   * missed. Resolves once listening; the returned function unsubscribes.
   *
   * @example
   * const stop = await store.subscribe('default', () => worker.poke())
   * await stop()
   */
  async subscribe(queue: string, onWake: () => void): Promise<() => Promise<void>> {
    this.assertOpen()
    let set = this.listeners.get(queue)
    if (!set) {
      set = new Set()
      this.listeners.set(queue, set)
    }
    const listener: WakeListener = () => onWake()
    set.add(listener)
    try {
      await this.startListener()
    } catch (error) {
      set.delete(listener)
      throw error
    }
    return async () => {
      const current = this.listeners.get(queue)
      current?.delete(listener)
      if (current && current.size === 0) this.listeners.delete(queue)
      if (this.listeners.size === 0) await this.stopListener()
    }
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
    this.listeners.clear()
    await this.stopListener()
    // Checked on the pool too: a close through a wrapper object must not end it a second time.
    if (this.ownsPool && !this.pool.ending && !this.pool.ended) await this.pool.end()
  }

  private async checkSchemaExists(client: pg.PoolClient): Promise<void> {
    const { rows } = await client.query<{ found: string | null }>(
      `SELECT to_regclass($1) AS found`,
      [`${this.s}.schema_migrations`],
    )
    if (!rows[0]?.found) {
      throw new PostgresStoreError(
        'missing_schema',
        `No analytics-webhooks queue in PostgreSQL schema ${this.schema} (start the plugin once, or pass the right schema)`,
      )
    }
  }

  private assertOpen(): void {
    if (!this.opened) {
      throw new PostgresStoreError(
        'not_open',
        this.closed ? 'PostgreSQL store is closed' : 'Call open() first',
      )
    }
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    } finally {
      client.release()
    }
  }

  private startListener(): Promise<void> {
    if (this.listener) return Promise.resolve()
    if (this.listenerStarting) return this.listenerStarting
    this.listenerStarting = this.connectListener().finally(() => {
      this.listenerStarting = null
    })
    return this.listenerStarting
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client(this.pool.options)
    client.on('error', () => this.onListenerLost(client))
    client.on('end', () => this.onListenerLost(client))
    client.on('notification', (message) => {
      const set = message.payload === undefined ? undefined : this.listeners.get(message.payload)
      if (set) for (const listener of [...set]) listener()
    })
    try {
      await client.connect()
      await client.query(`LISTEN "${this.channel}"`)
    } catch (error) {
      client.removeAllListeners('end')
      await client.end().catch(() => {})
      throw new PostgresStoreError(
        'connection_failed',
        `Cannot listen for wakeups: ${describe(error)}`,
        {
          cause: error,
        },
      )
    }
    if (this.closed || this.listeners.size === 0) {
      client.removeAllListeners('end')
      await client.end().catch(() => {})
      return
    }
    this.listener = client
    this.reconnectDelayMs = 100
  }

  private onListenerLost(client: pg.Client): void {
    if (this.listener !== client) return
    this.listener = null
    client.removeAllListeners('end')
    client.end().catch(() => {})
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.closed || this.listeners.size === 0 || this.reconnectTimer) return
    const delay = this.reconnectDelayMs
    this.reconnectDelayMs = Math.min(delay * 2, 5_000)
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      this.startListener().then(
        () => {
          // Notifications sent while we were away are lost: let every subscriber look for work.
          for (const set of this.listeners.values()) for (const listener of [...set]) listener()
        },
        () => this.scheduleReconnect(),
      )
    }, delay)
    this.reconnectTimer.unref()
  }

  /**
   * The `locked` CTE every finishing statement starts with: the rows of queue
   * `$1` whose ids are in `$2`, locked in id order, so two workers finishing the
   * same deliveries (after a lease takeover) wait for each other instead of deadlocking.
   */
  private lockIds(): string {
    return `locked AS (
         SELECT id FROM ${this.s}.deliveries WHERE queue = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE
       )`
  }

  private async stopListener(): Promise<void> {
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer)
      this.reconnectTimer = null
    }
    if (this.listenerStarting) await this.listenerStarting.catch(() => {})
    const client = this.listener
    this.listener = null
    if (!client) return
    client.removeAllListeners('end')
    await client.end().catch(() => {})
  }
}

function toStoredDelivery(r: DeliveryRow): StoredDelivery {
  return {
    id: r.id,
    body: r.body,
    messageId: r.message_id,
    enqueuedAt: Number(r.enqueued_at),
    queue: r.queue,
    attempts: r.attempts,
    nextAttemptAt: Number(r.next_attempt_at),
    lastReason: r.last_reason as ReasonCode | null,
    lastStatus: r.last_status,
    requestId: r.request_id,
    requestPosition: r.request_pos,
  }
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown }
  const code = typeof e?.code === 'string' ? `${e.code}: ` : ''
  return `${code}${typeof e?.message === 'string' ? e.message : String(error)}`
}
