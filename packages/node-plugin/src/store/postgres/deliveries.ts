/** The PostgreSQL queue's rows (one delivery each): claiming and binding them, their outcomes by id, and when the queue is next due. */

import type { ReasonCode } from '@analytics-webhooks/core'
import type pg from 'pg'
import { bindClaimed } from '../bind.js'
import type { ClaimOptions, KillUpdate, RetryUpdate, StoredDelivery } from '../types.js'
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
  traceparent: string | null
}

/**
 * The `deliveries` table of one PostgreSQL store: one row per delivery that
 * left its block (retried, replayed, or acted on by id by a process that did
 * not hold the block). Claims use `FOR UPDATE SKIP LOCKED` and leases;
 * statements that change several rows lock them in id order (see
 * {@link PostgresDeliveries.lockIds}). Releases and wakes `NOTIFY` the queue's channel.
 *
 * @example
 * const deliveries = new PostgresDeliveries(db)
 * const found = await deliveries.complete('default', ['id-1', 'id-2'])
 */
export class PostgresDeliveries {
  private readonly db: PostgresConnection
  /** The counter row this instance adds to (blocks' outcomes count there too). */
  readonly shard = Math.floor(Math.random() * COUNTER_SHARDS)

  constructor(db: PostgresConnection) {
    this.db = db
  }

  /**
   * Leases up to `limit` due rows and, with `batchSize` above 1, binds the
   * unbound ones to requests, on the caller's transaction (which holds the
   * queue's claim lock when binding: see {@link PostgresDeliveries.lockClaims}).
   */
  async claim(
    client: pg.PoolClient,
    queue: string,
    options: ClaimOptions,
    limit: number,
  ): Promise<StoredDelivery[]> {
    if (limit <= 0) return []
    const leased = (await this.lease(client, queue, { ...options, limit })).map(toStoredDelivery)
    const { deliveries, bindings } = bindClaimed(leased, options.batchSize ?? 1)
    if (bindings.length > 0) {
      await this.db.run(
        `UPDATE ${this.db.s}.deliveries AS d SET request_id = b.request_id, request_pos = b.pos
         FROM unnest($2::text[], $3::text[], $4::int[]) AS b(id, request_id, pos)
         WHERE d.queue = $1 AND d.id = b.id`,
        [
          queue,
          bindings.map((b) => b.id),
          bindings.map((b) => b.requestId),
          bindings.map((b) => b.position),
        ],
        client,
      )
    }
    return deliveries
  }

