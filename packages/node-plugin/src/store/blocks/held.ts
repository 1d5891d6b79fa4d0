/** The blocks one store instance has leased, found by seq, and by delivery id once something asks by id. */

import type { NewDelivery } from '../types.js'
import type { HeldBlock } from './block.js'

/** Where a delivery of a held block is: the block and its index in it. */
export interface HeldDelivery {
  readonly block: HeldBlock
  readonly index: number
}

/**
 * The blocks this store instance holds a lease on, in memory. Deliveries are
 * indexed by id only when a call by id needs it ({@link HeldBlocks.find}), so
 * a worker that completes by range never pays for a map entry per delivery.
 *
 * @example
 * const held = new HeldBlocks()
 * held.hold(block)
 * held.find('delivery-id') // { block, index }
 */
export class HeldBlocks {
  /** Blocks this instance has leased, by seq, and where each of their deliveries is. */
  private readonly bySeq = new Map<number, HeldBlock>()
  /** Where each delivery of a held block is, by id: filled in only when needed ({@link index}). */
  private readonly byId = new Map<string, HeldDelivery>()
  /** How many held blocks are not in {@link byId} yet. */
  private unindexed = 0

  /** The block held under `seq`, if any. */
  get(seq: number): HeldBlock | undefined {
    return this.bySeq.get(seq)
  }

  has(seq: number): boolean {
    return this.bySeq.has(seq)
  }

  /** Holds `block`, in place of any block held under its seq before. */
  hold(block: HeldBlock): HeldBlock {
    const previous = this.bySeq.get(block.seq)
    if (previous) this.forget(previous)
    this.bySeq.set(block.seq, block)
    this.unindexed++
    return block
  }

  /** Where delivery `id` is among the held blocks, indexing them first if needed. */
  find(id: string): HeldDelivery | undefined {
    this.index()
    return this.byId.get(id)
  }

  /** Stops holding `block` (a no-op when another block is held under its seq). */
  forget(block: HeldBlock): void {
    if (this.bySeq.get(block.seq) !== block) return
    this.bySeq.delete(block.seq)
    if (!block.indexed) {
      this.unindexed--
      return
    }
    for (const d of block.deliveries) {
      if (this.byId.get(d.id)?.block === block) this.byId.delete(d.id)
    }
  }

  clear(): void {
    this.bySeq.clear()
    this.byId.clear()
    this.unindexed = 0
  }

  /** Makes the deliveries of every held block findable by id. */
  private index(): void {
    if (this.unindexed === 0) return
    for (const block of this.bySeq.values()) {
      if (block.indexed) continue
      block.indexed = true
      const { deliveries } = block
      for (let index = 0; index < deliveries.length; index++) {
        this.byId.set((deliveries[index] as NewDelivery).id, { block, index })
      }
    }
    this.unindexed = 0
  }
}
