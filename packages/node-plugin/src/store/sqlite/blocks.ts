/** The SQLite queue's blocks: packing enqueued deliveries into them, leasing and cutting them into requests, and writing their outcomes back. */

import {
  asStored,
  BLOCK_MAX,
  type BlockClaim,
  type BlockPlan,
  type BlockRange,
  HeldBlock,
  HeldGroup,
  type PackedBlock,
  packBlock,
  unpackBlock,
} from '../blocks/block.js'
import { HeldBlocks, type HeldDelivery } from '../blocks/held.js'
import { planGroup, requestsOf } from '../blocks/plan.js'
import type { ClaimOptions, NewDelivery, StoredDelivery } from '../types.js'
import type { SqliteConnection } from './connection.js'
import { explode } from './explode.js'
import { FreshBlocks } from './fresh.js'
import { countOutcomes } from './stats.js'

/** What became of a block this store leased: see {@link SqliteBlocks.holding}. */
type Holding = 'ours' | 'taken' | 'gone'

/** How many candidate blocks a claim reads at a time. */
const CANDIDATE_PAGE = 16

/**
 * The `delivery_blocks` table of one SQLite store, and what this instance
 * holds of it in memory: the blocks it leased ({@link HeldBlocks}) and the
 * ones it just enqueued ({@link FreshBlocks}). A block's row is only
 * rewritten once its whole group is settled (see {@link SqliteBlocks.settle}).
 *
 * @example
 * const blocks = new SqliteBlocks(sql)
 * blocks.enqueue('default', deliveries)
 */
export class SqliteBlocks {
  readonly held = new HeldBlocks()
  readonly fresh = new FreshBlocks()
  private readonly sql: SqliteConnection

  constructor(sql: SqliteConnection) {
    this.sql = sql
  }

