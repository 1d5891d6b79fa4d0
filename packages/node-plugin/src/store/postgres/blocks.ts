/** The PostgreSQL queue's blocks: packing enqueued deliveries into them, leasing and cutting them into requests, and writing their outcomes back. */

import type pg from 'pg'
import {
  BLOCK_MAX,
  type BlockClaim,
  type BlockPlan,
  HeldBlock,
  HeldGroup,
  packBlock,
  unpackBlock,
} from '../blocks/block.js'
import { HeldBlocks } from '../blocks/held.js'
import { planGroup, requestsOf } from '../blocks/plan.js'
import type { ClaimOptions, NewDelivery } from '../types.js'
import type { PostgresConnection } from './connection.js'
import { explodeBlocks } from './explode.js'
import { finishing, type HeldItem, type Outcome, writeOutcome } from './outcomes.js'

/** How many candidate blocks a claim reads at a time. */
const CANDIDATE_PAGE = 16
/** How many pages one claim reads at most (later pages only when other claims took the blocks it chose). */
const MAX_ROUNDS = 4

/** A due block as a claim first reads it, before locking the ones it takes. */
interface Candidate {
  seq: string
  count: number
  last_at: string
  lease_group: string | null
}

/** A block row as a lease returns it. */
interface LeasedRow {
  seq: string
  plan: string | null
  gone: string | null
  meta: string
  bodies: string
}

/**
 * The `delivery_blocks` table of one PostgreSQL store, and the blocks this
 * instance holds a lease on. Blocks are locked with `FOR UPDATE SKIP LOCKED`
 * and leased whole, so two workers never hold one; a claim cuts the blocks it
 * leases into requests and records the cut with the lease. Only the head of a
 * group (its first block) is a claim candidate: whoever locks it takes the
 * whole group, so two workers never split one. Every write checks
 * `lease_owner`, so a worker whose lease another has since taken over
 * changes nothing (that worker sends its requests again).
 *
 * @example
 * const blocks = new PostgresBlocks(db)
 * await blocks.enqueue('default', deliveries)
 */
export class PostgresBlocks {
  readonly held = new HeldBlocks()
  private readonly db: PostgresConnection
  /** The last acknowledgement write, which the next one waits for. */
  private writing: Promise<void> = Promise.resolve()

  constructor(db: PostgresConnection) {
    this.db = db
  }

  /** Packs deliveries into blocks of up to {@link BLOCK_MAX}, due at their oldest, in one statement, and notifies the queue. */
  async enqueue(queue: string, deliveries: readonly NewDelivery[]): Promise<void> {
    if (deliveries.length === 0) return
    const counts: number[] = []
    const firstAt: number[] = []
    const lastAt: number[] = []
    const metas: string[] = []
    const bodies: string[] = []
    for (let i = 0; i < deliveries.length; i += BLOCK_MAX) {
      const chunk = deliveries.length <= BLOCK_MAX ? deliveries : deliveries.slice(i, i + BLOCK_MAX)
      const block = packBlock(chunk)
      counts.push(block.count)
      firstAt.push(block.firstAt)
      lastAt.push(block.lastAt)
      metas.push(block.meta)
      bodies.push(block.bodies)
    }
    await this.db.run(
      `WITH ins AS (
         INSERT INTO ${this.db.s}.delivery_blocks (queue, count, first_at, last_at, ready_at, meta, bodies)
         SELECT $1, t.count, t.first_at, t.last_at, t.first_at, t.meta, t.bodies
         FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::text[], $6::text[])
           AS t(count, first_at, last_at, meta, bodies)
         RETURNING 1
       )
       SELECT pg_notify($7, $1) FROM (SELECT 1 FROM ins LIMIT 1) AS any_inserted`,
      [queue, counts, firstAt, lastAt, metas, bodies, this.db.channel],
    )
  }

