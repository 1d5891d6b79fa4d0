// Tests how the worker cuts what it claimed (rows and whole blocks) into requests.

import { assembleBatch, requestId } from '@analytics-webhooks/core'
import { describe, expect, it } from 'vitest'
import { ClaimBuffer, type Unit, unitId } from '../claims.js'
import type { ClaimedBlock, NewDelivery, StoredDelivery } from '../store/types.js'

const fresh = (id: string, body = `{"id":"${id}"}`): NewDelivery => ({
  id,
  body,
  messageId: `m-${id}`,
  enqueuedAt: 1000,
})
const block = (...ids: string[]): ClaimedBlock => ({ deliveries: ids.map((id) => fresh(id)) })
const row = (id: string, attempts = 2): StoredDelivery => ({
  ...fresh(id),
  queue: 'q',
  attempts,
  nextAttemptAt: 900,
  lastReason: 'http_5xx',
  lastStatus: 503,
  requestId: null,
  requestPosition: null,
})

describe('ClaimBuffer', () => {
  it('cuts batches in claim order, rows first, each run of a block as one range', () => {
    const buffer = new ClaimBuffer('q')
    const a = block('a0', 'a1', 'a2', 'a3', 'a4')
    const b = block('b0', 'b1')
    buffer.add([row('r0')], [a, b])
    expect(buffer.size).toBe(8)

    const first = buffer.take(3)
    expect(first?.rows.map((d) => d.id)).toEqual(['r0'])
    expect(first?.ranges).toEqual([{ block: a, from: 0, to: 2 }])
    expect(first?.body.json).toBe(
      assembleBatch(['{"id":"r0"}', '{"id":"a0"}', '{"id":"a1"}'], { maxEvents: 3 }).body.json,
    )
    expect(unitId(first as Unit)).toBe(requestId(['m-r0', 'm-a0', 'm-a1']))

    const second = buffer.take(4)
    expect(second?.ranges).toEqual([
      { block: a, from: 2, to: 5 },
      { block: b, from: 0, to: 1 },
    ])
    expect(second?.count).toBe(4)
    expect(JSON.parse(second?.body.json as string)).toEqual([
      { id: 'a2' },
      { id: 'a3' },
      { id: 'a4' },
      { id: 'b0' },
    ])
    expect(unitId(second as Unit)).toBe(requestId(['m-a2', 'm-a3', 'm-a4', 'm-b0']))
    expect(unitId(second as Unit)).toMatch(/^batch_m-a2_4_[0-9a-z]+$/)
    expect(buffer.size).toBe(1)
    expect(buffer.take(4)?.ranges).toEqual([{ block: b, from: 1, to: 2 }])
    expect(buffer.take(4)).toBeUndefined()
  })

  it('with batchSize 1 sends each event alone, identified by its messageId', () => {
    const buffer = new ClaimBuffer('q')
    buffer.add([], [block('a0', 'a1')])
    const unit = buffer.take(1)
    expect(unit?.body).toEqual({
      json: '{"id":"a0"}',
      firstEventJson: '{"id":"a0"}',
      count: 1,
      isBatch: false,
    })
    expect(unitId(unit as Unit)).toBe('m-a0')
  })

  it('takes only as many events as fit in one body (512 KB)', () => {
    const big = (id: string) => fresh(id, JSON.stringify({ id, pad: 'x'.repeat(200_000) }))
    const buffer = new ClaimBuffer('q')
    buffer.add([], [{ deliveries: [big('a'), big('b'), big('c')] }])
    expect(buffer.take(100)?.count).toBe(2)
    expect(buffer.take(100)?.count).toBe(1)
  })

  it('gives back the ids of everything not taken, and what a unit carries as deliveries', () => {
    const buffer = new ClaimBuffer('q')
    buffer.add([row('r0')], [block('a0', 'a1', 'a2')])
    const unit = buffer.take(2)
    if (!unit) throw new Error('expected a unit')
    expect(buffer.deliveries(unit)).toEqual([
      row('r0'),
      {
        ...fresh('a0'),
        queue: 'q',
        attempts: 0,
        nextAttemptAt: 1000,
        lastReason: null,
        lastStatus: null,
        requestId: null,
        requestPosition: null,
      },
    ])
    expect(buffer.clear()).toEqual(['a1', 'a2'])
    expect(buffer.size).toBe(0)
    expect(buffer.take(10)).toBeUndefined()
  })
})
