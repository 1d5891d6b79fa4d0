/** The PostgreSQL queue's deliveries: enqueueing, claiming and binding them, their outcomes, and when they are next due. */

import type { ReasonCode } from '@analytics-webhooks/core'
import type pg from 'pg'
import { bindClaimed, idsOf, requestsOfRows } from '../bind.js'
import type {
  ClaimedRequest,
  ClaimOptions,
  KillUpdate,
  NewDelivery,
  RetryUpdate,
  StoredDelivery,
} from '../types.js'
import type { PostgresConnection } from './connection.js'
import { LOCK_NAMESPACE } from './schema.js'

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

/**
 * The `deliveries` table of one PostgreSQL store. Claims use
 * `FOR UPDATE SKIP LOCKED` and leases; statements that change several
 * deliveries lock them in id order (see {@link PostgresDeliveries.lockIds}).
 * Enqueues, releases and wakes `NOTIFY` the queue's channel.
 *
 * @example
 * const deliveries = new PostgresDeliveries(db)
 * await deliveries.enqueue('default', [{ id, body, messageId: 'm1', enqueuedAt: Date.now() }])
 */
export class PostgresDeliveries {
  private readonly db: PostgresConnection
  /** The counter row this instance adds to. */
  private readonly shard = Math.floor(Math.random() * COUNTER_SHARDS)

  constructor(db: PostgresConnection) {
    this.db = db
  }

  /** Commits deliveries in one statement (arrays unnested into one insert), due at their `enqueuedAt`, and notifies the queue. */
  async enqueue(queue: string, deliveries: readonly NewDelivery[]): Promise<void> {
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
    await this.db.pool.query(
      `WITH ins AS (
         INSERT INTO ${this.db.s}.deliveries (queue, id, body, message_id, enqueued_at, next_attempt_at)
         SELECT $1, t.id, t.body, t.message_id, t.at, t.at
         FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) AS t(id, body, message_id, at)
         ON CONFLICT (queue, id) DO NOTHING
         RETURNING 1
       )
       SELECT pg_notify($6, $1) FROM (SELECT 1 FROM ins LIMIT 1) AS any_inserted`,
      [queue, ids, bodies, messageIds, times, this.db.channel],
    )
  }

