/** What the delivery worker has claimed and not sent yet, cut into requests. */

import { assembleBatch, requestId, singleBody, type WebhookBody } from '@analytics-webhooks/core'
import { neverAttempted } from './store/block.js'
import type { BlockRange, ClaimedBlock, NewDelivery, StoredDelivery } from './store/types.js'

/** One request: the deliveries it carries and its body. */
export interface Unit {
  /** Deliveries claimed one by one (retries, replays, or from a store without blocks). */
  readonly rows: readonly StoredDelivery[]
  /** Deliveries of claimed blocks, by range: no object per delivery. */
  readonly ranges: readonly BlockRange[]
  readonly count: number
  readonly body: WebhookBody
  /** The `webhook-id` of a Standard Webhooks signature. */
  readonly webhookId: string
}

/** A claimed block and how far into it requests have been cut. */
interface Cursor {
  readonly block: ClaimedBlock
  next: number
}

/**
 * Claimed deliveries in claim order, as rows and blocks. {@link ClaimBuffer.take}
 * cuts the next request from them; a run of one block becomes one range.
 *
 * @example
 * const buffer = new ClaimBuffer('default')
 * buffer.add(rows, blocks)
 * const unit = buffer.take(100) // up to 100 deliveries, assembled into one body
 */
export class ClaimBuffer {
  private readonly queue: string
  private items: (StoredDelivery | Cursor)[] = []
  private head = 0
  /** Deliveries waiting, in rows and in what is left of blocks. */
  size = 0

  constructor(queue: string) {
    this.queue = queue
  }

  /** Appends newly claimed deliveries, rows first. */
  add(rows: readonly StoredDelivery[], blocks: readonly ClaimedBlock[] = []): void {
    if (rows.length === 0 && blocks.length === 0) return
    const items = this.items.slice(this.head)
    for (const row of rows) items.push(row)
    for (const block of blocks) if (block.deliveries.length > 0) items.push({ block, next: 0 })
    this.items = items
    this.head = 0
    this.size += rows.length
    for (const block of blocks) this.size += block.deliveries.length
  }

  /**
   * The next request: up to `batchSize` deliveries in claim order, as many as
   * fit in one body. `batchSize` 1 sends each event on its own (not as an array).
   */
  take(batchSize: number): Unit | undefined {
    if (this.size === 0) return undefined
    const texts = this.peekBodies(batchSize)
    let body: WebhookBody
    let taken: number
    if (batchSize === 1) {
      body = singleBody(texts[0] as string)
      taken = 1
    } else {
      const batch = assembleBatch(texts, { maxEvents: batchSize })
      body = batch.body
      taken = batch.taken
    }
    const rows: StoredDelivery[] = []
    const ranges: BlockRange[] = []
    // One event is named by its own id: no array on the unbatched hot path.
    let lead: string | undefined
    const names: string[] | undefined = taken === 1 ? undefined : []
    let left = taken
    while (left > 0) {
      const item = this.items[this.head] as StoredDelivery | Cursor
      if (isCursor(item)) {
        const { block, next } = item
        const to = Math.min(block.deliveries.length, next + left)
        if (names === undefined) lead = nameOf(block.deliveries[next] as NewDelivery)
        else for (let i = next; i < to; i++) names.push(nameOf(block.deliveries[i] as NewDelivery))
        ranges.push({ block, from: next, to })
        left -= to - next
        item.next = to
        if (to === block.deliveries.length) this.head++
      } else {
        if (names === undefined) lead = nameOf(item)
        else names.push(nameOf(item))
        rows.push(item)
        left--
        this.head++
      }
    }
    this.size -= taken
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
    const webhookId = names === undefined ? (lead as string) : requestId(names)
    return { rows, ranges, count: taken, body, webhookId }
  }

  /** Empties the buffer, returning the ids of everything in it (to give the leases back). */
  clear(): string[] {
    const ids: string[] = []
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as StoredDelivery | Cursor
      if (isCursor(item)) {
        const { deliveries } = item.block
        for (let k = item.next; k < deliveries.length; k++)
          ids.push((deliveries[k] as NewDelivery).id)
      } else ids.push(item.id)
    }
    this.items = []
    this.head = 0
    this.size = 0
    return ids
  }

  /** Every delivery of a unit as a claim returns it (for the rare paths: retry, dead-letter, events). */
  deliveries(unit: Unit): StoredDelivery[] {
    const out = [...unit.rows]
    for (const { block, from, to } of unit.ranges) {
      for (let i = from; i < to; i++) {
        const d = block.deliveries[i] as NewDelivery
        out.push(neverAttempted(this.queue, d.id, d.body, d.messageId, d.enqueuedAt))
      }
    }
    return out
  }

  /** The bodies of the next `max` deliveries, without taking them. */
  private peekBodies(max: number): string[] {
    const texts: string[] = []
    for (let i = this.head; i < this.items.length && texts.length < max; i++) {
      const item = this.items[i] as StoredDelivery | Cursor
      if (!isCursor(item)) {
        texts.push(item.body)
        continue
      }
      const { deliveries } = item.block
      const end = Math.min(deliveries.length, item.next + max - texts.length)
      for (let k = item.next; k < end; k++) texts.push((deliveries[k] as NewDelivery).body)
    }
    return texts
  }
}

/**
 * One request carrying exactly these deliveries, in this order, as a batch
 * (a JSON array) or, for `batched: false`, one event's body: how a request
 * answered 413 is split into new requests.
 *
 * @example
 * const [left, right] = [requestOf(deliveries.slice(0, 5), true), requestOf(deliveries.slice(5), true)]
 */
export function requestOf(deliveries: readonly StoredDelivery[], batched: boolean): Unit {
  const texts = deliveries.map((d) => d.body)
  const body = batched
    ? assembleBatch(texts, { maxEvents: texts.length }).body
    : singleBody(texts[0] as string)
  return {
    rows: deliveries,
    ranges: [],
    count: deliveries.length,
    body,
    webhookId: requestId(deliveries.map(nameOf)),
  }
}

/** What names a delivery in a request id: its messageId, else (delete notifications) its queue id. */
function nameOf(delivery: NewDelivery): string {
  return delivery.messageId ?? delivery.id
}

function isCursor(item: StoredDelivery | Cursor): item is Cursor {
  return 'block' in item
}
