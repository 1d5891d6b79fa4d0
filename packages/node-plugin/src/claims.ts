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
  /**
   * The request's id (core's `requestId`), once known: set for a failed
   * request sent again and for a 413 half, else worked out on first use by
   * {@link unitId} (only a Standard Webhooks signature or a failure needs it).
   */
  webhookId?: string
  /** Rows and ranges in the order their events are in the body, when both make it up. */
  readonly parts?: readonly (StoredDelivery | BlockRange)[]
}

/** A claimed block and how far into it requests have been cut. */
interface Cursor {
  readonly block: ClaimedBlock
  next: number
}

/** A failed request claimed whole: it goes out again as it was, never merged with anything. */
interface Sealed {
  readonly sealed: Unit
}

type Item = StoredDelivery | Cursor | Sealed

/**
 * Claimed deliveries in claim order, as rows, blocks and failed requests.
 * {@link ClaimBuffer.take} cuts the next request from them: a failed request
 * is sent again as it was (same deliveries, order, bytes and id); everything
 * else is packed up to the batch size, and a run of one block becomes one range.
 *
 * @example
 * const buffer = new ClaimBuffer('default')
 * buffer.add(rows, blocks)
 * const unit = buffer.take(100) // up to 100 deliveries, assembled into one body
 */
export class ClaimBuffer {
  private readonly queue: string
  private items: Item[] = []
  private head = 0
  /** Deliveries waiting, in rows, failed requests and what is left of blocks. */
  size = 0

  constructor(queue: string) {
    this.queue = queue
  }

  /** Appends newly claimed deliveries, rows first; the rows of a failed request become that request again. */
  add(rows: readonly StoredDelivery[], blocks: readonly ClaimedBlock[] = []): void {
    if (rows.length === 0 && blocks.length === 0) return
    const items = this.items.slice(this.head)
    const requests = boundRequests(rows)
    for (const row of rows) {
      if (row.requestId === null || row.requestId === undefined) items.push(row)
      else {
        const request = requests.get(row.requestId)
        // The first of a request's rows stands for it; a request that came back incomplete is sent as rows.
        if (request === undefined) items.push(row)
        else if (request.rows[0] === row) items.push({ sealed: request })
      }
    }
    for (const block of blocks) if (block.deliveries.length > 0) items.push({ block, next: 0 })
    this.items = items
    this.head = 0
    this.size += rows.length
    for (const block of blocks) this.size += block.deliveries.length
  }

  /**
   * The next request: a failed request as it was sent, or up to `batchSize`
   * other deliveries in claim order, as many as fit in one body. `batchSize`
   * 1 sends each event on its own (not as an array).
   */
  take(batchSize: number): Unit | undefined {
    if (this.size === 0) return undefined
    const lead = this.items[this.head] as Item
    if (isSealed(lead)) {
      this.head++
      this.size -= lead.sealed.count
      this.compact()
      return lead.sealed
    }
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
    const parts: (StoredDelivery | BlockRange)[] = []
    let left = taken
    while (left > 0) {
      const item = this.items[this.head] as StoredDelivery | Cursor
      if (isCursor(item)) {
        const { block, next } = item
        const to = Math.min(block.deliveries.length, next + left)
        const range = { block, from: next, to }
        ranges.push(range)
        parts.push(range)
        left -= to - next
        item.next = to
        if (to === block.deliveries.length) this.head++
      } else {
        rows.push(item)
        parts.push(item)
        left--
        this.head++
      }
    }
    this.size -= taken
    this.compact()
    const mixed = rows.length > 0 && ranges.length > 0
    return { rows, ranges, count: taken, body, ...(mixed ? { parts } : {}) }
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
  }

