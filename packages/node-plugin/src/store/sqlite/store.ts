/** The embedded queue: a {@link QueueStore} on one SQLite file (better-sqlite3, WAL), shared by queues and processes. */

import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { type ReasonCode, requestId } from '@analytics-webhooks/core'
import Database from 'better-sqlite3'
import { bindClaimed, idsOf, nameOf, requestsOfRows } from './bind.js'
import {
  BLOCK_MAX,
  BlockClaim,
  type BlockPlan,
  type BlockRange,
  HeldBlock,
  HeldGroup,
  packBlock,
  unpackBlock,
} from './block.js'
import { planGroup, requestsOf } from './block-plan.js'
import { type DeadRow, toDeadLetter } from './dead-row.js'
import { REPLAYABLE_SQL } from './replayable.js'
import { SqliteStoreError } from './sqlite-errors.js'
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
  // Never-attempted deliveries, many to a row (see block.ts): a claim, a lease and a delete per
  // block instead of per delivery. A delivery leaves its block as a row of deliveries once it is
  // rescheduled, given back on its own, or touched by a process that does not hold the block.
  // `done` counts deliveries of a leased block already delivered or moved out, so stats skip them.
  `CREATE TABLE delivery_blocks (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     queue TEXT NOT NULL,
     count INTEGER NOT NULL,
     done INTEGER NOT NULL DEFAULT 0,
     first_at INTEGER NOT NULL,
     last_at INTEGER NOT NULL,
     due_at INTEGER NOT NULL,
     ready_at INTEGER NOT NULL,
     lease_until INTEGER NOT NULL DEFAULT 0,
     worker TEXT
   );
   CREATE INDEX delivery_blocks_ready ON delivery_blocks (queue, ready_at, seq);
   -- Payloads apart again, so a lease or a count rewrites a small row.
   CREATE TABLE delivery_block_bodies (
     seq INTEGER PRIMARY KEY,
     meta TEXT NOT NULL,
     bodies TEXT NOT NULL
   );`,
  // A failed request of several deliveries: its id and each delivery's place in it, so it is
  // claimed whole and sent again byte for byte (see QueueStore.retry).
  `ALTER TABLE deliveries ADD COLUMN request_id TEXT;
   ALTER TABLE deliveries ADD COLUMN request_pos INTEGER;
   CREATE INDEX deliveries_request ON deliveries (queue, request_id) WHERE request_id IS NOT NULL;`,
  // A claim cuts the blocks it leases into requests before sending any and records the cut, so
  // the same requests are formed again after a restart or a lease takeover (see block-plan.ts):
  // `lease_group` is the seq of the first block leased with it, `plan` where its requests start
  // (JSON; NULL: each delivery alone), `gone` which of its deliveries have an outcome ('0'/'1').
  `ALTER TABLE delivery_blocks ADD COLUMN lease_group INTEGER;
   ALTER TABLE delivery_blocks ADD COLUMN plan TEXT;
   ALTER TABLE delivery_blocks ADD COLUMN gone TEXT;
   CREATE INDEX delivery_blocks_group ON delivery_blocks (lease_group) WHERE lease_group IS NOT NULL;`,
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
  request_id: string | null
  request_pos: number | null
}

type Statement = Database.Statement<unknown[], unknown>

/** What became of a block this store leased: see `SqliteQueueStore.holding`. */
type Holding = 'ours' | 'taken' | 'gone'

/** How many candidate blocks a claim reads at a time. */
const CANDIDATE_PAGE = 16

/**
 * How many just-enqueued deliveries a store keeps in memory for its next claims.
 * A worker that keeps up claims within milliseconds; one that is behind never
 * uses them, and then the store stops keeping them (held in memory until
 * evicted, they cost ~25 MB of RSS in bench 4 even at 2048).
 */
