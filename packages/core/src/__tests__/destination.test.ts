// Tests the vocabulary both plugins take from core (issue 14): the destination's name and the report shapes.

import { describe, expect, expectTypeOf, it } from 'vitest'
import type { ReasonCode } from '../classify.js'
import {
  DESTINATION_NAME,
  type DeadReport,
  type DeliveredReport,
  type DeliveryReports,
  type RetryReport,
} from '../destination.js'
import * as core from '../index.js'

describe('both plugins are the destination named Webhooks', () => {
  it("is Segment's own Webhooks destination's name, exported from the index", () => {
    expect(DESTINATION_NAME).toBe('Webhooks')
    expect(core.DESTINATION_NAME).toBe(DESTINATION_NAME)
    expectTypeOf<typeof DESTINATION_NAME>().toEqualTypeOf<'Webhooks'>()
  })
})

describe('the reports both plugins give have the same fields', () => {
  it('delivered: ids, messageIds, attempts, status', () => {
    expectTypeOf<DeliveredReport>().toEqualTypeOf<{
      readonly ids: readonly string[]
      readonly messageIds: readonly (string | null)[]
      readonly attempts: number
      readonly status: number | undefined
    }>()
  })

  it('retry: ids, reason, status, attempts, at', () => {
    expectTypeOf<RetryReport>().toEqualTypeOf<{
      readonly ids: readonly string[]
      readonly reason: ReasonCode
      readonly status: number | undefined
      readonly attempts: number
      readonly at: number
    }>()
  })

  it('dead: ids, reason, status, attempts, detail', () => {
    expectTypeOf<DeadReport>().toEqualTypeOf<{
      readonly ids: readonly string[]
      readonly reason: ReasonCode
      readonly status: number | undefined
      readonly attempts: number
      readonly detail: string | null
    }>()
  })

  it('names them delivered, retry and dead', () => {
    expectTypeOf<keyof DeliveryReports>().toEqualTypeOf<'delivered' | 'retry' | 'dead'>()
    // One listener, typed once, takes any of them.
    const seen: string[] = []
    const listener = (report: DeliveryReports[keyof DeliveryReports]) =>
      seen.push(`${report.ids.length} ${report.attempts} ${report.status}`)
    listener({ ids: ['a', 'b'], messageIds: ['m1', null], attempts: 1, status: 200 })
    listener({ ids: ['a'], reason: 'http_5xx', status: 503, attempts: 2, at: 0 })
    listener({ ids: ['a'], reason: 'expired', status: undefined, attempts: 3, detail: null })
    expect(seen).toEqual(['2 1 200', '1 2 503', '1 3 undefined'])
  })
})