  /** Empties the buffer, returning the ids of everything in it (to give the leases back). */
  clear(): string[] {
    const ids: string[] = []
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as Item
      if (isSealed(item)) for (const row of item.sealed.rows) ids.push(row.id)
      else if (isCursor(item)) {
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

  /** Every delivery of a unit as a claim returns it, in body order (for the rare paths: retry, dead-letter, events). */
  deliveries(unit: Unit): StoredDelivery[] {
    const out: StoredDelivery[] = []
    for (const part of unit.parts ?? [...unit.rows, ...unit.ranges]) {
      if (!('block' in part)) {
        out.push(part)
        continue
      }
      for (let i = part.from; i < part.to; i++) {
        const d = part.block.deliveries[i] as NewDelivery
        out.push(neverAttempted(this.queue, d.id, d.body, d.messageId, d.enqueuedAt))
      }
    }
    return out
  }

  /** The bodies of the next `max` deliveries, without taking them. */
  private peekBodies(max: number): string[] {
    const texts: string[] = []
    for (let i = this.head; i < this.items.length && texts.length < max; i++) {
      const item = this.items[i] as Item
      // A failed request is never merged into another.
      if (isSealed(item)) break
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
 * One batch (a JSON array) carrying exactly these deliveries, in this order:
 * a failed request sent again, or a half of a request answered 413.
 *
 * @example
 * const [left, right] = [requestOf(deliveries.slice(0, 5)), requestOf(deliveries.slice(5))]
 */
export function requestOf(deliveries: readonly StoredDelivery[]): Unit {
  const batch = assembleBatch(
    deliveries.map((d) => d.body),
    { maxEvents: deliveries.length },
  )
  // Only deliveries that were sent together (or half of them) come here: they always fit.
  if (batch.taken !== deliveries.length) throw new RangeError('a request no longer fits one body')
  const body = batch.body
  return {
    rows: deliveries,
    ranges: [],
    count: deliveries.length,
    body,
    webhookId: requestId(deliveries.map(nameOf)),
  }
}

/**
 * A unit's request id, core's `requestId` of its events in body order (one
 * event: its messageId), worked out once and kept on the unit. Not on the
 * send path unless a Standard Webhooks signature needs it: hashing every
 * messageId of a batch cost a measurable share of an unsigned drain.
 *
 * @example
 * signatureHeadersSync(settings, unit.body, { id: unitId(unit), timestamp })
 */
export function unitId(unit: Unit): string {
  if (unit.webhookId !== undefined) return unit.webhookId
  const names: string[] = []
  for (const part of unit.parts ?? [...unit.rows, ...unit.ranges]) {
    if (!('block' in part)) names.push(nameOf(part))
    else
      for (let i = part.from; i < part.to; i++)
        names.push(nameOf(part.block.deliveries[i] as NewDelivery))
  }
  unit.webhookId = requestId(names)
  return unit.webhookId
}

/** What names a delivery in a request id: its messageId, else (delete notifications) its queue id. */
function nameOf(delivery: NewDelivery): string {
  return delivery.messageId ?? delivery.id
}

/**
 * The failed requests among claimed rows, by id, each with its rows in their
 * places; a request missing any of its deliveries (its id, which names every
 * member, does not match) is left out and its rows are sent as rows.
 */
function boundRequests(rows: readonly StoredDelivery[]): Map<string, Unit> {
  const groups = new Map<string, StoredDelivery[]>()
  for (const row of rows) {
    if (row.requestId === null || row.requestId === undefined) continue
    const group = groups.get(row.requestId)
    if (group) group.push(row)
    else groups.set(row.requestId, [row])
  }
  const requests = new Map<string, Unit>()
  for (const [id, group] of groups) {
    group.sort((a, b) => (a.requestPosition ?? 0) - (b.requestPosition ?? 0))
    if (group.length < 2 || requestId(group.map(nameOf)) !== id) continue
    try {
      requests.set(id, requestOf(group))
    } catch {
      // Cannot happen for deliveries that were sent together; if it did, they go as rows.
    }
  }
  return requests
}

function isSealed(item: Item): item is Sealed {
  return 'sealed' in item
}

function isCursor(item: Item): item is Cursor {
  return 'block' in item
}
