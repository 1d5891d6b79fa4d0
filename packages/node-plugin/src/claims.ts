/** What the delivery worker has claimed and not sent yet, cut into requests. */

import { assembleBatch, requestId, singleBody, type WebhookBody } from '@analytics-webhooks/core'
import { nameOf } from './store/bind.js'
import { neverAttempted } from './store/block.js'
import type { BlockRange, BlockRequest, NewDelivery, StoredDelivery } from './store/types.js'

/** One request: the deliveries it carries and its body. */
export interface Unit {
  /** Deliveries claimed one by one (retries, replays, or from a store without blocks). */
  readonly rows: readonly StoredDelivery[]
  /** Deliveries of claimed blocks, by range: no object per delivery. */
  readonly ranges: readonly BlockRange[]
  readonly count: number
  readonly body: WebhookBody
  /**
   * The request's id (core's `requestId`), once known: set for a bound
   * request claimed as rows, else worked out on first use by {@link unitId}
   * (only a Standard Webhooks signature or a failure needs it).
   */
  webhookId?: string
}

/**
 * Claimed requests in claim order, not sent yet. The store cut them before
 * the claim returned (see `ClaimOptions.batchSize`), so the buffer never packs
 * deliveries itself: a request goes out as the store formed it, and again
 * after a failure, a restart or a lease takeover, with the same bytes and id.
 *
 * @example
 * const buffer = new ClaimBuffer('default')
 * buffer.add(rows, requests)
 * const unit = buffer.take() // the next request, its body assembled
 */
export class ClaimBuffer {
  private readonly queue: string
  private items: (Unit | BlockRequest)[] = []
  private head = 0
  /** Deliveries waiting, in all the requests not taken yet. */
  size = 0

  constructor(queue: string) {
    this.queue = queue
  }

  /**
   * Appends newly claimed requests: rows bound to one request become that
   * request, unbound rows go alone, then the requests cut from blocks.
   */
  add(rows: readonly StoredDelivery[], requests: readonly BlockRequest[] = []): void {
    if (rows.length === 0 && requests.length === 0) return
    const items = this.items.slice(this.head)
    const bound = boundRequests(rows)
    for (const row of rows) {
      if (row.requestId === null) {
        items.push({ rows: [row], ranges: [], count: 1, body: singleBody(row.body) })
        continue
      }
      // The first of a request's rows stands for it.
      const request = bound.get(row.requestId) as Unit
      if (request.rows[0] === row) items.push(request)
    }
    for (const request of requests) items.push(request)
    this.items = items
    this.head = 0
    this.size += rows.length
    for (const request of requests) this.size += request.count
  }

  /** The next request, its body assembled; `undefined` when none is waiting. */
  take(): Unit | undefined {
    const item = this.items[this.head]
    if (item === undefined) return undefined
    this.head++
    this.size -= item.count
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    }
    return 'body' in item ? item : fromBlocks(item)
  }

  /** Empties the buffer, returning the ids of everything in it (to give the leases back). */
  clear(): string[] {
    const ids: string[] = []
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as Unit | BlockRequest
      if ('rows' in item) for (const row of item.rows) ids.push(row.id)
      for (const { block, from, to } of item.ranges) {
        for (let k = from; k < to; k++) ids.push((block.deliveries[k] as NewDelivery).id)
      }
    }
    this.items = []
    this.head = 0
    this.size = 0
    return ids
  }

  /** Every delivery of a unit as a claim returns it, in body order (for the rare paths: retry, dead-letter, events). */
  deliveries(unit: Unit): StoredDelivery[] {
    const out: StoredDelivery[] = [...unit.rows]
    for (const { block, from, to } of unit.ranges) {
      for (let i = from; i < to; i++) {
        const d = block.deliveries[i] as NewDelivery
        out.push(neverAttempted(this.queue, d.id, d.body, d.messageId, d.enqueuedAt))
      }
    }
    return out
  }
}

/** A request cut from blocks, with its body: an array when it was cut as a batch, else its one event. */
function fromBlocks(request: BlockRequest): Unit {
  const texts: string[] = []
  for (const { block, from, to } of request.ranges) {
    for (let i = from; i < to; i++) texts.push((block.deliveries[i] as NewDelivery).body)
  }
  const body = request.batch ? wholeBatch(texts) : singleBody(texts[0] as string)
  return { rows: [], ranges: request.ranges, count: request.count, body }
}

/** One JSON array of exactly these events (a request was cut so that they fit). */
function wholeBatch(texts: readonly string[]): WebhookBody {
  const batch = assembleBatch(texts, { maxEvents: texts.length })
  if (batch.taken !== texts.length) throw new RangeError('a request no longer fits one body')
  return batch.body
}

/**
 * One batch (a JSON array) carrying exactly these deliveries, in this order:
 * a bound request claimed as rows, or a half of a request answered 413.
 *
 * @example
 * const [left, right] = [requestOf(deliveries.slice(0, 5)), requestOf(deliveries.slice(5))]
 */
export function requestOf(deliveries: readonly StoredDelivery[]): Unit {
  // Only deliveries that were cut or sent together (or half of them) come here: they always fit.
  const body = wholeBatch(deliveries.map((d) => d.body))
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
  const names = unit.rows.map(nameOf)
  for (const { block, from, to } of unit.ranges) {
    for (let i = from; i < to; i++) names.push(nameOf(block.deliveries[i] as NewDelivery))
  }
  unit.webhookId = requestId(names)
  return unit.webhookId
}

/**
 * The bound requests among claimed rows, by id, each with its rows in their
 * places. A request that came back without all of its deliveries (its id,
 * which names every member, does not match; a store should never do this) is
 * sent as what came back, under that part's own id.
 */
function boundRequests(rows: readonly StoredDelivery[]): Map<string, Unit> {
  const groups = new Map<string, StoredDelivery[]>()
  for (const row of rows) {
    if (row.requestId === null) continue
    const group = groups.get(row.requestId)
    if (group) group.push(row)
    else groups.set(row.requestId, [row])
  }
  const requests = new Map<string, Unit>()
  for (const [id, group] of groups) {
    group.sort((a, b) => (a.requestPosition ?? 0) - (b.requestPosition ?? 0))
    requests.set(id, requestOf(group))
  }
  return requests
}
