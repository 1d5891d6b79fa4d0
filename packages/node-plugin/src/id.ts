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
  if (now !== prefixMs) {
    const time = now.toString(16).padStart(12, '0').slice(-12)
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`
    prefixMs = now
  }
  return prefix + randomUUID().slice(15)
}

/** The time part (and version digit) of the last millisecond an id was made in: most ids share it. */
let prefix = ''
let prefixMs = Number.NaN
