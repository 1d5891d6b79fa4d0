/** The SQLite queue's rows (one delivery each): claiming and binding them, and the outcomes every delivery gets by id. */

import type { ReasonCode } from '@analytics-webhooks/core'
import { bindClaimed } from '../bind.js'
import type { KillUpdate, NewDelivery, RetryUpdate, StoredDelivery } from '../types.js'
import type { SqliteBlocks } from './blocks.js'
import type { SqliteConnection } from './connection.js'
import type { SqliteDeadLetters } from './dead-letters.js'
import { countOutcomes } from './stats.js'

/** A `deliveries` row as a claim reads it back. */
interface DeliveryRow {
  seq: number
  id: string
  message_id: string | null
  enqueued_at: number
  attempts: number
  due_at: number
  last_reason: string | null
  last_status: number | null
  request_id: string | null
  request_pos: number | null
  traceparent: string | null
}

/**
 * The `deliveries` table of one SQLite store: retries, replays and deliveries
 * that left their block. Outcomes by id apply to a delivery wherever it is:
 * in a block this store holds (through {@link SqliteBlocks.settle}) or in a row.
 *
 * @example
 * const rows = new SqliteRows(sql, blocks, dead)
 * rows.retry('default', ['id-1'], { attempts: 1, at: Date.now() + 5_000, reason: 'http_5xx', status: 503 })
 */
export class SqliteRows {
  private readonly sql: SqliteConnection
  private readonly blocks: SqliteBlocks
  private readonly dead: SqliteDeadLetters

  constructor(sql: SqliteConnection, blocks: SqliteBlocks, dead: SqliteDeadLetters) {
    this.sql = sql
    this.blocks = blocks
    this.dead = dead
  }

  /**
   * Leases up to `limit` due rows, oldest due first, and binds the unbound ones
   * to requests when `batchSize` is above 1; runs inside the caller's transaction.
   */
  claim(
    queue: string,
    limit: number,
    now: number,
    until: number,
    worker: string,
    batchSize: number,
  ): StoredDelivery[] {
    // The due rows, and every other delivery of a bound request one of them belongs to: a request
    // is leased whole (its deliveries share a schedule, so this rarely adds any). `+ready_at` keeps
    // the planner on the request index: on the due index it read every due row per claim.
    const lease = this.sql.statement(
      `WITH due AS (
         SELECT seq, request_id FROM deliveries WHERE queue = ? AND ready_at <= ? ORDER BY ready_at, seq LIMIT ?
       )
       UPDATE deliveries SET lease_until = ?, ready_at = ?, worker = ?
       WHERE seq IN (SELECT seq FROM due)
          OR (queue = ? AND +ready_at <= ?
              AND request_id IN (SELECT request_id FROM due WHERE request_id IS NOT NULL))
       RETURNING seq, id, message_id, enqueued_at, attempts, due_at, last_reason, last_status, request_id, request_pos,
                 traceparent`,
    )
    // One statement for every body, in the order of the JSON array of seqs (no per-row round trip).
    const bodiesOf = this.sql
      .statement(
        `SELECT b.body FROM json_each(?) AS j CROSS JOIN delivery_bodies AS b ON b.seq = j.value ORDER BY j.key`,
      )
      .pluck()
    const rows = lease.all(queue, now, limit, until, until, worker, queue, now) as DeliveryRow[]
    if (rows.length === 0) return []
    // RETURNING gives no order; the claim is oldest due first, then first enqueued.
    rows.sort((a, b) => a.due_at - b.due_at || a.seq - b.seq)
    const seqs: number[] = new Array(rows.length)
    for (let i = 0; i < rows.length; i++) seqs[i] = (rows[i] as DeliveryRow).seq
    const bodies = bodiesOf.all(JSON.stringify(seqs)) as string[]
    const claimed: StoredDelivery[] = new Array(rows.length)
    for (let i = 0; i < rows.length; i++) {
      claimed[i] = toStoredDelivery(queue, rows[i] as DeliveryRow, bodies[i] as string)
    }
    const { deliveries, bindings } = bindClaimed(claimed, batchSize)
    if (bindings.length > 0) {
      const bind = this.sql.statement(
        'UPDATE deliveries SET request_id = ?, request_pos = ? WHERE id = ? AND queue = ?',
      )
      for (const b of bindings) bind.run(b.requestId, b.position, b.id, queue)
    }
    return deliveries
  }

  /** Delivered, by id: removes them and counts them. */
  complete(queue: string, ids: readonly string[]): void {
    if (ids.length === 0) return
    // Set-based: one DELETE for the rows and one for their bodies, whatever the number of ids.
    const remove = this.sql
      .statement(
        'DELETE FROM deliveries WHERE +queue = ? AND id IN (SELECT value FROM json_each(?)) RETURNING seq',
      )
      .pluck()
    const removeBodies = this.sql.statement(
      'DELETE FROM delivery_bodies WHERE seq IN (SELECT value FROM json_each(?))',
    )
    this.blocks.settle((touched) => {
      const { held, rows } = this.blocks.locate(queue, ids)
      let delivered = 0
      if (rows.length > 0) {
        const seqs = remove.all(queue, JSON.stringify(rows)) as number[]
        if (seqs.length > 0) removeBodies.run(JSON.stringify(seqs))
        delivered += seqs.length
      }
      for (const { block, index } of held) {
        if (block.remove(index)) {
          delivered++
          touched.add(block)
        }
      }
      if (delivered > 0) countOutcomes(this.sql, queue, { delivered })
    })
  }