  /** Leases due rows and, with `batchSize` above 1, binds the unbound ones, one claim of the queue at a time. */
  async claim(queue: string, options: ClaimOptions): Promise<ClaimedRequest[]> {
    if (options.limit <= 0) return []
    const batchSize = options.batchSize ?? 1
    if (batchSize <= 1) {
      return requestsOfRows((await this.lease(this.db.pool, queue, options)).map(toStoredDelivery))
    }
    const rows = await this.db.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        LOCK_NAMESPACE,
        `${this.db.s}:${queue}`,
      ])
      const leased = (await this.lease(client, queue, options)).map(toStoredDelivery)
      const { deliveries, bindings } = bindClaimed(leased, batchSize)
      if (bindings.length > 0) {
        await client.query(
          `UPDATE ${this.db.s}.deliveries AS d SET request_id = b.request_id, request_pos = b.pos
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
         SELECT id, request_id FROM ${this.db.s}.deliveries
         WHERE queue = $1 AND next_attempt_at <= $2
           AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
         ORDER BY next_attempt_at, seq
         LIMIT $3
         FOR UPDATE SKIP LOCKED
       ), mates AS (
         -- The rest of a bound request one of them belongs to: a request is leased whole. As an
         -- array, so the planner looks the ids up in the request index instead of merging all of it.
         SELECT id FROM ${this.db.s}.deliveries
         WHERE queue = $1
           AND request_id = ANY (ARRAY(SELECT request_id FROM due WHERE request_id IS NOT NULL))
           AND id NOT IN (SELECT id FROM due)
           AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
         FOR UPDATE SKIP LOCKED
       ), claimed AS (
         SELECT id FROM due UNION ALL SELECT id FROM mates
       )
       UPDATE ${this.db.s}.deliveries AS d
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

  /** Removes delivered deliveries and counts the ones actually removed. */
  async complete(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    const ids = idsOf(requests)
    if (ids.length === 0) return
    await this.db.pool.query(
      `WITH ${this.lockIds()}, done AS (
         DELETE FROM ${this.db.s}.deliveries AS d USING locked WHERE d.queue = $1 AND d.id = locked.id RETURNING 1
       )
       INSERT INTO ${this.db.s}.counters AS c (queue, shard, delivered)
       SELECT $1, $3, count(*) FROM done HAVING count(*) > 0
       ON CONFLICT (queue, shard) DO UPDATE SET delivered = c.delivered + excluded.delivered`,
      [queue, [...ids], this.shard],
    )
  }

  /** Releases the leases, records the attempt, schedules the next one and counts it. */
  async retry(queue: string, request: ClaimedRequest, update: RetryUpdate): Promise<void> {
    const ids = idsOf([request])
    if (ids.length === 0) return
    await this.db.pool.query(
      `WITH ${this.lockIds()}, moved AS (
         UPDATE ${this.db.s}.deliveries AS d
         SET next_attempt_at = $3, attempts = $4, last_reason = $5, last_status = $6,
             lease_owner = NULL, lease_expires_at = NULL,
             -- A request's deliveries are bound to it in the order given.
             request_id = $8, request_pos = CASE WHEN $8::text IS NULL THEN NULL
                                                 ELSE array_position($2::text[], d.id) - 1 END
         FROM locked WHERE d.queue = $1 AND d.id = locked.id
         RETURNING 1
       )
       INSERT INTO ${this.db.s}.counters AS c (queue, shard, retried)
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

  /** Moves deliveries to the dead-letter table with the reason. */
  async kill(
    queue: string,
    requests: readonly ClaimedRequest[],
    update: KillUpdate,
  ): Promise<void> {
    const ids = idsOf(requests)
    if (ids.length === 0) return
    await this.db.pool.query(
      `WITH ${this.lockIds()}, moved AS (
         DELETE FROM ${this.db.s}.deliveries AS d USING locked WHERE d.queue = $1 AND d.id = locked.id
         RETURNING d.queue, d.id, d.body, d.message_id, d.enqueued_at, d.seq
       )
       INSERT INTO ${this.db.s}.dead_letters AS x
         (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       SELECT queue, id, body, message_id, enqueued_at, $3, $4, $5, $6, $7 FROM moved ORDER BY seq
       ON CONFLICT (queue, id) DO UPDATE SET
         body = excluded.body, message_id = excluded.message_id, enqueued_at = excluded.enqueued_at,
         attempts = excluded.attempts, dead_at = excluded.dead_at, reason = excluded.reason,
         last_status = excluded.last_status, detail = excluded.detail`,
      [queue, [...ids], update.attempts, update.now, update.reason, update.status, update.detail],
    )
  }

  /** Gives leases back without counting an attempt, and notifies the queue. */
  async release(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    const ids = idsOf(requests)
    if (ids.length === 0) return
    await this.db.pool.query(
      `WITH ${this.lockIds()}, freed AS (
         UPDATE ${this.db.s}.deliveries AS d SET lease_owner = NULL, lease_expires_at = NULL
         FROM locked WHERE d.queue = $1 AND d.id = locked.id RETURNING 1
       )
       SELECT pg_notify($3, $1) FROM (SELECT 1 FROM freed LIMIT 1) AS any_freed`,
      [queue, [...ids], this.db.channel],
    )
  }

  /** Makes every waiting delivery (no live lease) due `now`, notifies the queue, and returns how many. */
  async wake(queue: string, now: number): Promise<number> {
    const { rows } = await this.db.pool.query<{ n: string }>(
      `WITH waiting AS (
         SELECT id FROM ${this.db.s}.deliveries
         WHERE queue = $1 AND next_attempt_at > $2
           AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
         FOR UPDATE SKIP LOCKED
       ), woken AS (
         UPDATE ${this.db.s}.deliveries AS d SET next_attempt_at = $2
         FROM waiting WHERE d.queue = $1 AND d.id = waiting.id
         RETURNING 1
       ), n AS (SELECT count(*) AS n FROM woken)
       SELECT n, CASE WHEN n > 0 THEN pg_notify($3, $1) END FROM n`,
      [queue, now, this.db.channel],
    )
    return Number(rows[0]?.n ?? 0)
  }

  /** When the next delivery becomes claimable: two index lookups (waiting rows by due time, leased rows by expiry). */
  async nextDueAt(queue: string): Promise<number | null> {
    const { rows } = await this.db.pool.query<{ at: string | null }>(
      `SELECT LEAST(
         (SELECT next_attempt_at FROM ${this.db.s}.deliveries
          WHERE queue = $1 AND lease_expires_at IS NULL ORDER BY next_attempt_at LIMIT 1),
         (SELECT min(GREATEST(next_attempt_at, lease_expires_at)) FROM ${this.db.s}.deliveries
          WHERE queue = $1 AND lease_expires_at IS NOT NULL)
       ) AS at`,
      [queue],
    )
    const at = rows[0]?.at
    return at === null || at === undefined ? null : Number(at)
  }

  /**
   * The `locked` CTE every finishing statement starts with: the rows of queue
   * `$1` whose ids are in `$2`, locked in id order, so two workers finishing the
   * same deliveries (after a lease takeover) wait for each other instead of deadlocking.
   */
  private lockIds(): string {
    return `locked AS (
         SELECT id FROM ${this.db.s}.deliveries WHERE queue = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE
       )`
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
