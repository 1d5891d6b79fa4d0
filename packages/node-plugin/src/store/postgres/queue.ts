/** The PostgreSQL queue's claims and outcomes across its two layouts: blocks (never attempted) and rows (the rest). */

import { oldestDueFirst, requestsOfRows } from '../bind.js'
import { BlockClaim } from '../blocks/block.js'
import type { ClaimedRequest, ClaimOptions, KillUpdate, RetryUpdate } from '../types.js'
import { PostgresBlocks } from './blocks.js'
import type { PostgresConnection } from './connection.js'
import { PostgresDeliveries } from './deliveries.js'
import { explodeBlocks } from './explode.js'
import type { HeldItem, Outcome } from './outcomes.js'

/** A delivery to act on by id among the rows, with its place in its request. */
interface ById {
  readonly id: string
  readonly position: number
  /**
   * Whether to look for it in blocks this store does not hold when it is not
   * a row (a request the worker made itself, or a caller's own). Not for one
   * whose block this store held: that block was taken over by another worker,
   * whose outcome it is now.
   */
  readonly search: boolean
}

/**
 * Routes claims and acknowledgements to {@link PostgresBlocks} and
 * {@link PostgresDeliveries}: requests cut from blocks this store holds are
 * acknowledged per block, by range; anything else by id among the rows,
 * after turning a block that holds one of the ids (and that no worker here
 * holds) into rows.
 *
 * @example
 * const queue = new PostgresQueue(db)
 * const requests = await queue.claim('default', { limit: 256, now: Date.now(), leaseMs: 60_000, worker: 'w1' })
 * await queue.complete('default', requests)
 */
export class PostgresQueue {
  readonly blocks: PostgresBlocks
  readonly rows: PostgresDeliveries
  private readonly db: PostgresConnection

  constructor(db: PostgresConnection) {
    this.db = db
    this.blocks = new PostgresBlocks(db)
    this.rows = new PostgresDeliveries(db)
  }

  /**
   * One transaction: due rows first, then blocks with the room left (see
   * {@link PostgresBlocks.claim}), oldest due first. Claims that bind rows
   * (`batchSize` above 1) take turns per queue.
   */
  async claim(queue: string, options: ClaimOptions): Promise<ClaimedRequest[]> {
    const { limit } = options
    if (limit <= 0) return []
    const { rows, groups } = await this.db.transaction(async (client) => {
      if ((options.batchSize ?? 1) > 1) await this.rows.lockClaims(client, queue)
      let rows = await this.rows.claim(client, queue, options, limit)
      const room = limit - rows.length
      const { groups, exploded } = await this.blocks.claim(
        client,
        queue,
        options,
        room,
        rows.length === 0,
      )
      if (exploded) rows = await this.rows.claim(client, queue, options, limit)
      return { rows, groups }
    })
    return oldestDueFirst(requestsOfRows(rows), this.blocks.hold(groups))
  }

  complete(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    return this.settle(queue, requests, { kind: 'complete', shard: this.rows.shard }, (ids) =>
      this.rows.complete(queue, ids),
    )
  }

  retry(queue: string, request: ClaimedRequest, update: RetryUpdate): Promise<void> {
    return this.settle(
      queue,
      [request],
      { kind: 'retry', update, shard: this.rows.shard },
      (ids, positions) => this.rows.retry(queue, ids, positions, update),
    )
  }

  kill(queue: string, requests: readonly ClaimedRequest[], update: KillUpdate): Promise<void> {
    return this.settle(queue, requests, { kind: 'kill', update }, (ids) =>
      this.rows.kill(queue, ids, update),
    )
  }

  release(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    return this.settle(queue, requests, { kind: 'release' }, (ids) => this.rows.release(queue, ids))
  }

  /** Forgets every block held (the store closed). */
  clear(): void {
    this.blocks.clear()
  }

  /**
   * Gives requests an outcome: deliveries of held blocks per block, the rest
   * by id among the rows (`byIds` returns the ids it found). An id found
   * nowhere may sit in a block no worker here holds: that block is made into
   * rows and the id tried once more.
   */
  private async settle(
    queue: string,
    requests: readonly ClaimedRequest[],
    outcome: Outcome,
    byIds: (ids: string[], positions: number[]) => Promise<string[]>,
  ): Promise<void> {
    const { held, rest } = this.locate(queue, requests)
    if (held.length > 0) {
      for (const item of await this.blocks.acknowledge(queue, held, outcome)) {
        const id = item.block.deliveries[item.index]?.id as string
        rest.push({ id, position: item.position, search: false })
      }
    }
    if (rest.length === 0) return
    const found = new Set(
      await byIds(
        rest.map((r) => r.id),
        rest.map((r) => r.position),
      ),
    )
    const missing = rest.filter((r) => r.search && !found.has(r.id))
    if (missing.length === 0) return
    if (await this.explodeHolding(queue, missing)) {
      await byIds(
        missing.map((r) => r.id),
        missing.map((r) => r.position),
      )
    }
  }

  /** Splits requests into deliveries of blocks this store holds (by range when it can) and the rest. */
  private locate(
    queue: string,
    requests: readonly ClaimedRequest[],
  ): { held: HeldItem[]; rest: ById[] } {
    const held: HeldItem[] = []
    const rest: ById[] = []
    for (const request of requests) {
      if (
        request instanceof BlockClaim &&
        request.ranges.every((r) => this.blocks.holds(r.block, queue))
      ) {
        let position = 0
        for (const { block, from, to } of request.ranges) {
          for (let index = from; index < to; index++)
            held.push({ block, index, position: position++ })
        }
        continue
      }
      const search = !(request instanceof BlockClaim)
      request.deliveries.forEach((d, position) => {
        const at = this.blocks.held.find(d.id)
        if (at && this.blocks.holds(at.block, queue) && at.block.isPending(at.index)) {
          held.push({ ...at, position })
        } else rest.push({ id: d.id, position, search })
      })
    }
    return { held, rest }
  }

  /**
   * Makes rows of the blocks of `queue` that hold one of `missing` and that
   * this store does not hold. Reads every waiting block's metadata, so it is
   * only asked for ids that are neither rows nor in held blocks (rare).
   * Returns whether it made any.
   */
  private async explodeHolding(queue: string, missing: readonly ById[]): Promise<boolean> {
    const exploded = await this.db.transaction(async (client) => {
      const { rows } = await this.db.run<{ seq: string }>(
        `SELECT DISTINCT b.seq FROM ${this.db.s}.delivery_blocks AS b
         JOIN unnest($2::text[]) AS i(id) ON strpos(b.meta, i.id) > 0
         WHERE b.queue = $1`,
        [queue, missing.map((r) => JSON.stringify(r.id))],
        client,
      )
      const seqs = rows.map((r) => r.seq).filter((seq) => !this.blocks.held.has(Number(seq)))
      return seqs.length === 0 ? [] : explodeBlocks(client, this.db.s, seqs)
    })
    return exploded.length > 0
  }
}