  /** Reschedules deliveries as rows (one of a held block becomes a row), bound to `update.requestId` in the order given. */
  retry(queue: string, ids: readonly string[], update: RetryUpdate): void {
    if (ids.length === 0) return
    const reschedule = this.sql.statement(
      `UPDATE deliveries SET attempts = @attempts, due_at = @at, ready_at = @at, lease_until = 0,
       worker = NULL, last_reason = @reason, last_status = @status, request_id = @request,
       request_pos = @position WHERE queue = @queue AND id = @id`,
    )
    // A delivery leaving its block becomes a row with its new schedule.
    const insert = this.sql.statement(
      `INSERT OR IGNORE INTO deliveries (queue, id, message_id, enqueued_at, attempts, due_at, ready_at,
       last_reason, last_status, request_id, request_pos, traceparent)
       VALUES (@queue, @id, @messageId, @enqueuedAt, @attempts, @at, @at, @reason, @status, @request, @position,
       @traceparent)`,
    )
    const insertBody = this.sql.statement('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)')
    const { attempts, at, reason, status } = update
    const request = update.requestId ?? null
    const outcome = { queue, attempts, at, reason, status, request }
    // A request's deliveries are bound to it in the order given.
    const positions = request === null ? undefined : new Map(ids.map((id, i) => [id, i]))
    const position = (id: string) => positions?.get(id) ?? null
    this.blocks.settle((touched) => {
      const { held, rows } = this.blocks.locate(queue, ids)
      let changed = 0
      for (const id of rows) {
        changed += reschedule.run({ ...outcome, id, position: position(id) }).changes
      }
      for (const { block, index } of held) {
        if (!block.remove(index)) continue
        touched.add(block)
        const d = block.deliveries[index] as NewDelivery
        const row = insert.run({
          ...outcome,
          id: d.id,
          messageId: d.messageId,
          enqueuedAt: d.enqueuedAt,
          position: position(d.id),
          traceparent: d.traceparent ?? null,
        })
        if (row.changes > 0) insertBody.run(row.lastInsertRowid, d.body)
        changed++
      }
      if (changed > 0) countOutcomes(this.sql, queue, { retried: changed })
    })
  }

  /** Moves deliveries to the dead letters with the reason. */
  kill(queue: string, ids: readonly string[], update: KillUpdate): void {
    if (ids.length === 0) return
    const move = this.sql.statement(
      `INSERT OR IGNORE INTO dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       SELECT d.queue, d.id, b.body, d.message_id, d.enqueued_at, ?, ?, ?, ?, ?
       FROM deliveries d JOIN delivery_bodies b ON b.seq = d.seq WHERE d.queue = ? AND d.id = ?`,
    )
    const remove = this.sql
      .statement('DELETE FROM deliveries WHERE queue = ? AND id = ? RETURNING seq')
      .pluck()
    const removeBody = this.sql.statement('DELETE FROM delivery_bodies WHERE seq = ?')
    const insert = this.dead.insert()
    const { attempts, now, reason, status, detail } = update
    this.blocks.settle((touched) => {
      const { held, rows } = this.blocks.locate(queue, ids)
      for (const id of rows) {
        move.run(attempts, now, reason, status, detail, queue, id)
        const seq = remove.get(queue, id)
        if (seq !== undefined) removeBody.run(seq)
      }
      for (const { block, index } of held) {
        if (!block.remove(index)) continue
        touched.add(block)
        const d = block.deliveries[index] as NewDelivery
        insert.run(
          queue,
          d.id,
          d.body,
          d.messageId,
          d.enqueuedAt,
          attempts,
          now,
          reason,
          status,
          detail,
        )
      }
    })
  }

  /** Gives leases back unsent, without counting an attempt. */
  release(queue: string, ids: readonly string[]): void {
    if (ids.length === 0) return
    const release = this.sql.statement(
      'UPDATE deliveries SET lease_until = 0, ready_at = due_at, worker = NULL WHERE queue = ? AND id = ?',
    )
    this.blocks.settle((touched) => {
      const { held, rows } = this.blocks.locate(queue, ids)
      for (const id of rows) release.run(queue, id)
      for (const { block, index } of held) if (block.release(index)) touched.add(block)
    })
  }
}

function toStoredDelivery(queue: string, row: DeliveryRow, body: string): StoredDelivery {
  return {
    id: row.id,
    body,
    messageId: row.message_id,
    enqueuedAt: row.enqueued_at,
    queue,
    attempts: row.attempts,
    nextAttemptAt: row.due_at,
    lastReason: row.last_reason as ReasonCode | null,
    lastStatus: row.last_status,
    requestId: row.request_id,
    requestPosition: row.request_pos,
    traceparent: row.traceparent,
  }
}