  /** Packs deliveries into blocks of up to {@link BLOCK_MAX}, due at their oldest, in one transaction. */
  enqueue(queue: string, deliveries: readonly NewDelivery[]): void {
    if (deliveries.length === 0) return
    const chunks: (readonly NewDelivery[])[] = []
    for (let i = 0; i < deliveries.length; i += BLOCK_MAX) {
      chunks.push(deliveries.length <= BLOCK_MAX ? deliveries : deliveries.slice(i, i + BLOCK_MAX))
    }
    const blocks = chunks.map(packBlock)
    const insert = this.sql.statement(
      `INSERT INTO delivery_blocks (queue, count, first_at, last_at, due_at, ready_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    )
    const insertBodies = this.sql.statement(
      'INSERT INTO delivery_block_bodies (seq, meta, bodies) VALUES (?, ?, ?)',
    )
    const seqs = this.sql.transaction(() =>
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
    )
    // Nothing is kept while off: skip asStored, which may copy every delivery.
    if (!this.fresh.keeping) return
    for (let i = 0; i < seqs.length; i++) {
      const deliveries = asStored(chunks[i] as readonly NewDelivery[], blocks[i] as PackedBlock)
      this.fresh.keep(seqs[i] as number, { queue, deliveries })
    }
  }

  /**
   * The claim: rows (through `claimRows`, which leases up to `limit` due rows
   * inside this transaction), then blocks, oldest due first. Blocks never
   * leased before are leased as one group, cut into requests across them, and
   * the cut is written with the lease; a block of a group leased before (its
   * worker died, or gave it back) brings its whole group, cut as it was, even
   * past `limit`. A block is split into rows when it does not fit in `limit`
   * or is not wholly due, and nothing else was taken.
   */
  claim(
    queue: string,
    options: ClaimOptions,
    claimRows: (limit: number) => StoredDelivery[],
  ): { deliveries: StoredDelivery[]; requests: BlockClaim[] } {
    const { limit, now, leaseMs, worker } = options
    const batchSize = options.batchSize ?? 1
    if (limit <= 0) return { deliveries: [], requests: [] }
    const until = now + leaseMs
    const candidates = this.sql.statement(
      `SELECT seq, count, last_at, lease_group FROM delivery_blocks WHERE queue = ? AND ready_at <= ?
       ORDER BY ready_at, seq LIMIT ?`,
    )
    const lease = this.sql.statement(
      `UPDATE delivery_blocks SET lease_until = ?, ready_at = ?, worker = ?, done = 0, lease_group = ?
       WHERE seq = ?`,
    )
    const setPlan = this.sql.statement('UPDATE delivery_blocks SET plan = ? WHERE seq = ?')
    const { rows, groups, more } = this.sql.transaction(() => {
      const rows = claimRows(limit)
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
              rows.push(...claimRows(room))
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
    })
    // Nothing more was due: the worker has caught up, and what is enqueued next is worth keeping.
    if (!more) this.fresh.caughtUp()
    const requests: BlockClaim[] = []
    for (const group of groups) {
      for (const block of group.blocks) this.held.hold(block)
      requests.push(...requestsOf(group.blocks))
    }
    return { deliveries: rows, requests }
  }

  /**
   * Delivered, by range of held blocks, and counted. Returns the ids of the
   * deliveries of blocks no longer held here (split into rows meanwhile), to
   * be completed by id instead.
   */
  complete(queue: string, ranges: readonly BlockRange[]): string[] {
    const elsewhere: string[] = []
    if (ranges.length === 0) return elsewhere
    this.settle((touched) => {
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
      if (delivered > 0) countOutcomes(this.sql, queue, { delivered })
    })
    return elsewhere
  }

  /**
   * Runs `work` in one transaction, then writes what changed in the blocks it
   * touched: which deliveries are gone, and once their whole group is settled,
   * each block deleted (all gone) or unleased with what is left (given back
   * unsent), keeping its plan. If the transaction fails, those groups are
   * forgotten: their rows keep the lease, and once it expires they are claimed
   * and sent again (at-least-once), so nothing is lost.
   */
  settle(work: (touched: Set<HeldBlock>) => void): void {
    const touched = new Set<HeldBlock>()
    const settled = new Set<HeldGroup>()
    try {
      this.sql.transaction(() => {
        work(touched)
        for (const block of touched) {
          if (block.group.settled) settled.add(block.group)
          else this.saveProgress(block)
        }
        for (const group of settled) for (const block of group.blocks) this.finish(block)
      })
    } catch (error) {
      for (const block of touched) for (const b of block.group.blocks) this.held.forget(b)
      throw error
    }
    for (const group of settled) for (const block of group.blocks) this.held.forget(block)
  }

  /**
   * Splits `ids` into deliveries of blocks this store holds and the rest (rows).
   * A block (not held here) that has one of the rest is first made into rows,
   * so the per-row statements find it.
   */
  locate(queue: string, ids: readonly string[]): { held: HeldDelivery[]; rows: string[] } {
    const held: HeldDelivery[] = []
    const rows: string[] = []
    const verdicts = new Map<HeldBlock, Holding>()
    for (const id of ids) {
      const at = this.held.find(id)
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
      const isRow = this.sql
        .statement('SELECT 1 FROM deliveries WHERE id = ? AND queue = ?')
        .pluck()
      // Reads every block's metadata: only for ids that are neither held here nor rows (rare).
      const holding = this.sql
        .statement(
          'SELECT b.seq FROM delivery_blocks b JOIN delivery_block_bodies p ON p.seq = b.seq WHERE b.queue = ? AND instr(p.meta, ?) > 0',
        )
        .pluck()
      for (const id of rows) {
        if (isRow.get(id, queue) !== undefined) continue
        for (const seq of holding.all(queue, JSON.stringify(id)) as number[]) {
          if (!this.held.has(seq)) this.explode(seq)
        }
      }
    }
    return { held, rows }
  }

  /** Forgets every block held or kept fresh (the store closed). */
  clear(): void {
    this.held.clear()
    this.fresh.clear()
  }

  /** A block's deliveries: from {@link SqliteBlocks.fresh} when this instance just enqueued it, else read and unpacked. */
  private blockDeliveries(queue: string, seq: number): readonly NewDelivery[] {
    const kept = this.fresh.take(seq)
    if (kept?.queue === queue) return kept.deliveries
    const payload = this.sql
      .statement('SELECT meta, bodies FROM delivery_block_bodies WHERE seq = ?')
      .get(seq) as { meta: string; bodies: string }
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
    const rows = this.sql
      .statement(
        `UPDATE delivery_blocks SET lease_until = ?, ready_at = ?, worker = ?
         WHERE lease_group = ? AND queue = ? AND lease_until <= ? RETURNING seq, plan, gone`,
      )
      .all(until, until, worker, id, queue, now) as {
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
   * Records which of a held block's deliveries are gone, so a worker that
   * takes the group over does not form their requests again. The `worker`
   * check leaves alone a block another worker took over after this one's
   * lease expired: that worker sends it again.
   */
  private saveProgress(block: HeldBlock): void {
    this.sql
      .statement('UPDATE delivery_blocks SET done = ?, gone = ? WHERE seq = ? AND worker = ?')
      .run(block.gone, block.goneMask(), block.seq, block.worker)
  }

  /** Writes a block of a settled group: deleted when all of it is gone, else unleased with its plan and what is gone. */
  private finish(block: HeldBlock): void {
    const { seq, worker } = block
    if (block.gone === block.deliveries.length) {
      const removed = this.sql
        .statement('DELETE FROM delivery_blocks WHERE seq = ? AND worker = ?')
        .run(seq, worker)
      if (removed.changes > 0)
        this.sql.statement('DELETE FROM delivery_block_bodies WHERE seq = ?').run(seq)
      return
    }
    this.sql
      .statement(
        `UPDATE delivery_blocks SET done = ?, gone = ?, lease_until = 0, ready_at = due_at, worker = NULL
         WHERE seq = ? AND worker = ?`,
      )
      .run(block.gone, block.goneMask(), seq, worker)
  }

  /**
   * Whether `block`'s row is still this store's: `taken` once another worker
   * claimed it after this one's lease expired (that worker sends it again, so
   * outcomes here are dropped), `gone` once it was split into rows (outcomes then
   * apply to the rows, by id). A block that is not `ours` is forgotten.
   * Runs inside the caller's transaction.
   */
  private holding(block: HeldBlock): Holding {
    const worker = this.sql
      .statement('SELECT worker FROM delivery_blocks WHERE seq = ?')
      .pluck()
      .get(block.seq) as string | null | undefined
    const verdict = worker === block.worker ? 'ours' : worker === undefined ? 'gone' : 'taken'
    if (verdict === 'taken') block.takenOver = true
    if (verdict !== 'ours') this.held.forget(block)
    return verdict
  }

  /**
   * {@link SqliteBlocks.holding} for a block a claim handed out as requests. One this store
   * no longer holds was taken over (outcomes dropped), or settled, split into
   * rows or claimed again: then its deliveries are found by id.
   */
  private verdictOf(block: HeldBlock, queue: string): Holding {
    if (block.queue !== queue) return 'gone'
    if (block.takenOver) return 'taken'
    return this.held.get(block.seq) === block ? this.holding(block) : 'gone'
  }

  /** {@link explode} on this store's blocks; runs inside the caller's transaction. */
  private explode(seq: number): void {
    explode(this.sql, this.held, this.fresh, seq)
  }
}
