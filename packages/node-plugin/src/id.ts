/** Time-ordered delivery ids (UUIDv7), so the store's id index grows at one end instead of at random places. */

import { randomUUID } from 'node:crypto'

/**
 * A UUIDv7: 48 bits of milliseconds since the epoch, then random bits.
 * Ids made close in time sort close together, which keeps index writes local.
 *
 * @example
 * deliveryId() // '0193a1f2-7c4e-7d21-9f0a-3b6c2e8d4f11'
 */
export function deliveryId(now: number = Date.now()): string {
  const time = now.toString(16).padStart(12, '0').slice(-12)
  const random = randomUUID()
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`
}
