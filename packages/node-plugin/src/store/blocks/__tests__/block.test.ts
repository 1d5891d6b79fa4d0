// Tests packing deliveries into one block row and back, and what a held block records of each delivery.

import { describe, expect, it } from 'vitest'
import type { StoredDelivery } from '../../types.js'
import { asStored, BLOCK_MAX, HeldBlock, HeldGroup, packBlock, unpackBlock } from '../block.js'

const delivery = (n: number, body: string, enqueuedAt = 1000 + n): StoredDelivery => ({
  id: `id-${n}`,
  body,
  messageId: n % 2 === 0 ? `m-${n}` : null,
  enqueuedAt,
  queue: 'q',
  attempts: 0,
  nextAttemptAt: enqueuedAt,
  lastReason: null,
  lastStatus: null,
  requestId: null,
  requestPosition: null,
})

describe('packBlock and unpackBlock', () => {
  it('give back every delivery exactly, whatever characters the bodies hold', () => {
    const bodies = ['{"a":"👋 é"}', '', '{"quote":"\\"","nl":"\\n"}', '[1,2]\n', '"\u2028"', '{}']
    const items = bodies.map((body, n) => delivery(n, body))
    const packed = packBlock(items)
    expect(packed.count).toBe(items.length)
    expect(unpackBlock(packed.meta, packed.bodies)).toEqual(
      items.map(({ id, body, messageId, enqueuedAt }) => ({
        id,
        body,
        messageId,
        enqueuedAt,
        traceparent: null,
      })),
    )
  })

  it('give back each traceparent, null for none or a malformed one, and store them only when one has one', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const none = [delivery(0, '{}'), { ...delivery(1, '{}'), traceparent: null }]
    const untraced = packBlock(none)
    expect(Object.keys(JSON.parse(untraced.meta))).toEqual([
      'ids',
      'messageIds',
      'enqueuedAt',
      'lengths',
    ])
    expect(unpackBlock(untraced.meta, untraced.bodies).map((d) => d.traceparent)).toEqual([
      null,
      null,
    ])
    const some = [...none, { ...delivery(2, '{}'), traceparent }]
    const malformed = { ...delivery(3, '{}'), traceparent: traceparent.toUpperCase() }
    const traced = packBlock([...some, malformed])
    expect(JSON.parse(traced.meta).traceparents).toEqual([null, null, traceparent, null])
    expect(unpackBlock(traced.meta, traced.bodies).map((d) => d.traceparent)).toEqual([
      null,
      null,
      traceparent,
      null,
    ])
  })

  it('asStored gives the deliveries as a claim reads them back: the same array only when each traceparent is as stored', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const exact = [
      { ...delivery(0, '{}'), traceparent },
      { ...delivery(1, '{}'), traceparent: null },
    ]
    expect(asStored(exact, packBlock(exact))).toBe(exact)
    const given = [...exact, delivery(2, '{}'), { ...delivery(3, '{}'), traceparent: 'nope' }]
    const packed = packBlock(given)
    expect(asStored(given, packed)).toEqual(unpackBlock(packed.meta, packed.bodies))
  })

  it('records the earliest and the latest enqueue time', () => {
    const packed = packBlock([delivery(0, '{}', 50), delivery(1, '{}', 20), delivery(2, '{}', 90)])
    expect(packed).toMatchObject({ firstAt: 20, lastAt: 90 })
  })

  it('holds at most BLOCK_MAX deliveries a row (the store splits larger enqueues)', () => {
    expect(BLOCK_MAX).toBeGreaterThanOrEqual(128)
  })
})

describe('HeldBlock', () => {
  it('is settled once every delivery was removed or released, each counted once', () => {
    const group = new HeldGroup(1)
    const block = new HeldBlock(
      1,
      'q',
      'w',
      [delivery(0, '{}'), delivery(1, '{}'), delivery(2, '{}')],
      { plan: null, group },
    )
    expect(group.blocks).toEqual([block])
    expect(block.goneMask()).toBeNull()
    expect(block.remove(0)).toBe(true)
    expect(block.remove(0)).toBe(false)
    expect(block.release(0)).toBe(false)
    expect(block.settled).toBe(false)
    expect(group.settled).toBe(false)
    expect(block.release(2)).toBe(true)
    expect(block.remove(1)).toBe(true)
    expect(block.settled).toBe(true)
    expect(group.settled).toBe(true)
    expect(block.gone).toBe(2)
    expect(block.goneMask()).toBe('110')
  })

  it('starts with what an earlier holder recorded gone', () => {
    const group = new HeldGroup(1)
    const block = new HeldBlock(1, 'q', 'w', [delivery(0, '{}'), delivery(1, '{}')], {
      plan: [0],
      group,
      gone: '10',
    })
    expect([block.isPending(0), block.isPending(1), block.gone]).toEqual([false, true, 1])
    expect(block.goneMask()).toBe('10')
  })
})
