/** Cutting claimed deliveries into requests before they are sent, so a request is the same on every attempt. */

import { batchSizes, requestId } from '@analytics-webhooks/core'
import type { ClaimedRequest, NewDelivery, StoredDelivery } from './types.js'

/** One delivery's place in a request, as a store writes it before the claim returns. */
export interface Binding {
  /** The delivery's queue id. */
  readonly id: string
  readonly requestId: string
  readonly position: number
}

/**
 * What names a delivery in a request id: its messageId, else (delete
 * notifications) its queue id.
 *
 * @example
 * nameOf({ id: 'q-1', messageId: 'm-1', body: '{}', enqueuedAt: 0 }) // 'm-1'
 */
export function nameOf(delivery: NewDelivery): string {
  return delivery.messageId ?? delivery.id
}

/**
 * Binds the claimed deliveries that are not bound yet to new requests of up
 * to `batchSize`, cut in claim order exactly as core's `assembleBatch` would
 * take them; already bound ones keep their request. Returns every delivery
 * with its binding set and the bindings the store must write before the
 * claim returns. With `batchSize` 1 nothing is bound: each is sent alone.
 *
 * @example
 * const { deliveries, bindings } = bindClaimed(rows, 100)
 * for (const b of bindings) update.run(b.requestId, b.position, b.id)
 */
export function bindClaimed(
  claimed: StoredDelivery[],
  batchSize: number,
): { deliveries: StoredDelivery[]; bindings: Binding[] } {
  const bindings: Binding[] = []
  if (batchSize <= 1) return { deliveries: claimed, bindings }
  const unbound = claimed.filter((d) => d.requestId === null)
  if (unbound.length === 0) return { deliveries: claimed, bindings }
  const sizes = batchSizes(
    unbound.map((d) => d.body),
    { maxEvents: batchSize },
  )
  const bound = new Map<string, StoredDelivery>()
  let from = 0
  for (const size of sizes) {
    const members = unbound.slice(from, from + size)
    const id = requestId(members.map(nameOf))
    members.forEach((d, position) => {
      bindings.push({ id: d.id, requestId: id, position })
      bound.set(d.id, { ...d, requestId: id, requestPosition: position })
    })
    from += size
  }
  return { deliveries: claimed.map((d) => bound.get(d.id) ?? d), bindings }
}

/**
 * Claimed rows as requests: the rows bound to one request id become that
 * request, in their places (a batch, even of one); an unbound row is a request
 * of its own, sent alone. In the order the first row of each came.
 *
 * @example
 * const requests = requestsOfRows(bindClaimed(rows, batchSize).deliveries)
 */
export function requestsOfRows(rows: readonly StoredDelivery[]): ClaimedRequest[] {
  const groups: { rows: StoredDelivery[]; batch: boolean }[] = []
  const bound = new Map<string, StoredDelivery[]>()
  for (const row of rows) {
    if (row.requestId === null) {
      groups.push({ rows: [row], batch: false })
      continue
    }
    const members = bound.get(row.requestId)
    if (members) members.push(row)
    else {
      const group = { rows: [row], batch: true }
      bound.set(row.requestId, group.rows)
      groups.push(group)
    }
  }
  return groups.map(({ rows: members, batch }) => {
    if (batch) members.sort((a, b) => (a.requestPosition ?? 0) - (b.requestPosition ?? 0))
    return requestOfRows(members, batch)
  })
}

/** A request of rows: its schedule is its most attempted row's, its window its oldest row's. */
function requestOfRows(rows: readonly StoredDelivery[], batch: boolean): ClaimedRequest {
  let attempts = 0
  let enqueuedAt = Number.POSITIVE_INFINITY
  let last = rows[0] as StoredDelivery
  for (const row of rows) {
    if (row.attempts > attempts) {
      attempts = row.attempts
      last = row
    }
    if (row.enqueuedAt < enqueuedAt) enqueuedAt = row.enqueuedAt
  }
  return {
    deliveries: rows,
    batch,
    attempts,
    enqueuedAt,
    lastReason: last.lastReason,
    lastStatus: last.lastStatus,
  }
}

/** The queue ids of requests' deliveries, for stores that act on deliveries by id. */
export function idsOf(requests: readonly ClaimedRequest[]): string[] {
  const ids: string[] = []
  for (const request of requests) for (const d of request.deliveries) ids.push(d.id)
  return ids
}

/**
 * Requests claimed as rows and as blocks, oldest due first: a request of rows
 * is due at its earliest row's next attempt, one of blocks when enqueued.
 * Usually in that order already, so this is one pass.
 *
 * @example
 * return oldestDueFirst(requestsOfRows(rows), blocks.hold(groups))
 */
export function oldestDueFirst(
  ofRows: readonly ClaimedRequest[],
  ofBlocks: readonly ClaimedRequest[],
): ClaimedRequest[] {
  const claimed = [...ofRows, ...ofBlocks]
  const due = claimed.map((request, i) => (i < ofRows.length ? dueOf(request) : request.enqueuedAt))
  for (let i = 1; i < due.length; i++) {
    if ((due[i] as number) < (due[i - 1] as number)) {
      const order = claimed.map((_, k) => k).sort((a, b) => (due[a] as number) - (due[b] as number))
      return order.map((k) => claimed[k] as ClaimedRequest)
    }
  }
  return claimed
}

/** When a request of rows is due: its earliest row's next attempt. */
function dueOf(request: ClaimedRequest): number {
  let at = Number.POSITIVE_INFINITY
  for (const d of request.deliveries) at = Math.min(at, (d as StoredDelivery).nextAttemptAt)
  return at
}