  /**
   * Makes the claims of `queue` that bind rows take turns until the caller's
   * transaction ends, so two workers never lease halves of one batch.
   */
  async lockClaims(client: pg.PoolClient, queue: string): Promise<void> {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
      LOCK_NAMESPACE,
      `${this.db.s}:${queue}`,
    ])
  }

  /** Leases due rows, with the rest of any bound request one of them belongs to; sorted oldest due first. */
  private async lease(
    client: pg.Pool | pg.PoolClient,
    queue: string,
    options: ClaimOptions,
  ): Promise<(DeliveryRow & { seq: string })[]> {
    const { rows } = await this.db.run<DeliveryRow & { seq: string }>(
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
                 d.attempts, d.last_reason, d.last_status, d.request_id, d.request_pos, d.traceparent`,
      [queue, options.now, options.limit, options.worker, options.now + options.leaseMs],
      client,
    )
    rows.sort(
      (a, b) =>
        Number(a.next_attempt_at) - Number(b.next_attempt_at) || Number(a.seq) - Number(b.seq),
    )
    return rows
  }

  /** Removes delivered rows by id and counts the ones actually removed; returns their ids. */
  async complete(queue: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return []
    const { rows } = await this.db.run<{ id: string }>(
      `WITH ${this.lockIds()}, done AS (
         DELETE FROM ${this.db.s}.deliveries AS d USING locked WHERE d.queue = $1 AND d.id = locked.id RETURNING d.id
       ), counted AS (
         INSERT INTO ${this.db.s}.counters AS c (queue, shard, delivered)
         SELECT $1, $3, count(*) FROM done HAVING count(*) > 0
         ON CONFLICT (queue, shard) DO UPDATE SET delivered = c.delivered + excluded.delivered
       )
       SELECT id FROM done`,
      [queue, [...ids], this.shard],
    )
    return rows.map((r) => r.id)
  }

  /**
   * Releases the leases of rows by id, records the attempt, schedules the
   * next one and counts it; with `update.requestId`, binds each to it at its
   * `positions` entry. Returns the ids it found.
   */
  async retry(
    queue: string,
    ids: readonly string[],
    positions: readonly number[],
    update: RetryUpdate,
  ): Promise<string[]> {
    if (ids.length === 0) return []
    const { rows } = await this.db.run<{ id: string }>(
      `WITH ${this.lockIds()}, moved AS (
         UPDATE ${this.db.s}.deliveries AS d
         SET next_attempt_at = $3, attempts = $4, last_reason = $5, last_status = $6,
             lease_owner = NULL, lease_expires_at = NULL,
             request_id = $8, request_pos = CASE WHEN $8::text IS NULL THEN NULL ELSE p.pos END
         FROM locked JOIN unnest($2::text[], $9::int[]) AS p(id, pos) ON p.id = locked.id
         WHERE d.queue = $1 AND d.id = locked.id
         RETURNING d.id
       ), counted AS (
         INSERT INTO ${this.db.s}.counters AS c (queue, shard, retried)
         SELECT $1, $7, count(*) FROM moved HAVING count(*) > 0
         ON CONFLICT (queue, shard) DO UPDATE SET retried = c.retried + excluded.retried
       )
       SELECT id FROM moved`,
      [
        queue,
        [...ids],
        update.at,
        update.attempts,
        update.reason,
        update.status,
        this.shard,
        update.requestId ?? null,
        [...positions],
      ],
    )
    return rows.map((r) => r.id)
  }

  /** Moves rows by id to the dead-letter table with the reason; returns the ids it found. */
  async kill(queue: string, ids: readonly string[], update: KillUpdate): Promise<string[]> {
    if (ids.length === 0) return []
    const { rows } = await this.db.run<{ id: string }>(
      `WITH ${this.lockIds()}, moved AS (
         DELETE FROM ${this.db.s}.deliveries AS d USING locked WHERE d.queue = $1 AND d.id = locked.id
         RETURNING d.queue, d.id, d.body, d.message_id, d.enqueued_at, d.seq
       ), killed AS (
         INSERT INTO ${this.db.s}.dead_letters AS x
           (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
         SELECT queue, id, body, message_id, enqueued_at, $3, $4, $5, $6, $7 FROM moved ORDER BY seq
         ON CONFLICT (queue, id) DO UPDATE SET
           body = excluded.body, message_id = excluded.message_id, enqueued_at = excluded.enqueued_at,
           attempts = excluded.attempts, dead_at = excluded.dead_at, reason = excluded.reason,
           last_status = excluded.last_status, detail = excluded.detail
       )
       SELECT id FROM moved`,
      [queue, [...ids], update.attempts, update.now, update.reason, update.status, update.detail],
    )
    return rows.map((r) => r.id)
  }

  /** Gives leases of rows back by id without counting an attempt, and notifies the queue; returns the ids it found. */
  async release(queue: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return []
    const { rows } = await this.db.run<{ id: string | null }>(
      `WITH ${this.lockIds()}, freed AS (
         UPDATE ${this.db.s}.deliveries AS d SET lease_owner = NULL, lease_expires_at = NULL
         FROM locked WHERE d.queue = $1 AND d.id = locked.id RETURNING d.id
       )
       SELECT id FROM freed
       UNION ALL SELECT NULL FROM (SELECT pg_notify($3, $1) FROM (SELECT 1 FROM freed LIMIT 1) AS f) AS n`,
      [queue, [...ids], this.db.channel],
    )
    return rows.flatMap((r) => (r.id === null ? [] : [r.id]))
  }

  /** Makes every waiting delivery (no live lease), in rows and blocks, due `now`, notifies the queue, and returns how many. */
  async wake(queue: string, now: number): Promise<number> {
    const { rows } = await this.db.run<{ n: string }>(
      `WITH waiting AS (
         SELECT id FROM ${this.db.s}.deliveries
         WHERE queue = $1 AND next_attempt_at > $2
           AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
         FOR UPDATE SKIP LOCKED
       ), woken AS (
         UPDATE ${this.db.s}.deliveries AS d SET next_attempt_at = $2
         FROM waiting WHERE d.queue = $1 AND d.id = waiting.id
         RETURNING 1 AS n
       ), woken_blocks AS (
         UPDATE ${this.db.s}.delivery_blocks SET ready_at = $2
         WHERE queue = $1 AND lease_owner IS NULL AND ready_at > $2
         RETURNING count - done AS n
       ), n AS (
         SELECT COALESCE((SELECT sum(n) FROM woken), 0) + COALESCE((SELECT sum(n) FROM woken_blocks), 0) AS n
       )
       SELECT n, CASE WHEN n > 0 THEN pg_notify($3, $1) END FROM n`,
      [queue, now, this.db.channel],
    )
    return Number(rows[0]?.n ?? 0)
  }

  /**
   * When the next delivery becomes claimable: three index lookups (waiting
   * rows by due time, leased rows by expiry, blocks by when they are ready).
   */
  async nextDueAt(queue: string): Promise<number | null> {
    const { rows } = await this.db.run<{ at: string | null }>(
      `SELECT LEAST(
         (SELECT next_attempt_at FROM ${this.db.s}.deliveries
          WHERE queue = $1 AND lease_expires_at IS NULL ORDER BY next_attempt_at LIMIT 1),
         (SELECT min(GREATEST(next_attempt_at, lease_expires_at)) FROM ${this.db.s}.deliveries
          WHERE queue = $1 AND lease_expires_at IS NOT NULL),
         (SELECT ready_at FROM ${this.db.s}.delivery_blocks
          WHERE queue = $1 ORDER BY ready_at LIMIT 1)
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
    traceparent: r.traceparent,
  }
}