const FRESH_MAX = 2048

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
  /** Blocks this instance has leased, by seq, and where each of their deliveries is. */
  private readonly held = new Map<number, HeldBlock>()
  /** Where each delivery of a held block is, by id: filled in only when needed ({@link indexHeld}). */
  private readonly heldIds = new Map<string, { block: HeldBlock; index: number }>()
  /** How many held blocks are not in {@link heldIds} yet. */
  private unindexed = 0
  /**
   * The latest blocks this instance enqueued, by seq, so claiming them soon after
   * skips reading back and parsing what was just written. Block seqs are never
   * reused (AUTOINCREMENT), so an entry can only be missing, never wrong.
   */
  private readonly fresh = new Map<number, { queue: string; deliveries: readonly NewDelivery[] }>()
  private freshCount = 0
  /** Off from an eviction (the worker is behind) until a claim finds nothing more due (it caught up). */
  private freshOn = true

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
    if (!this.db) throw new SqliteStoreError('store_closed', 'The SQLite queue store is not open')
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
    const chunks: (readonly NewDelivery[])[] = []
    for (let i = 0; i < deliveries.length; i += BLOCK_MAX) {
      chunks.push(deliveries.length <= BLOCK_MAX ? deliveries : deliveries.slice(i, i + BLOCK_MAX))
    }
    const blocks = chunks.map(packBlock)
    const insert = this.statement(
      `INSERT INTO delivery_blocks (queue, count, first_at, last_at, due_at, ready_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    )
    const insertBodies = this.statement(
      'INSERT INTO delivery_block_bodies (seq, meta, bodies) VALUES (?, ?, ?)',
    )
    const seqs = this.database.transaction(() =>
      blocks.map((b) => {
        const { lastInsertRowid } = insert.run(
          queue,
          b.count,
          b.firstAt,
          b.lastAt,
          b.firstAt,
          b.firstAt,
        )
        insertBodies.run(lastInsertRowid, b.meta, b.bodies)
        return Number(lastInsertRowid)
      }),
    )()
    if (!this.freshOn) return
    for (let i = 0; i < seqs.length; i++) {
      const chunk = chunks[i] as readonly NewDelivery[]
      this.fresh.set(seqs[i] as number, { queue, deliveries: chunk })
      this.freshCount += chunk.length
    }
    if (this.freshCount > FRESH_MAX) {
      // Not claimed in time: the worker is working through older deliveries, so stop keeping new ones.
      this.fresh.clear()
      this.freshCount = 0
      this.freshOn = false
    }
  }

  async enqueueDead(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void> {
    if (letters.length === 0) return
    const insert = this.insertDead()
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

  /**
   * Leases rows first (retries, replays, deliveries rescheduled or given back
   * one by one), then whole blocks, oldest due first, and returns them as the
   * requests they form (see {@link claimHeld}). A block is split into rows
   * when it does not fit in `limit` or is not wholly due, and nothing else
   * was taken.
   */
  async claim(queue: string, options: ClaimOptions): Promise<ClaimedRequest[]> {
    const { deliveries: rows, requests } = this.claimHeld(queue, options)
    const claimed: ClaimedRequest[] = requestsOfRows(rows)
    const ofRows = claimed.length
    for (const request of requests) claimed.push(request)
    // Oldest due first: a request of rows is due at its earliest row's time, one of blocks when
    // enqueued. Usually in that order already, so this is one pass.
    const due = claimed.map((request, i) => (i < ofRows ? dueOf(request) : request.enqueuedAt))
    for (let i = 1; i < due.length; i++) {
      if ((due[i] as number) < (due[i - 1] as number)) {
        const order = claimed
          .map((_, k) => k)
          .sort((a, b) => (due[a] as number) - (due[b] as number))
        return order.map((k) => claimed[k] as ClaimedRequest)
      }
    }
    return claimed
  }

  /** Delivered: requests cut from blocks this store holds by range (no lookup per delivery), the rest by id. */
  async complete(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    const ranges: BlockRange[] = []
    const others: ClaimedRequest[] = []
    for (const request of requests) {
      if (request instanceof BlockClaim) ranges.push(...request.ranges)
      else others.push(request)
    }
    if (ranges.length > 0) this.completeRanges(queue, ranges)
    if (others.length > 0) this.completeIds(queue, idsOf(others))
  }

  async retry(queue: string, request: ClaimedRequest, update: RetryUpdate): Promise<void> {
    this.retryIds(queue, idsOf([request]), update)
  }

  async kill(
    queue: string,
    requests: readonly ClaimedRequest[],
    update: KillUpdate,
  ): Promise<void> {
    this.killIds(queue, idsOf(requests), update)
  }

  async release(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    this.releaseIds(queue, idsOf(requests))
  }

  /** Never calls back: other processes sharing the file are seen by polling (`pollIntervalMs`). */
  async subscribe(_queue: string, _onWake: () => void): Promise<() => Promise<void>> {
    return async () => {}
  }

  /**
   * The claim: rows, then blocks. Blocks never leased before are leased as one
   * group, cut into requests across them, and the cut is written with the
   * lease; a block of a group leased before (its worker died, or gave it back)
   * brings its whole group, cut as it was, even past `limit`.
   */
  private claimHeld(
    queue: string,
    options: ClaimOptions,
  ): { deliveries: StoredDelivery[]; requests: BlockClaim[] } {
    const { limit, now, leaseMs, worker } = options
    const batchSize = options.batchSize ?? 1
    if (limit <= 0) return { deliveries: [], requests: [] }
    const until = now + leaseMs
    const candidates = this.statement(
      `SELECT seq, count, last_at, lease_group FROM delivery_blocks WHERE queue = ? AND ready_at <= ?
       ORDER BY ready_at, seq LIMIT ?`,
    )
    const lease = this.statement(
      `UPDATE delivery_blocks SET lease_until = ?, ready_at = ?, worker = ?, done = 0, lease_group = ?
       WHERE seq = ?`,
    )
    const setPlan = this.statement('UPDATE delivery_blocks SET plan = ? WHERE seq = ?')
    const { rows, groups, more } = this.database.transaction(() => {
      const rows = this.claimRows(queue, limit, now, until, worker, batchSize)
      const groups: HeldGroup[] = []
      const taken = new Set<number>()
      const fresh: { seq: number; deliveries: readonly NewDelivery[] }[] = []
      let room = limit - rows.length
      let more = true
      // Candidates a page at a time: a leased block leaves the due set, so the same query
      // gives the next page. (Asking for `room` candidates read up to 256 rows to use one.)
      page: while (room > 0) {
        const found = candidates.all(queue, now, CANDIDATE_PAGE) as {
          seq: number
          count: number
          last_at: number
          lease_group: number | null
        }[]
        for (const block of found) {
          if (taken.has(block.seq)) continue
          if (block.lease_group !== null) {
            const group = this.leaseGroup(queue, block.lease_group, until, worker, now)
            for (const held of group.blocks) {
              taken.add(held.seq)
              room -= held.deliveries.length
            }
            // Every delivery had an outcome already (recorded, then the process died): tidy it away.
            if (group.settled) for (const held of group.blocks) this.finish(held)
            else groups.push(group)
            if (room <= 0) break page
            continue
          }
          if (block.count > room || block.last_at > now) {
            if (rows.length === 0 && groups.length === 0 && fresh.length === 0) {
              this.explode(block.seq)
              rows.push(...this.claimRows(queue, room, now, until, worker, batchSize))
            }
            break page
          }
          const group = fresh[0]?.seq ?? block.seq
          lease.run(until, until, worker, group, block.seq)
          taken.add(block.seq)
          fresh.push({ seq: block.seq, deliveries: this.blockDeliveries(queue, block.seq) })
          room -= block.count
          if (room === 0) break page
        }
        if (found.length < CANDIDATE_PAGE) {
          more = false
          break
        }
        // A lease of no length leaves its blocks due: the next page would repeat this one.
        if (until <= now) break
      }
      if (fresh.length > 0) {
        fresh.sort((a, b) => a.seq - b.seq)
        const plans = planGroup(
          fresh.map((b) => b.deliveries),
          batchSize,
        )
        const group = new HeldGroup((fresh[0] as { seq: number }).seq)
        fresh.forEach(({ seq, deliveries }, i) => {
          const plan = plans[i] as BlockPlan
          if (plan !== null) setPlan.run(JSON.stringify(plan), seq)
          new HeldBlock(seq, queue, worker, deliveries, { plan, group })
        })
        groups.push(group)
      }
      return { rows, groups, more }
    })()
    // Nothing more was due: the worker has caught up, and what is enqueued next is worth keeping.
    if (!more) this.freshOn = true
    const requests: BlockClaim[] = []
    for (const group of groups) {
      for (const block of group.blocks) this.hold(block)
      requests.push(...requestsOf(group.blocks))
    }
    return { deliveries: rows, requests }
  }

  /** A block's deliveries: from {@link fresh} when this instance just enqueued it, else read and unpacked. */
  private blockDeliveries(queue: string, seq: number): readonly NewDelivery[] {
    const kept = this.dropFresh(seq)
    if (kept?.queue === queue) return kept.deliveries
    const payload = this.statement(
      'SELECT meta, bodies FROM delivery_block_bodies WHERE seq = ?',
    ).get(seq) as { meta: string; bodies: string }
    return unpackBlock(payload.meta, payload.bodies)
  }

  /**
   * Leases every block of a group another claim cut, with what its earlier
   * holder recorded (plan, gone); runs inside the caller's transaction.
   */
  private leaseGroup(
    queue: string,
    id: number,
    until: number,
    worker: string,
    now: number,
  ): HeldGroup {
    const rows = this.statement(
      `UPDATE delivery_blocks SET lease_until = ?, ready_at = ?, worker = ?
       WHERE lease_group = ? AND queue = ? AND lease_until <= ? RETURNING seq, plan, gone`,
    ).all(until, until, worker, id, queue, now) as {
      seq: number
      plan: string | null
      gone: string | null
    }[]
    rows.sort((a, b) => a.seq - b.seq)
    const group = new HeldGroup(id)
    for (const row of rows) {
      const plan = row.plan === null ? null : (JSON.parse(row.plan) as number[])
      const deliveries = this.blockDeliveries(queue, row.seq)
      new HeldBlock(row.seq, queue, worker, deliveries, { plan, group, gone: row.gone })
    }
    return group
  }

  /**
   * Leases up to `limit` due rows, oldest due first, and binds the unbound ones
   * to requests when `batchSize` is above 1; runs inside the caller's transaction.
   */
  private claimRows(
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
    const lease = this.statement(
      `WITH due AS (
         SELECT seq, request_id FROM deliveries WHERE queue = ? AND ready_at <= ? ORDER BY ready_at, seq LIMIT ?
       )
       UPDATE deliveries SET lease_until = ?, ready_at = ?, worker = ?
       WHERE seq IN (SELECT seq FROM due)
          OR (queue = ? AND +ready_at <= ?
              AND request_id IN (SELECT request_id FROM due WHERE request_id IS NOT NULL))
       RETURNING seq, id, message_id, enqueued_at, attempts, due_at, last_reason, last_status, request_id, request_pos`,
    )
    // One statement for every body, in the order of the JSON array of seqs (no per-row round trip).
    const bodiesOf = this.statement(
      `SELECT b.body FROM json_each(?) AS j CROSS JOIN delivery_bodies AS b ON b.seq = j.value ORDER BY j.key`,
    ).pluck()
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
      const bind = this.statement(
        'UPDATE deliveries SET request_id = ?, request_pos = ? WHERE id = ? AND queue = ?',
      )
      for (const b of bindings) bind.run(b.requestId, b.position, b.id, queue)
    }
    return deliveries
  }

  /** Delivered, by id: removes them and counts them. */
  private completeIds(queue: string, ids: readonly string[]): void {
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
    this.change((touched) => {
      const { held, rows } = this.locate(queue, ids)
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
      if (delivered > 0) count.run(queue, delivered)
    })
  }

  /** Delivered, by range of held blocks; a block no longer held here is completed by id. */
  private completeRanges(queue: string, ranges: readonly BlockRange[]): void {
    if (ranges.length === 0) return
    // A block no longer held here (split into rows meanwhile) is completed by id instead.
    const elsewhere: string[] = []
    const count = this.statement(
      `INSERT INTO queue_counters (queue, delivered, retried) VALUES (?, ?, 0)
       ON CONFLICT (queue) DO UPDATE SET delivered = delivered + excluded.delivered`,
    )
    this.change((touched) => {
      let delivered = 0
      const verdicts = new Map<HeldBlock, Holding>()
      for (const { block, from, to } of ranges) {
        let verdict = verdicts.get(block)
        if (verdict === undefined) {
          verdict = this.verdictOf(block, queue)
          verdicts.set(block, verdict)
        }
        if (verdict === 'ours') {
          for (let i = from; i < to; i++) if (block.remove(i)) delivered++
          touched.add(block)
        } else if (verdict === 'gone') {
          for (let i = from; i < to; i++) elsewhere.push((block.deliveries[i] as NewDelivery).id)
        }
      }
      if (delivered > 0) count.run(queue, delivered)
    })
    if (elsewhere.length > 0) this.completeIds(queue, elsewhere)
  }

  private retryIds(queue: string, ids: readonly string[], update: RetryUpdate): void {
    if (ids.length === 0) return
    const reschedule = this.statement(
      `UPDATE deliveries SET attempts = @attempts, due_at = @at, ready_at = @at, lease_until = 0,
       worker = NULL, last_reason = @reason, last_status = @status, request_id = @request,
       request_pos = @position WHERE queue = @queue AND id = @id`,
    )
    // A delivery leaving its block becomes a row with its new schedule.
    const insert = this.statement(
      `INSERT OR IGNORE INTO deliveries (queue, id, message_id, enqueued_at, attempts, due_at, ready_at,
       last_reason, last_status, request_id, request_pos)
       VALUES (@queue, @id, @messageId, @enqueuedAt, @attempts, @at, @at, @reason, @status, @request, @position)`,
    )
    const insertBody = this.statement('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)')
    const count = this.statement(
      `INSERT INTO queue_counters (queue, delivered, retried) VALUES (?, 0, ?)
       ON CONFLICT (queue) DO UPDATE SET retried = retried + excluded.retried`,
    )
    const { attempts, at, reason, status } = update
    const request = update.requestId ?? null
    const outcome = { queue, attempts, at, reason, status, request }
    // A request's deliveries are bound to it in the order given.
    const positions = request === null ? undefined : new Map(ids.map((id, i) => [id, i]))
    const position = (id: string) => positions?.get(id) ?? null
    this.change((touched) => {
      const { held, rows } = this.locate(queue, ids)
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
        })
        if (row.changes > 0) insertBody.run(row.lastInsertRowid, d.body)
        changed++
      }
      if (changed > 0) count.run(queue, changed)
    })
  }

  private killIds(queue: string, ids: readonly string[], update: KillUpdate): void {
    if (ids.length === 0) return
    const move = this.statement(
      `INSERT OR IGNORE INTO dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       SELECT d.queue, d.id, b.body, d.message_id, d.enqueued_at, ?, ?, ?, ?, ?
       FROM deliveries d JOIN delivery_bodies b ON b.seq = d.seq WHERE d.queue = ? AND d.id = ?`,
    )
    const remove = this.statement(
      'DELETE FROM deliveries WHERE queue = ? AND id = ? RETURNING seq',
    ).pluck()
    const removeBody = this.statement('DELETE FROM delivery_bodies WHERE seq = ?')
    const insert = this.insertDead()
    const { attempts, now, reason, status, detail } = update
    this.change((touched) => {
      const { held, rows } = this.locate(queue, ids)
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

  private releaseIds(queue: string, ids: readonly string[]): void {
    if (ids.length === 0) return
    const release = this.statement(
      'UPDATE deliveries SET lease_until = 0, ready_at = due_at, worker = NULL WHERE queue = ? AND id = ?',
    )
    this.change((touched) => {
      const { held, rows } = this.locate(queue, ids)
      for (const id of rows) release.run(queue, id)
      for (const { block, index } of held) if (block.release(index)) touched.add(block)
    })
  }

  async wake(queue: string, now: number): Promise<number> {
    const wakeRows = this.statement(
      `UPDATE deliveries SET due_at = ?, ready_at = ? WHERE queue = ? AND lease_until <= ? AND due_at > ?`,
    )
    const waiting = this.statement(
      `SELECT coalesce(sum(count - done), 0) FROM delivery_blocks
       WHERE queue = ? AND lease_until <= ? AND due_at > ?`,
    ).pluck()
    const wakeBlocks = this.statement(
      `UPDATE delivery_blocks SET due_at = ?, ready_at = ?, last_at = min(last_at, ?)
       WHERE queue = ? AND lease_until <= ? AND due_at > ?`,
    )
    return this.database.transaction(() => {
      const rows = wakeRows.run(now, now, queue, now, now).changes
      const inBlocks = waiting.get(queue, now, now) as number
      if (inBlocks > 0) wakeBlocks.run(now, now, now, queue, now, now)
      return rows + inBlocks
    })()
  }

  async nextDueAt(queue: string): Promise<number | null> {
    const row = this.statement(
      'SELECT ready_at FROM deliveries WHERE queue = ? ORDER BY ready_at LIMIT 1',
    ).pluck()
    const block = this.statement(
      'SELECT ready_at FROM delivery_blocks WHERE queue = ? ORDER BY ready_at LIMIT 1',
    ).pluck()
    const [a, b] = [row.get(queue), block.get(queue)] as (number | undefined)[]
    if (a === undefined) return b ?? null
    return b === undefined ? a : Math.min(a, b)
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
    const blocks = this.statement(
      `SELECT coalesce(sum(count - done), 0) AS total,
       coalesce(sum(CASE WHEN lease_until > ? THEN count - done ELSE 0 END), 0) AS in_flight,
       min(first_at) AS oldest
       FROM delivery_blocks ${where}`,
    ).get(now, ...args) as { total: number; in_flight: number; oldest: number | null }
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
    const oldest = [waiting.oldest, blocks.oldest].filter((t): t is number => t !== null)
    const inFlight = waiting.in_flight + blocks.in_flight
    return {
      queued: waiting.total + blocks.total - inFlight,
      inFlight,
      retrying: waiting.retrying,
      delivered: counters.delivered,
      retried: counters.retried,
      dead: deadTotal,
      deadByReason,
      oldestEnqueuedAt: oldest.length === 0 ? null : Math.min(...oldest),
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
  ): Promise<ReplayResult> {
    const [where, args] = deadWhere(selection, options.queue)
    const take = this.statement(
      `DELETE FROM dead_letters WHERE ${where} AND ${REPLAYABLE_SQL}
       RETURNING seq, queue, id, body, message_id`,
    )
    const left = this.statement(
      `SELECT count(*) AS n FROM dead_letters WHERE ${where} AND NOT ${REPLAYABLE_SQL}`,
    )
    const insert = this.statement(
      `INSERT INTO deliveries (queue, id, message_id, enqueued_at, due_at, ready_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    )
    const insertBody = this.statement('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)')
    const now = options.now
    return this.database.transaction(() => {
      let replayed = 0
      let unsendable = 0
      for (const a of args) {
        const rows = take.all(...a) as (DeadRow & { seq: number })[]
        rows.sort((x, y) => x.seq - y.seq)
        for (const row of rows) {
          const { lastInsertRowid } = insert.run(row.queue, row.id, row.message_id, now, now, now)
          insertBody.run(lastInsertRowid, row.body)
          replayed++
        }
        unsendable += (left.get(...a) as { n: number }).n
      }
      return { replayed, unsendable }
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

  private insertDead(): Statement {
    return this.statement(
      `INSERT OR IGNORE INTO dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
  }

  /**
   * Runs `work` in one transaction, then writes what changed in the blocks it
   * touched: which deliveries are gone, and once their whole group is settled,
   * each block deleted (all gone) or unleased with what is left (given back
   * unsent), keeping its plan. If the transaction fails, those groups are
   * forgotten: their rows keep the lease, and once it expires they are claimed
   * and sent again (at-least-once), so nothing is lost.
   */
  private change(work: (touched: Set<HeldBlock>) => void): void {
    const touched = new Set<HeldBlock>()
    const settled = new Set<HeldGroup>()
    try {
      this.database.transaction(() => {
        work(touched)
        for (const block of touched) {
          if (block.group.settled) settled.add(block.group)
          else this.saveProgress(block)
        }
        for (const group of settled) for (const block of group.blocks) this.finish(block)
      })()
    } catch (error) {
      for (const block of touched) for (const b of block.group.blocks) this.forget(b)
      throw error
    }
    for (const group of settled) for (const block of group.blocks) this.forget(block)
  }

  /**
   * Records which of a held block's deliveries are gone, so a worker that
   * takes the group over does not form their requests again. The `worker`
   * check leaves alone a block another worker took over after this one's
   * lease expired: that worker sends it again.
   */
  private saveProgress(block: HeldBlock): void {
    this.statement(
      'UPDATE delivery_blocks SET done = ?, gone = ? WHERE seq = ? AND worker = ?',
    ).run(block.gone, block.goneMask(), block.seq, block.worker)
  }

  /** Writes a block of a settled group: deleted when all of it is gone, else unleased with its plan and what is gone. */
  private finish(block: HeldBlock): void {
    const { seq, worker } = block
    if (block.gone === block.deliveries.length) {
      const removed = this.statement(
        'DELETE FROM delivery_blocks WHERE seq = ? AND worker = ?',
      ).run(seq, worker)
      if (removed.changes > 0)
        this.statement('DELETE FROM delivery_block_bodies WHERE seq = ?').run(seq)
      return
    }
    this.statement(
      `UPDATE delivery_blocks SET done = ?, gone = ?, lease_until = 0, ready_at = due_at, worker = NULL
       WHERE seq = ? AND worker = ?`,
    ).run(block.gone, block.goneMask(), seq, worker)
  }

  /**
   * Splits `ids` into deliveries of blocks this store holds and the rest. A
   * block (not held here) that has one of the rest is first made into rows,
   * so the per-row statements find it.
   */
  private locate(
    queue: string,
    ids: readonly string[],
  ): { held: { block: HeldBlock; index: number }[]; rows: string[] } {
    const held: { block: HeldBlock; index: number }[] = []
    const rows: string[] = []
    this.indexHeld()
    const verdicts = new Map<HeldBlock, Holding>()
    for (const id of ids) {
      const at = this.heldIds.get(id)
      // One that left its block (rescheduled as a row, say) is a row now, though the block is still held.
      if (at === undefined || at.block.queue !== queue || !at.block.isPending(at.index)) {
        rows.push(id)
        continue
      }
      let verdict = verdicts.get(at.block)
      if (verdict === undefined) {
        verdict = this.holding(at.block)
        verdicts.set(at.block, verdict)
      }
      if (verdict === 'ours') held.push(at)
      else if (verdict === 'gone') rows.push(id)
    }
    if (rows.length > 0) {
      const isRow = this.statement('SELECT 1 FROM deliveries WHERE id = ? AND queue = ?').pluck()
      // Reads every block's metadata: only for ids that are neither held here nor rows (rare).
      const holding = this.statement(
        'SELECT b.seq FROM delivery_blocks b JOIN delivery_block_bodies p ON p.seq = b.seq WHERE b.queue = ? AND instr(p.meta, ?) > 0',
      ).pluck()
      for (const id of rows) {
        if (isRow.get(id, queue) !== undefined) continue
        for (const seq of holding.all(queue, JSON.stringify(id)) as number[]) {
          if (!this.held.has(seq)) this.explode(seq)
        }
      }
    }
    return { held, rows }
  }

  /**
   * Whether `block`'s row is still this store's: `taken` once another worker
   * claimed it after this one's lease expired (that worker sends it again, so
   * outcomes here are dropped), `gone` once it was split into rows (outcomes then
   * apply to the rows, by id). A block that is not `ours` is forgotten.
   * Runs inside the caller's transaction.
   */
  private holding(block: HeldBlock): Holding {
    const worker = this.statement('SELECT worker FROM delivery_blocks WHERE seq = ?')
      .pluck()
      .get(block.seq) as string | null | undefined
    const verdict = worker === block.worker ? 'ours' : worker === undefined ? 'gone' : 'taken'
    if (verdict === 'taken') block.takenOver = true
    if (verdict !== 'ours') this.forget(block)
    return verdict
  }

  /**
   * {@link holding} for a block a claim handed out as requests. One this store
   * no longer holds was taken over (outcomes dropped), or settled, split into
   * rows or claimed again: then its deliveries are found by id.
   */
  private verdictOf(block: HeldBlock, queue: string): Holding {
    if (block.queue !== queue) return 'gone'
    if (block.takenOver) return 'taken'
    return this.held.get(block.seq) === block ? this.holding(block) : 'gone'
  }

  /**
   * Turns a block, with the rest of its group, into one row per delivery not
   * gone, keeping the lease and binding each batch's rows to its request;
   * runs inside the caller's transaction.
   */
  private explode(seq: number): void {
    const group = this.statement('SELECT lease_group FROM delivery_blocks WHERE seq = ?')
      .pluck()
      .get(seq) as number | null | undefined
    if (group === undefined) return
    const seqs =
      group === null
        ? [seq]
        : (this.statement('SELECT seq FROM delivery_blocks WHERE lease_group = ? ORDER BY seq')
            .pluck()
            .all(group) as number[])
    const removeBlock = this.statement(
      'DELETE FROM delivery_blocks WHERE seq = ? RETURNING queue, lease_until, worker, plan, gone',
    )
    const removePayload = this.statement(
      'DELETE FROM delivery_block_bodies WHERE seq = ? RETURNING meta, bodies',
    )
    const rows = new Map<HeldBlock, { leaseUntil: number; worker: string | null }>()
    const held = new HeldGroup(group ?? seq)
    for (const s of seqs) {
      const mine = this.held.get(s)
      if (mine) this.forget(mine)
      this.dropFresh(s)
      const block = removeBlock.get(s) as
        | {
            queue: string
            lease_until: number
            worker: string | null
            plan: string | null
            gone: string | null
          }
        | undefined
      const payload = removePayload.get(s) as { meta: string; bodies: string } | undefined
      if (block === undefined || payload === undefined) continue
      const plan = block.plan === null ? null : (JSON.parse(block.plan) as number[])
      const deliveries = unpackBlock(payload.meta, payload.bodies)
      const stand = new HeldBlock(s, block.queue, block.worker ?? '', deliveries, {
        plan,
        group: held,
        gone: block.gone,
      })
      rows.set(stand, { leaseUntil: block.lease_until, worker: block.worker })
    }
    const insert = this.statement(
      `INSERT OR IGNORE INTO deliveries (queue, id, message_id, enqueued_at, due_at, ready_at, lease_until, worker, request_id, request_pos)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const insertBody = this.statement('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)')
    for (const request of requestsOf(held.blocks)) {
      const members: NewDelivery[] = []
      for (const { block, from, to } of request.ranges) {
        for (let i = from; i < to; i++) members.push(block.deliveries[i] as NewDelivery)
      }
      const id = request.batch ? requestId(members.map(nameOf)) : null
      let position = 0
      for (const { block, from, to } of request.ranges) {
        const { leaseUntil, worker } = rows.get(block) as {
          leaseUntil: number
          worker: string | null
        }
        for (let i = from; i < to; i++) {
          const d = block.deliveries[i] as NewDelivery
          const at = d.enqueuedAt
          const row = insert.run(
            block.queue,
            d.id,
            d.messageId,
            at,
            at,
            Math.max(at, leaseUntil),
            leaseUntil,
            worker,
            id,
            id === null ? null : position,
          )
          if (row.changes > 0) insertBody.run(row.lastInsertRowid, d.body)
          position++
        }
      }
    }
  }

  /** Removes a block from {@link fresh}, returning what was kept of it. */
  private dropFresh(
    seq: number,
  ): { queue: string; deliveries: readonly NewDelivery[] } | undefined {
    const entry = this.fresh.get(seq)
    if (entry === undefined) return undefined
    this.fresh.delete(seq)
    this.freshCount -= entry.deliveries.length
    return entry
  }

  private hold(block: HeldBlock): HeldBlock {
    const previous = this.held.get(block.seq)
    if (previous) this.forget(previous)
    this.held.set(block.seq, block)
    this.unindexed++
    return block
  }

  /**
   * Makes the deliveries of every held block findable by id. Only calls by id
   * need it (a retry, a release, a completion not by range), so a worker that
   * completes by range never pays for a map entry per delivery.
   */
  private indexHeld(): void {
    if (this.unindexed === 0) return
    for (const block of this.held.values()) {
      if (block.indexed) continue
      block.indexed = true
      const { deliveries } = block
      for (let index = 0; index < deliveries.length; index++) {
        this.heldIds.set((deliveries[index] as NewDelivery).id, { block, index })
      }
    }
    this.unindexed = 0
  }

  private forget(block: HeldBlock): void {
    if (this.held.get(block.seq) !== block) return
    this.held.delete(block.seq)
    if (!block.indexed) {
      this.unindexed--
      return
    }
    for (const d of block.deliveries) {
      if (this.heldIds.get(d.id)?.block === block) this.heldIds.delete(d.id)
    }
  }

  async close(): Promise<void> {
    this.statements = {}
    this.held.clear()
    this.heldIds.clear()
    this.unindexed = 0
    this.fresh.clear()
    this.freshCount = 0
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
    requestId: row.request_id,
    requestPosition: row.request_pos,
  }
}

/** When a request of rows is due: its earliest row's next attempt. */
function dueOf(request: ClaimedRequest): number {
  let at = Number.POSITIVE_INFINITY
  for (const d of request.deliveries) at = Math.min(at, (d as StoredDelivery).nextAttemptAt)
  return at
}
