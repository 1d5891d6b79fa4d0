// Tests how a claim cuts the blocks it leases into requests, and how a group forms them again from the cut.

import { batchSizes } from '@analytics-webhooks/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { NewDelivery } from '../../types.js'
import { HeldBlock, HeldGroup } from '../block.js'
import { planGroup, requestsOf } from '../plan.js'

const deliveries = (prefix: string, count: number, body = (i: number) => `{"i":${i}}`) =>
  Array.from(
    { length: count },
    (_, i): NewDelivery => ({
      id: `${prefix}${i}`,
      body: body(i),
      messageId: `m-${prefix}${i}`,
      enqueuedAt: 1000,
    }),
  )

/** Holds blocks as one group, with their plans (and what is gone), and returns the ids of each request formed. */
function formed(
  blocks: readonly (readonly NewDelivery[])[],
  plans: ReturnType<typeof planGroup>,
  gone: (string | null)[] = [],
): { ids: string[]; batch: boolean }[] {
  const group = new HeldGroup(1)
  blocks.forEach((d, i) => {
    new HeldBlock(i + 1, 'q', 'w', d, { plan: plans[i] ?? null, group, gone: gone[i] ?? null })
  })
  return requestsOf(group.blocks).map((r) => ({
    ids: r.ranges.flatMap((range) =>
      range.block.deliveries.slice(range.from, range.to).map((d) => d.id),
    ),
    batch: r.batch,
  }))
}

describe('planGroup and requestsOf', () => {
  it('cut across blocks: a request runs from one block into the next', () => {
    const blocks = [deliveries('a', 5), deliveries('b', 4)]
    const plans = planGroup(blocks, 4)
    expect(plans).toEqual([[0, 4], [3]])
    expect(formed(blocks, plans)).toEqual([
      { ids: ['a0', 'a1', 'a2', 'a3'], batch: true },
      { ids: ['a4', 'b0', 'b1', 'b2'], batch: true },
      { ids: ['b3'], batch: true },
    ])
  })

  it('batchSize 1: no plan, each delivery alone', () => {
    const blocks = [deliveries('a', 2)]
    expect(planGroup(blocks, 1)).toEqual([null])
    expect(formed(blocks, [null])).toEqual([
      { ids: ['a0'], batch: false },
      { ids: ['a1'], batch: false },
    ])
  })

  it('a block inside one long request has no start of its own', () => {
    const blocks = [deliveries('a', 2), deliveries('b', 2), deliveries('c', 2)]
    const plans = planGroup(blocks, 100)
    expect(plans).toEqual([[0], [], []])
    expect(formed(blocks, plans)).toEqual([
      { ids: ['a0', 'a1', 'b0', 'b1', 'c0', 'c1'], batch: true },
    ])
  })

  it('after some requests are gone, the rest are formed exactly as before', () => {
    const blocks = [deliveries('a', 5), deliveries('b', 4)]
    const plans = planGroup(blocks, 4)
    expect(formed(blocks, plans, ['11110', '0000'])).toEqual([
      { ids: ['a4', 'b0', 'b1', 'b2'], batch: true },
      { ids: ['b3'], batch: true },
    ])
    expect(formed(blocks, plans, ['11111', '1110'])).toEqual([{ ids: ['b3'], batch: true }])
  })

  it("for any blocks, batch size and body sizes, the requests are core's batchSizes over all of them (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 2, max: 300_000 }), { minLength: 1, maxLength: 12 }), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.integer({ min: 2, max: 10 }),
        (sizes, batchSize) => {
          const blocks = sizes.map((block, b) =>
            deliveries(`${b}-`, block.length, (i) => `"${'x'.repeat((block[i] as number) - 2)}"`),
          )
          const all = blocks.flat()
          const expected = batchSizes(
            all.map((d) => d.body),
            { maxEvents: batchSize },
          )
          const got = formed(blocks, planGroup(blocks, batchSize))
          expect(got.map((r) => r.ids.length)).toEqual(expected)
          expect(got.flatMap((r) => r.ids)).toEqual(all.map((d) => d.id))
        },
      ),
      { numRuns: 200 },
    )
  })
})