  /**
   * Leases due blocks with up to `room` deliveries, oldest due first, inside
   * the caller's transaction. Blocks never leased before are leased as one
   * group, cut into requests across them, and the cut is written with the
   * lease; the head of a group leased before (its worker died, or gave it
   * back) brings its whole group, cut as it was, even past `room`. When the
   * first block does not fit in `room` or is not wholly due, and `alone`
   * (nothing else was claimed), it is made into rows instead (`exploded`),
   * for the caller to claim. Candidates are read first and only the ones
   * taken are locked (`SKIP LOCKED`), so concurrent claims share the due
   * blocks instead of skipping a whole page another claim is reading.
   * The groups are held once the caller's transaction committed ({@link PostgresBlocks.hold}).
   */
  async claim(
    client: pg.PoolClient,
    queue: string,
    options: ClaimOptions,
    room: number,
    alone: boolean,
  ): Promise<{ groups: HeldGroup[]; exploded: boolean }> {
    const { now, worker } = options
    const until = now + options.leaseMs
    const groups: HeldGroup[] = []
    const fresh: string[] = []
    const seen: string[] = []
    for (let round = 0; room > 0 && round < MAX_ROUNDS; round++) {
      const { rows: found } = await this.db.run<Candidate>(
        `SELECT seq, count, last_at, lease_group FROM ${this.db.s}.delivery_blocks
         WHERE queue = $1 AND ready_at <= $2 AND (lease_group IS NULL OR lease_group = seq)
           AND NOT (seq = ANY($3::bigint[]))
         ORDER BY ready_at, seq LIMIT $4`,
        [queue, now, seen, CANDIDATE_PAGE],
        client,
      )
      const { chosen, misfit, full } = choose(found, room, now)
      for (const block of chosen) seen.push(block.seq)
      if (misfit) seen.push(misfit.seq)
      const nothingYet = alone && groups.length === 0 && fresh.length === 0
      const explode = misfit !== undefined && nothingYet && chosen.length === 0 ? misfit : undefined
      const locked = await this.lock(client, explode ? [explode] : chosen, now)
      if (explode) {
        if (locked.has(explode.seq)) {
          await explodeBlocks(client, this.db.s, [explode.seq])
          return { groups, exploded: true }
        }
        continue // another claim is taking it: try the next due block
      }
      for (const block of chosen) {
        if (!locked.has(block.seq)) continue
        if (block.lease_group === null) {
          fresh.push(block.seq)
          room -= block.count
          continue
        }
        const group = await this.leaseGroup(client, queue, block.seq, until, worker, now)
        for (const held of group.blocks) room -= held.deliveries.length
        // Every delivery had an outcome already (recorded, then the process died): tidy it away.
        if (group.settled) await this.finishSettled(client, group)
        else groups.push(group)
      }
      // Fewer than a page: nothing more is due. A lease of no length leaves its blocks due.
      if (full || misfit !== undefined || found.length < CANDIDATE_PAGE || until <= now) break
    }
    if (fresh.length > 0) groups.push(await this.leaseFresh(client, queue, fresh, options))
    return { groups, exploded: false }
  }

  /** Locks those of `blocks` no other transaction holds and that are still due; returns their seqs. */
  private async lock(
    client: pg.PoolClient,
    blocks: readonly Candidate[],
    now: number,
  ): Promise<Set<string>> {
    if (blocks.length === 0) return new Set()
    const { rows } = await this.db.run<{ seq: string }>(
      `SELECT seq FROM ${this.db.s}.delivery_blocks WHERE seq = ANY($1::bigint[]) AND ready_at <= $2
       FOR UPDATE SKIP LOCKED`,
      [blocks.map((b) => b.seq), now],
      client,
    )
    return new Set(rows.map((r) => r.seq))
  }

  /** Holds the groups a committed claim leased, and returns the requests they form. */
  hold(groups: readonly HeldGroup[]): BlockClaim[] {
    const requests: BlockClaim[] = []
    for (const group of groups) {
      for (const block of group.blocks) this.held.hold(block)
      requests.push(...requestsOf(group.blocks))
    }
    return requests
  }

  /**
   * Whether `block` is one this store holds now for `queue` (not one it
   * forgot: settled, taken over, made into rows, or leased again since).
   */
  holds(block: HeldBlock, queue: string): boolean {
    return block.queue === queue && !block.takenOver && this.held.get(block.seq) === block
  }

  /**
   * Records an outcome of deliveries of held blocks in one statement: what is
   * gone from each block, and once a group is settled, each of its blocks
   * deleted (all gone) or unleased with what is left (given back unsent),
   * with the outcome's own rows (dead letters, retried rows, counters)
   * written only for blocks still this worker's. Returns the deliveries
   * whose block is no longer this store's (taken over by another worker, or
   * made into rows), to be acted on by id among the rows. If the
   * statement fails, the touched groups are forgotten: their leases run out
   * and they are sent again (at-least-once).
   */
  async acknowledge(
    queue: string,
    items: readonly HeldItem[],
    outcome: Outcome,
  ): Promise<HeldItem[]> {
    const moved: HeldItem[] = []
    const touched = new Set<HeldBlock>()
    for (const item of items) {
      const { block, index } = item
      if (!this.holds(block, queue)) continue
      const changed = outcome.kind === 'release' ? block.release(index) : block.remove(index)
      if (!changed) continue
      moved.push(item)
      touched.add(block)
    }
    if (touched.size === 0) return []
    const settled = new Set<HeldGroup>()
    for (const block of touched) if (block.group.settled) settled.add(block.group)
    let ours: Set<number>
    // Writes go out in the order their outcomes were marked here: the write that settles a group
    // (deleting its blocks) must not overtake an earlier one for the same blocks.
    const written = this.writing.then(() =>
      writeOutcome(this.db, queue, touched, settled, moved, outcome),
    )
    this.writing = written.then(
      () => {},
      () => {},
    )
    try {
      ours = await written
    } catch (error) {
      for (const block of touched) for (const b of block.group.blocks) this.held.forget(b)
      throw error
    }
    for (const block of touched) {
      if (ours.has(block.seq)) continue
      block.takenOver = true
      this.held.forget(block)
    }
    const elsewhere = moved.filter((item) => !ours.has(item.block.seq))
    for (const group of settled) for (const block of group.blocks) this.held.forget(block)
    return elsewhere
  }

