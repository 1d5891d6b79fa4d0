/** The embedded queue: a {@link QueueStore} on one SQLite file (better-sqlite3, WAL), shared by queues and processes. */

import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { ReasonCode } from '@analytics-webhooks/core'
import Database from 'better-sqlite3'
import { type DeadRow, toDeadLetter } from './dead-row.js'
import type {
  DeadLetter,
  DeadSelection,
  KillUpdate,
  NewDelivery,
  QueueStats,
  QueueStore,
  RetryUpdate,
  StoredDelivery,
} from './types.js'

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

/** Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Never edit one that shipped: append. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE deliveries (
     seq INTEGER PRIMARY KEY,
     queue TEXT NOT NULL,
     id TEXT NOT NULL UNIQUE,
     message_id TEXT,
     enqueued_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     due_at INTEGER NOT NULL,
     lease_until INTEGER NOT NULL DEFAULT 0,
     ready_at INTEGER NOT NULL,
     worker TEXT,
     last_reason TEXT,
     last_status INTEGER
   );
   CREATE INDEX deliveries_ready ON deliveries (queue, ready_at, seq);
   -- Bodies live apart, so a claim or a retry rewrites a small row, not the payload.
   CREATE TABLE delivery_bodies (
     seq INTEGER PRIMARY KEY,
     body TEXT NOT NULL
   );
   CREATE TABLE dead_letters (
     seq INTEGER PRIMARY KEY,
     queue TEXT NOT NULL,
     id TEXT NOT NULL UNIQUE,
     body TEXT NOT NULL,
     message_id TEXT,
     enqueued_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL,
     dead_at INTEGER NOT NULL,
     reason TEXT NOT NULL,
     last_status INTEGER,
     detail TEXT
   );
   CREATE INDEX dead_letters_queue ON dead_letters (queue, seq);
   CREATE TABLE queue_counters (
     queue TEXT PRIMARY KEY,
     delivered INTEGER NOT NULL DEFAULT 0,
     retried INTEGER NOT NULL DEFAULT 0
   );`,
]

interface DeliveryRow {
  seq: number
  id: string
  message_id: string | null
  enqueued_at: number
  attempts: number
  due_at: number
  last_reason: string | null
  last_status: number | null
}

type Statement = Database.Statement<unknown[], unknown>

/**
 * A durable queue in one SQLite file. `ready_at` is when a row may next be
 * claimed: its due time, or its lease's end while a worker holds it, so
 * expired leases of a dead process become claimable with no extra query.
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
  private db: Database.Database | undefined
  private statements: Record<string, Statement> = {}

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
    if (this.db) return
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true })
    const db = new Database(this.path)
    try {
      db.pragma(`busy_timeout = ${this.options.busyTimeoutMs ?? 5000}`)
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${this.options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`)
      // Checkpoints fsync; a queue commits constantly, so checkpoint every ~40 MB of WAL rather than every 4 MB.
      db.pragma('wal_autocheckpoint = 10000')
      db.pragma('journal_size_limit = 67108864')
      migrate(db)
    } catch (error) {
      db.close()
      throw error
    }
    this.db = db
  }

  private get database(): Database.Database {
    if (!this.db)
      throw Object.assign(new Error('The SQLite queue store is not open'), { code: 'store_closed' })
    return this.db
  }

  private statement(sql: string): Statement {
    let statement = this.statements[sql]
    if (!statement) {
      statement = this.database.prepare(sql)
      this.statements[sql] = statement
    }
    return statement
  }

  async enqueue(queue: string, deliveries: readonly NewDelivery[]): Promise<void> {
    if (deliveries.length === 0) return
    const insert = this.statement(
      `INSERT INTO deliveries (queue, id, message_id, enqueued_at, due_at, ready_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    )
    const insertBody = this.statement('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)')
    this.database.transaction(() => {
      for (const d of deliveries) {
        const at = d.enqueuedAt
        const { lastInsertRowid } = insert.run(queue, d.id, d.messageId, at, at, at)
        insertBody.run(lastInsertRowid, d.body)
      }
    })()
  }

  async enqueueDead(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void> {
    if (letters.length === 0) return
    const insert = this.statement(
      `INSERT INTO dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.database.transaction(() => {
      for (const l of letters) {
        insert.run(
          queue,
          l.id,
          l.body,
          l.messageId,
          l.enqueuedAt,
          l.attempts,
          l.deadAt,
          l.reason,
          l.lastStatus,
          l.detail,
        )
      }
    })()
  }

  async claim(
    queue: string,
    options: { limit: number; now: number; leaseMs: number; worker: string },
  ): Promise<StoredDelivery[]> {
    const { limit, now, leaseMs, worker } = options
    if (limit <= 0) return []
    const lease = this.statement(
      `UPDATE deliveries SET lease_until = ?, ready_at = ?, worker = ?
       WHERE seq IN (SELECT seq FROM deliveries WHERE queue = ? AND ready_at <= ? ORDER BY ready_at, seq LIMIT ?)
       RETURNING seq, id, message_id, enqueued_at, attempts, due_at, last_reason, last_status`,
    )
    // One statement for every body, in the order of the JSON array of seqs (no per-row round trip).
    const bodiesOf = this.statement(
      `SELECT b.body FROM json_each(?) AS j CROSS JOIN delivery_bodies AS b ON b.seq = j.value ORDER BY j.key`,
    ).pluck()
    const until = now + leaseMs
    return this.database.transaction(() => {
      const rows = lease.all(until, until, worker, queue, now, limit) as DeliveryRow[]
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
      return claimed
    })()
  }

  async complete(queue: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    // Set-based: one DELETE for the rows and one for their bodies, whatever the number of ids.
    const remove = this.statement(
      'DELETE FROM deliveries WHERE +queue = ? AND id IN (SELECT value FROM json_each(?)) RETURNING seq',
    ).pluck()
    const removeBodies = this.statement(
      'DELETE FROM delivery_bodies WHERE seq IN (SELECT value FROM json_each(?))',
    )
    const count = this.statement(
      `INSERT INTO queue_counters (queue, delivered, retried) VALUES (?, ?, 0)
       ON CONFLICT (queue) DO UPDATE SET delivered = delivered + excluded.delivered`,
    )
    this.database.transaction(() => {
      const seqs = remove.all(queue, JSON.stringify(ids)) as number[]
      if (seqs.length === 0) return
      removeBodies.run(JSON.stringify(seqs))
      count.run(queue, seqs.length)
    })()
  }

  async retry(queue: string, ids: readonly string[], update: RetryUpdate): Promise<void> {
    if (ids.length === 0) return
    const reschedule = this.statement(
      `UPDATE deliveries SET attempts = ?, due_at = ?, ready_at = ?, lease_until = 0, worker = NULL,
       last_reason = ?, last_status = ? WHERE queue = ? AND id = ?`,
    )
    const count = this.statement(
      `INSERT INTO queue_counters (queue, delivered, retried) VALUES (?, 0, ?)
       ON CONFLICT (queue) DO UPDATE SET retried = retried + excluded.retried`,
    )
    this.database.transaction(() => {
      let changed = 0
      for (const id of ids) {
        changed += reschedule.run(
          update.attempts,
          update.at,
          update.at,
          update.reason,
          update.status,
          queue,
          id,
        ).changes
      }
      if (changed > 0) count.run(queue, changed)
    })()
  }

  async kill(queue: string, ids: readonly string[], update: KillUpdate): Promise<void> {
    if (ids.length === 0) return
    const move = this.statement(
      `INSERT INTO dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       SELECT d.queue, d.id, b.body, d.message_id, d.enqueued_at, ?, ?, ?, ?, ?
       FROM deliveries d JOIN delivery_bodies b ON b.seq = d.seq WHERE d.queue = ? AND d.id = ?`,
    )
    const remove = this.statement(
      'DELETE FROM deliveries WHERE queue = ? AND id = ? RETURNING seq',
    ).pluck()
    const removeBody = this.statement('DELETE FROM delivery_bodies WHERE seq = ?')
    const { attempts, now, reason, status, detail } = update
    this.database.transaction(() => {
      for (const id of ids) {
        if (move.run(attempts, now, reason, status, detail, queue, id).changes > 0) {
          removeBody.run(remove.get(queue, id))
        }
      }
    })()
  }

  async release(queue: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    const release = this.statement(
      'UPDATE deliveries SET lease_until = 0, ready_at = due_at, worker = NULL WHERE queue = ? AND id = ?',
    )
    this.database.transaction(() => {
      for (const id of ids) release.run(queue, id)
    })()
  }

  async wake(queue: string, now: number): Promise<number> {
    return this.statement(
      `UPDATE deliveries SET due_at = ?, ready_at = ? WHERE queue = ? AND lease_until <= ? AND due_at > ?`,
    ).run(now, now, queue, now, now).changes
  }

  async nextDueAt(queue: string): Promise<number | null> {
    const row = this.statement(
      'SELECT ready_at FROM deliveries WHERE queue = ? ORDER BY ready_at LIMIT 1',
    ).get(queue) as { ready_at: number } | undefined
    return row ? row.ready_at : null
  }

  async stats(queue?: string): Promise<QueueStats> {
    const now = Date.now()
    const where = queue === undefined ? '' : 'WHERE queue = ?'
    const args = queue === undefined ? [] : [queue]
    const waiting = this.statement(
      `SELECT count(*) AS total, coalesce(sum(lease_until > ?), 0) AS in_flight,
       coalesce(sum(lease_until <= ? AND attempts > 0), 0) AS retrying, min(enqueued_at) AS oldest
       FROM deliveries ${where}`,
    ).get(now, now, ...args) as {
      total: number
      in_flight: number
      retrying: number
      oldest: number | null
    }
    const counters = this.statement(
      `SELECT coalesce(sum(delivered), 0) AS delivered, coalesce(sum(retried), 0) AS retried FROM queue_counters ${where}`,
    ).get(...args) as { delivered: number; retried: number }
    const dead = this.statement(
      `SELECT reason, count(*) AS n FROM dead_letters ${where} GROUP BY reason`,
    ).all(...args) as { reason: ReasonCode; n: number }[]
    const deadByReason: Partial<Record<ReasonCode, number>> = {}
    let deadTotal = 0
    for (const { reason, n } of dead) {
      deadByReason[reason] = n
      deadTotal += n
    }
    return {
      queued: waiting.total - waiting.in_flight,
      inFlight: waiting.in_flight,
      retrying: waiting.retrying,
      delivered: counters.delivered,
      retried: counters.retried,
      dead: deadTotal,
      deadByReason,
      oldestEnqueuedAt: waiting.oldest,
    }
  }

  async listDead(
    options: { queue?: string; limit?: number; offset?: number } = {},
  ): Promise<DeadLetter[]> {
    const where = options.queue === undefined ? '' : 'WHERE queue = ?'
    const args: unknown[] = options.queue === undefined ? [] : [options.queue]
    const rows = this.statement(
      `SELECT queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail
       FROM dead_letters ${where} ORDER BY seq LIMIT ? OFFSET ?`,
    ).all(...args, options.limit ?? 100, options.offset ?? 0) as DeadRow[]
    return rows.map(toDeadLetter)
  }

  async replayDead(
    selection: DeadSelection,
    options: { now: number; queue?: string },
  ): Promise<number> {
    const [where, args] = deadWhere(selection, options.queue)
    const take = this.statement(
      `DELETE FROM dead_letters WHERE ${where} RETURNING seq, queue, id, body, message_id`,
    )
    const insert = this.statement(
      `INSERT INTO deliveries (queue, id, message_id, enqueued_at, due_at, ready_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    )
    const insertBody = this.statement('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)')
    const now = options.now
    return this.database.transaction(() => {
      let moved = 0
      for (const a of args) {
        const rows = take.all(...a) as (DeadRow & { seq: number })[]
        rows.sort((x, y) => x.seq - y.seq)
        for (const row of rows) {
          const { lastInsertRowid } = insert.run(row.queue, row.id, row.message_id, now, now, now)
          insertBody.run(lastInsertRowid, row.body)
          moved++
        }
      }
      return moved
    })()
  }

  async purgeDead(selection: DeadSelection, options: { queue?: string } = {}): Promise<number> {
    const [where, args] = deadWhere(selection, options.queue)
    const remove = this.statement(`DELETE FROM dead_letters WHERE ${where}`)
    return this.database.transaction(() => {
      let removed = 0
      for (const a of args) removed += remove.run(...a).changes
      return removed
    })()
  }

  async close(): Promise<void> {
    this.statements = {}
    const db = this.db
    this.db = undefined
    db?.close()
  }
}

/** The WHERE clause and one argument list per statement run for a dead-letter selection. */
function deadWhere(selection: DeadSelection, queue: string | undefined): [string, unknown[][]] {
  const queueClause = queue === undefined ? '' : ' AND queue = ?'
  const queueArgs = queue === undefined ? [] : [queue]
  if ('all' in selection) return [`1 = 1${queueClause}`, [queueArgs]]
  return [`id = ?${queueClause}`, selection.ids.map((id) => [id, ...queueArgs])]
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number
  if (version >= MIGRATIONS.length) return
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const current = db.pragma('user_version', { simple: true }) as number
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v] as string)
      db.pragma(`user_version = ${v + 1}`)
    }
  }).immediate()
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
  }
}
