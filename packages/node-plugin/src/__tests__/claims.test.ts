// Tests how the worker turns the requests a store claimed into bodies, and 413 halves into requests of their own.

import { assembleBatch, requestId } from '@analytics-webhooks/core'
import { describe, expect, it } from 'vitest'
import { ClaimBuffer, half, type Unit, unitId } from '../claims.js'
import type { ClaimedRequest, NewDelivery } from '../store/types.js'

const fresh = (id: string, body = `{"id":"${id}"}`): NewDelivery => ({
  id,
  body,
  messageId: `m-${id}`,
  enqueuedAt: 1000,
})
const request = (batch: boolean, ...ids: string[]): ClaimedRequest => ({
  deliveries: ids.map((id) => fresh(id)),
  batch,
  attempts: 2,
  enqueuedAt: 1000,
  lastReason: 'http_5xx',
  lastStatus: 503,
})

describe('ClaimBuffer', () => {
  it('hands out each request as the store formed it, in claim order, never packing two together', () => {
    const buffer = new ClaimBuffer()
    const alone = request(false, 'r0')
    const batch = request(true, 'a0', 'a1', 'a2')
    buffer.add([alone, batch])
    expect(buffer.size).toBe(4)

    const first = buffer.take() as Unit
    expect(first.request).toBe(alone)
    expect(first.body).toEqual({
      json: '{"id":"r0"}',
      firstEventJson: '{"id":"r0"}',
      count: 1,
      isBatch: false,
    })
    expect(unitId(first)).toBe('m-r0')

    const second = buffer.take() as Unit
    expect(second.request).toBe(batch)
    expect(second.body.json).toBe(
      assembleBatch(['{"id":"a0"}', '{"id":"a1"}', '{"id":"a2"}'], { maxEvents: 3 }).body.json,
    )
    expect(unitId(second)).toBe(requestId(['m-a0', 'm-a1', 'm-a2']))
    expect(unitId(second)).toMatch(/^batch_m-a0_3_[0-9a-z]+$/)
    expect(buffer.size).toBe(0)
    expect(buffer.take()).toBeUndefined()
  })

  it('a batch of one event is an array, named by its messageId', () => {
    const buffer = new ClaimBuffer()
    buffer.add([request(true, 'a0')])
    const unit = buffer.take() as Unit
    expect(unit.body).toMatchObject({ json: '[{"id":"a0"}]', isBatch: true })
    expect(unitId(unit)).toBe('m-a0')
  })

  it('gives back every request not taken yet', () => {
    const buffer = new ClaimBuffer()
    const [a, b, c] = [request(false, 'a'), request(true, 'b0', 'b1'), request(false, 'c')]
    buffer.add([a, b])
    buffer.take()
    buffer.add([c])
    expect(buffer.clear()).toEqual([b, c])
    expect(buffer.size).toBe(0)
    expect(buffer.take()).toBeUndefined()
  })
})

describe('half (a batch answered 413)', () => {
  it('is a new request of the same deliveries, with its own id, on the parent schedule', () => {
    const parent = request(true, 'a0', 'a1', 'a2')
    const left = half(parent, 0, 2)
    expect(left.request).toMatchObject({ batch: true, attempts: 2, enqueuedAt: 1000 })
    expect(left.request.deliveries).toEqual(parent.deliveries.slice(0, 2))
    expect(left.body.json).toBe('[{"id":"a0"},{"id":"a1"}]')
    expect(unitId(left)).toBe(requestId(['m-a0', 'm-a1']))
    expect(unitId(half(parent, 2, 3))).toBe('m-a2')
  })
})