  /** Forgets every block held (the store closed). */
  clear(): void {
    this.held.clear()
  }

  /**
   * Leases every block of the group headed by `head` (with what its earlier
   * holder recorded: plan, gone), inside the caller's transaction. Only the
   * head is locked by candidates, so no other claim is taking the group.
   */
  private async leaseGroup(
    client: pg.PoolClient,
    queue: string,
    head: string,
    until: number,
    worker: string,
    now: number,
  ): Promise<HeldGroup> {
    const { rows } = await this.db.run<LeasedRow>(
      `UPDATE ${this.db.s}.delivery_blocks SET lease_owner = $1, ready_at = $2
       WHERE lease_group = $3 AND queue = $4 AND ready_at <= $5
       RETURNING seq, plan, gone, meta, bodies`,
      [worker, until, head, queue, now],
      client,
    )
    rows.sort((a, b) => Number(a.seq) - Number(b.seq))
    const group = new HeldGroup(Number(head))
    for (const row of rows) {
      const plan = row.plan === null ? null : (JSON.parse(row.plan) as number[])
      const deliveries = unpackBlock(row.meta, row.bodies)
      new HeldBlock(Number(row.seq), queue, worker, deliveries, { plan, group, gone: row.gone })
    }
    return group
  }

  /** Leases blocks never leased before as one group, cut into requests across them; writes the cut with the lease. */
  private async leaseFresh(
    client: pg.PoolClient,
    queue: string,
    seqs: readonly string[],
    options: ClaimOptions,
  ): Promise<HeldGroup> {
    const { worker, now, leaseMs } = options
    const head = seqs.reduce((a, b) => (Number(b) < Number(a) ? b : a))
    const { rows } = await this.db.run<LeasedRow>(
      `UPDATE ${this.db.s}.delivery_blocks SET lease_owner = $1, ready_at = $2, lease_group = $3
       WHERE seq = ANY($4::bigint[])
       RETURNING seq, plan, gone, meta, bodies`,
      [worker, now + leaseMs, head, seqs],
      client,
    )
    rows.sort((a, b) => Number(a.seq) - Number(b.seq))
    const blocks = rows.map((row) => unpackBlock(row.meta, row.bodies))
    const plans = planGroup(blocks, options.batchSize ?? 1)
    const planned = rows.flatMap((row, i) =>
      plans[i] === null ? [] : [{ seq: row.seq, plan: JSON.stringify(plans[i]) }],
    )
    if (planned.length > 0) {
      await this.db.run(
        `UPDATE ${this.db.s}.delivery_blocks AS b SET plan = v.plan
         FROM unnest($1::bigint[], $2::text[]) AS v(seq, plan) WHERE b.seq = v.seq`,
        [planned.map((p) => p.seq), planned.map((p) => p.plan)],
        client,
      )
    }
    const group = new HeldGroup(Number(head))
    rows.forEach((row, i) => {
      const plan = plans[i] as BlockPlan
      new HeldBlock(Number(row.seq), queue, worker, blocks[i] as NewDelivery[], { plan, group })
    })
    return group
  }

  /** Writes a group found settled when claimed (its holder recorded every outcome, then died), inside the caller's transaction. */
  private async finishSettled(client: pg.PoolClient, group: HeldGroup): Promise<void> {
    const { removed, unleased, heads } = finishing(new Set([group]))
    await this.db.run(
      `WITH removed AS (DELETE FROM ${this.db.s}.delivery_blocks WHERE seq = ANY($1::bigint[]))
       UPDATE ${this.db.s}.delivery_blocks AS b SET lease_owner = NULL, ready_at = b.first_at, lease_group = v.head
       FROM unnest($2::bigint[], $3::bigint[]) AS v(seq, head) WHERE b.seq = v.seq`,
      [removed.map((b) => b.seq), unleased.map((b) => b.seq), heads],
      client,
    )
  }
}

/**
 * Which candidates (oldest due first) a claim with `room` takes: blocks that
 * fit and are wholly due, and group heads (a group is leased whole, so a
 * head is taken while there is room). Stops at the first block that does not
 * fit or is not wholly due (`misfit`), or once the room is `full`.
 */
function choose(
  found: readonly Candidate[],
  room: number,
  now: number,
): { chosen: Candidate[]; misfit: Candidate | undefined; full: boolean } {
  const chosen: Candidate[] = []
  for (const block of found) {
    if (room <= 0) return { chosen, misfit: undefined, full: true }
    if (block.lease_group === null && (block.count > room || Number(block.last_at) > now)) {
      return { chosen, misfit: block, full: false }
    }
    chosen.push(block)
    room -= block.count
  }
  return { chosen, misfit: undefined, full: room <= 0 }
}
