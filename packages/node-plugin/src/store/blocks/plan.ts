/** A claim's cut of the blocks it leases into requests, and the requests a held group of blocks forms again from it. */

import { batchSizes } from '@analytics-webhooks/core'
import type { NewDelivery } from '../types.js'
import { BlockClaim, type BlockPlan, type BlockRange, type HeldBlock } from './block.js'

/**
 * Cuts blocks leased together, in order, into requests of up to `batchSize`
 * (core's `batchSizes` over all their deliveries, so a request may run from
 * one block into the next), and says where each block's requests start.
 * `batchSize` 1 sends each delivery alone: no plan.
 *
 * @example
 * planGroup([block1, block2], 100) // [[0, 100, 200], [44]] for blocks of 256 and 100
 */
export function planGroup(
  blocks: readonly (readonly NewDelivery[])[],
  batchSize: number,
): BlockPlan[] {
  if (batchSize <= 1) return blocks.map(() => null)
  const bodies: string[] = []
  for (const deliveries of blocks) for (const d of deliveries) bodies.push(d.body)
  const plans: number[][] = blocks.map(() => [])
  let start = 0
  let block = 0
  let offset = 0 // where `block` starts among all the deliveries
  for (const size of batchSizes(bodies, { maxEvents: batchSize })) {
    while (start >= offset + (blocks[block] as readonly NewDelivery[]).length) {
      offset += (blocks[block] as readonly NewDelivery[]).length
      block++
    }
    ;(plans[block] as number[]).push(start - offset)
    start += size
  }
  return plans
}

/**
 * The requests a group's blocks (in group order) form by their plans, with
 * the deliveries that already have an outcome left out. A request whose
 * deliveries are all gone forms nothing.
 *
 * @example
 * for (const request of requestsOf(group.blocks)) buffer.push(request)
 */
export function requestsOf(blocks: readonly HeldBlock[]): BlockClaim[] {
  const requests: BlockClaim[] = []
  let ranges: BlockRange[] = []
  let count = 0
  let batch = false
  // The run of pending deliveries being gathered: block, from, to (one range object per run, not per delivery).
  let run: HeldBlock | undefined
  let from = 0
  let to = 0
  const endRun = (): void => {
    if (run !== undefined) ranges.push({ block: run, from, to })
    run = undefined
  }
  const finish = (): void => {
    endRun()
    if (count > 0) requests.push(new BlockClaim(ranges, batch))
    ranges = []
    count = 0
  }
  for (const block of blocks) {
    const { plan } = block
    endRun()
    let next = 0 // the index into `plan` of the next start
    for (let i = 0; i < block.deliveries.length; i++) {
      if (plan === null || plan[next] === i) {
        finish()
        batch = plan !== null
        if (plan !== null) next++
      }
      if (!block.isPending(i)) {
        endRun()
        continue
      }
      if (run === undefined) {
        run = block
        from = i
      }
      to = i + 1
      count++
    }
  }
  finish()
  return requests
}
