/** The blocks a SQLite store instance just enqueued, kept in memory so claiming them soon after reads nothing back. */

import type { NewDelivery } from '../types.js'

/**
 * How many just-enqueued deliveries a store keeps in memory for its next claims.
 * A worker that keeps up claims within milliseconds; one that is behind never
 * uses them, and then the store stops keeping them (held in memory until
 * evicted, they cost ~25 MB of RSS in bench 4 even at 2048).
 */
const FRESH_MAX = 2048

/** A kept block: its queue and its deliveries, as enqueued. */
export interface FreshBlock {
  readonly queue: string
  readonly deliveries: readonly NewDelivery[]
}

/**
 * The latest blocks this instance enqueued, by seq, so claiming them soon after
 * skips reading back and parsing what was just written. Block seqs are never
 * reused (AUTOINCREMENT), so an entry can only be missing, never wrong.
 *
 * @example
 * fresh.keep(seq, { queue: 'default', deliveries })
 * fresh.take(seq)?.deliveries // the same array, until evicted
 */
export class FreshBlocks {
  private readonly blocks = new Map<number, FreshBlock>()
  private count = 0
  /** Off from an eviction (the worker is behind) until a claim finds nothing more due (it caught up). */
  private on = true

  /** Whether {@link keep} keeps anything now (off while the worker is behind). */
  get keeping(): boolean {
    return this.on
  }

  /** Keeps a block just enqueued, unless off; past {@link FRESH_MAX} deliveries, drops them all and turns off. */
  keep(seq: number, block: FreshBlock): void {
    if (!this.on) return
    this.blocks.set(seq, block)
    this.count += block.deliveries.length
    if (this.count > FRESH_MAX) {
      // Not claimed in time: the worker is working through older deliveries, so stop keeping new ones.
      this.clear()
      this.on = false
    }
  }

  /** Removes a block, returning what was kept of it. */
  take(seq: number): FreshBlock | undefined {
    const entry = this.blocks.get(seq)
    if (entry === undefined) return undefined
    this.blocks.delete(seq)
    this.count -= entry.deliveries.length
    return entry
  }

  /** Nothing more was due: the worker has caught up, and what is enqueued next is worth keeping. */
  caughtUp(): void {
    this.on = true
  }

  clear(): void {
    this.blocks.clear()
    this.count = 0
  }
}
