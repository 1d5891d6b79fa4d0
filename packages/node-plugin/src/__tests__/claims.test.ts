// Tests how the worker turns what a store claimed (rows and requests cut from blocks) into requests to send.

import { assembleBatch, requestId } from '@analytics-webhooks/core'
import { describe, expect, it } from 'vitest'
import { ClaimBuffer, type Unit, unitId } from '../claims.js'
import type { BlockRequest, ClaimedBlock, NewDelivery, StoredDelivery } from '../store/types.js'

const fresh = (id: string, body = `{"id":"${id}"}`): NewDelivery => ({
  id,
  body,
  messageId: `m-${id}`,
  enqueuedAt: 1000,
})
const block = (...ids: string[]): ClaimedBlock => ({ deliveries: ids.map((id) => fresh(id)) })
const row = (id: string, bound?: { request: string; position: number }): StoredDelivery => ({
  ...fresh(id),
  queue: 'q',
  attempts: 2,
  nextAttemptAt: 900,
  lastReason: 'http_5xx',
  lastStatus: 503,
  requestId: bound?.request ?? null,
  requestPosition: bound?.position ?? null,
})
const request = (
  batch: boolean,
  ...ranges: { block: ClaimedBlock; from: number; to: number }[]
): BlockRequest => ({ ranges, batch, count: ranges.reduce((n, r) => n + r.to - r.from, 0) })

describe('ClaimBuffer', () => {
  it('sends each request as the store cut it, in claim order: rows first, never packing two together', () => {
    const buffer = new ClaimBuffer('q')
    const a = block('a0', 'a1', 'a2')
    const b = block('b0', 'b1')
    const bound = requestId(['m-r2', 'm-r1'])
    buffer.add(
      [
        row('r0'),
        row('r1', { request: bound, position: 1 }),
        row('r2', { request: bound, position: 0 }),
      ],
      [request(true, { block: a, from: 0, to: 3 }, { block: b, from: 0, to: 1 })],
    )
    expect(buffer.size).toBe(7)

    // An unbound row goes alone, as its event.
    const alone = buffer.take() as Unit
    expect(alone.body).toEqual({
      json: '{"id":"r0"}',
      firstEventJson: '{"id":"r0"}',
      count: 1,
      isBatch: false,
    })
    expect(unitId(alone)).toBe('m-r0')
    // Bound rows go together, in their places, under their id.
    const again = buffer.take() as Unit
    expect(again.rows.map((d) => d.id)).toEqual(['r2', 'r1'])
    expect(again.body.json).toBe('[{"id":"r2"},{"id":"r1"}]')
    expect(unitId(again)).toBe(bound)
    // A request cut across two blocks is one body.
    const cut = buffer.take() as Unit
    expect(cut.ranges).toEqual([
      { block: a, from: 0, to: 3 },
      { block: b, from: 0, to: 1 },
    ])
    expect(cut.body.json).toBe(
      assembleBatch(['{"id":"a0"}', '{"id":"a1"}', '{"id":"a2"}', '{"id":"b0"}'], {
        maxEvents: 4,
      }).body.json,
    )
    expect(unitId(cut)).toBe(requestId(['m-a0', 'm-a1', 'm-a2', 'm-b0']))
    expect(unitId(cut)).toMatch(/^batch_m-a0_4_[0-9a-z]+$/)
    expect(buffer.size).toBe(0)
    expect(buffer.take()).toBeUndefined()
  })

  it('a request cut as a batch is an array even of one event; one cut alone is the event', () => {
    const buffer = new ClaimBuffer('q')
    const a = block('a0', 'a1')
    buffer.add(
      [],
      [request(true, { block: a, from: 0, to: 1 }), request(false, { block: a, from: 1, to: 2 })],
    )
    const batch = buffer.take() as Unit
    expect(batch.body).toMatchObject({ json: '[{"id":"a0"}]', isBatch: true })
    expect(unitId(batch)).toBe('m-a0')
    expect(buffer.take()?.body).toMatchObject({ json: '{"id":"a1"}', isBatch: false })
  })

  it("a bound request that came back without all of its rows is sent as what came back, under that part's own id", () => {
    const buffer = new ClaimBuffer('q')
    const whole = requestId(['m-r0', 'm-r1', 'm-r2'])
    buffer.add([
      row('r0', { request: whole, position: 0 }),
      row('r2', { request: whole, position: 2 }),
    ])
    const unit = buffer.take() as Unit
    expect(unit.body.json).toBe('[{"id":"r0"},{"id":"r2"}]')
    expect(unitId(unit)).toBe(requestId(['m-r0', 'm-r2']))
    expect(unitId(unit)).not.toBe(whole)
  })

  it('gives back the ids of everything not taken, and what a unit carries as deliveries', () => {
    const buffer = new ClaimBuffer('q')
    const a = block('a0', 'a1', 'a2')
    buffer.add(
      [],
      [request(true, { block: a, from: 0, to: 1 }), request(true, { block: a, from: 1, to: 3 })],
    )
    buffer.add([row('r0')])
    const unit = buffer.take() as Unit
    expect(buffer.deliveries(unit)).toEqual([
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
    expect(buffer.clear()).toEqual(['a1', 'a2', 'r0'])
    expect(buffer.size).toBe(0)
    expect(buffer.take()).toBeUndefined()
  })
})
