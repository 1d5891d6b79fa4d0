import { describe, expect, it } from 'vitest'
import { deliveryId } from '../id.js'

describe('deliveryId', () => {
  it('is a UUIDv7 whose first 48 bits are the milliseconds', () => {
    const id = deliveryId(0x0193_a1f2_7c4e)
    expect(id).toMatch(/^0193a1f2-7c4e-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('sorts by time across milliseconds, and never repeats within one', () => {
    const sameMs = [deliveryId(1000), deliveryId(1000), deliveryId(1000)]
    expect(new Set(sameMs).size).toBe(3)
    const later = [deliveryId(999), deliveryId(1001), deliveryId(0x1_0000_0000)]
    expect([...later].sort()).toEqual(later)
  })
})
