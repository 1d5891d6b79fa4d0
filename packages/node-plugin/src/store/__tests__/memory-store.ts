/** A QueueStore in memory, written from the README's interface section alone: the contract's reference store, for tests only. */

import { batchSizes, type ReasonCode, requestId } from '@analytics-webhooks/core'
import { isReplayable } from '../replayable.js'
import { storedTraceparent } from '../traceparent.js'
import type {
  ClaimedRequest,
  ClaimOptions,
  DeadCursor,
  DeadLetter,
  DeadListOptions,
  DeadSelection,
  KillUpdate,
  NewDelivery,
  QueueStats,
  QueueStore,
  ReplayResult,
  RetryUpdate,
  WorkerState,
  WorkerStateRow,
} from '../types.js'
import { WORKER_STATE_TTL_MS } from '../worker-state-row.js'

/**
 * A recorded request, compared by identity: its deliveries are only ever
 * claimed together, in `position` order. `id` is what the worker sends it
 * under (core's `requestId` of its members), kept for reading, never looked up.
 */
type Binding = { readonly id: string }

/** One queued delivery and what the store knows about it. */
interface Entry {
  readonly delivery: NewDelivery
  /** Enqueue order, for ties between deliveries due at the same moment. */
  readonly seq: number
  attempts: number
  dueAt: number
  lastReason: ReasonCode | null
  lastStatus: number | null
  /** Leased until then (ms since the epoch), or `null`. Which worker holds it is not needed here. */
  leasedUntil: number | null
  /** Claimed before: its request is formed, alone when `binding` is `null`. */
  formed: boolean
  binding: Binding | null
  position: number
}

/** One queue's deliveries (by id, in enqueue order) and counters. */
interface QueueState {
  readonly entries: Map<string, Entry>
  delivered: number
  retried: number
}

/** Deliveries that make one request, in body order, while a claim forms it. */
interface Formed {
  readonly members: Entry[]
  readonly batch: boolean
}

/**
 * A QueueStore held in one process's memory: nothing survives the process,
 * and no other process sees it. Clear rather than fast (every claim scans its
 * queue). Used by the contract suite and the custom-store test, never shipped.
 *
 * @example
 * const plugin = webhookPlugin({ webhooks: [url] }, { store: new MemoryQueueStore() })
 */
export class MemoryQueueStore implements QueueStore {
  private readonly queues = new Map<string, QueueState>()
  /** Dead letters, in the order they died. */
  private dead: DeadLetter[] = []
  /** Each worker's last report, by queue, then by worker. */
  private readonly workers = new Map<string, Map<string, WorkerState>>()
  private seq = 0

  async open(): Promise<void> {}

  async close(): Promise<void> {}

  async enqueue(queue: string, deliveries: readonly NewDelivery[]): Promise<void> {
    for (const delivery of deliveries) this.add(queue, delivery)
  }

  async enqueueDead(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void> {
    // Dead letters keep no traceparent (see DeadLetter).
    for (const { traceparent: _, ...letter } of letters) this.dead.push({ ...letter, queue })
  }

  async claim(queue: string, options: ClaimOptions): Promise<ClaimedRequest[]> {
    const { limit, now, leaseMs, batchSize = 1 } = options
    const due = [...this.state(queue).entries.values()]
      .filter((e) => claimable(e, now) && e.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq)
    const taken = new Set<Entry>()
    const requests: Formed[] = []
    const fresh: Entry[] = []
    for (const entry of due) {
      if (taken.size >= limit) break
      if (taken.has(entry)) continue
      taken.add(entry)
      if (!entry.formed) fresh.push(entry)
      else if (entry.binding === null) requests.push({ members: [entry], batch: false })
      else {
        const members = this.members(queue, entry.binding, now)
        for (const member of members) taken.add(member)
        requests.push({ members, batch: true })
      }
    }
    requests.push(...cut(fresh, batchSize))
    // Oldest due first, as they were taken.
    const order = new Map(due.map((e, i) => [e, i]))
    requests.sort((a, b) => firstIndex(a, order) - firstIndex(b, order))
    return requests.map((request) => hand(request, now + leaseMs))
  }

  async complete(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    for (const request of requests) {
      const held = this.held(queue, request)
      for (const entry of held) this.state(queue).entries.delete(entry.delivery.id)
      this.state(queue).delivered += held.length
    }
  }

  async retry(queue: string, request: ClaimedRequest, update: RetryUpdate): Promise<void> {
    const held = this.held(queue, request)
    const binding = update.requestId ? { id: update.requestId } : null
    held.forEach((entry, position) => {
      entry.attempts = update.attempts
      entry.lastReason = update.reason
      entry.lastStatus = update.status
      entry.dueAt = update.at
      entry.leasedUntil = null
      entry.formed = true
      entry.binding = binding
      entry.position = position
    })
    this.state(queue).retried += held.length
  }

  async kill(
    queue: string,
    requests: readonly ClaimedRequest[],
    update: KillUpdate,
  ): Promise<void> {
    for (const entry of requests.flatMap((request) => this.held(queue, request))) {
      this.state(queue).entries.delete(entry.delivery.id)
      // Dead letters keep no traceparent (see DeadLetter).
      const { id, body, messageId, enqueuedAt } = entry.delivery
      this.dead.push({
        id,
        body,
        messageId,
        enqueuedAt,
        queue,
        attempts: update.attempts,
        deadAt: update.now,
        reason: update.reason,
        lastStatus: update.status,
        detail: update.detail,
      })
    }
  }

  async release(queue: string, requests: readonly ClaimedRequest[]): Promise<void> {
    for (const request of requests) {
      for (const entry of this.held(queue, request)) entry.leasedUntil = null
    }
  }

  async wake(queue: string, now: number): Promise<number> {
    let woken = 0
    for (const entry of this.state(queue).entries.values()) {
      if ((entry.leasedUntil ?? 0) > now || entry.dueAt <= now) continue
      entry.dueAt = now
      woken++
    }
    return woken
  }

  async nextDueAt(queue: string): Promise<number | null> {
    let next: number | null = null
    for (const entry of this.state(queue).entries.values()) {
      const at = Math.max(entry.dueAt, entry.leasedUntil ?? 0)
      if (next === null || at < next) next = at
    }
    return next
  }

  async stats(queue?: string): Promise<QueueStats> {
    const now = Date.now()
    const names = queue === undefined ? [...this.queues.keys()] : [queue]
    let queued = 0
    let inFlight = 0
    let retrying = 0
    let delivered = 0
    let retried = 0
    let oldestEnqueuedAt: number | null = null
    for (const name of names) {
      const state = this.state(name)
      for (const entry of state.entries.values()) {
        if ((entry.leasedUntil ?? 0) > now) inFlight++
        else {
          queued++
          if (entry.attempts > 0) retrying++
        }
        const { enqueuedAt } = entry.delivery
        if (oldestEnqueuedAt === null || enqueuedAt < oldestEnqueuedAt)
          oldestEnqueuedAt = enqueuedAt
      }
      delivered += state.delivered
      retried += state.retried
    }
    const letters = this.dead.filter((l) => queue === undefined || l.queue === queue)
    const deadByReason: Partial<Record<ReasonCode, number>> = {}
    for (const l of letters) deadByReason[l.reason] = (deadByReason[l.reason] ?? 0) + 1
    const dead = letters.length
    return { queued, inFlight, retrying, delivered, retried, dead, deadByReason, oldestEnqueuedAt }
  }

  async listDead(options: DeadListOptions = {}): Promise<DeadLetter[]> {
    const {
      queue,
      reason,
      messageId,
      before,
      limit = Number.POSITIVE_INFINITY,
      offset = 0,
    } = options
    let letters = this.dead.filter(
      (l) =>
        (queue === undefined || l.queue === queue) &&
        (reason === undefined || l.reason === reason) &&
        (messageId === undefined || l.messageId === messageId),
    )
    if (before !== undefined) {
      letters = letters.filter((l) => newestFirst(l, before) > 0).sort(newestFirst)
    }
    return letters.slice(offset, offset + limit).map((l) => ({ ...l }))
  }

  async replayDead(
    selection: DeadSelection,
    options: { now: number; queue?: string },
  ): Promise<ReplayResult> {
    let replayed = 0
    let unsendable = 0
    this.dead = this.dead.filter((letter) => {
      if (!selected(letter, selection, options.queue)) return true
      if (!isReplayable(letter)) {
        unsendable++
        return true
      }
      const { id, body, messageId } = letter
      this.add(letter.queue, { id, body, messageId, enqueuedAt: options.now })
      replayed++
      return false
    })
    return { replayed, unsendable }
  }

  async purgeDead(selection: DeadSelection, options: { queue?: string } = {}): Promise<number> {
    const before = this.dead.length
    this.dead = this.dead.filter((letter) => !selected(letter, selection, options.queue))
    return before - this.dead.length
  }

  async reportState(queue: string, worker: string, state: WorkerState): Promise<void> {
    let workers = this.workers.get(queue)
    if (workers === undefined) {
      workers = new Map()
      this.workers.set(queue, workers)
    }
    const last = workers.get(worker)
    if (last === undefined || last.at <= state.at) workers.set(worker, { ...state })
    for (const reports of this.workers.values()) {
      for (const [name, report] of reports) {
        if (report.at < state.at - WORKER_STATE_TTL_MS) reports.delete(name)
      }
    }
  }

  async workerStates(queue: string): Promise<WorkerStateRow[]> {
    const rows = [...(this.workers.get(queue) ?? [])].map(([worker, state]) => ({
      worker,
      ...state,
    }))
    return rows.sort((a, b) => b.at - a.at || compareBytes(a.worker, b.worker))
  }

  async subscribe(_queue: string, _onWake: () => void): Promise<() => Promise<void>> {
    // One process's memory: no other process can enqueue here, so there is nothing to hear.
    return async () => {}
  }

  /**
   * Queues a never-claimed delivery, due at its `enqueuedAt` (ids are unique: a
   * repeat is ignored), with its `traceparent` when well formed, else `null`.
   */
  private add(queue: string, { id, body, messageId, enqueuedAt, traceparent }: NewDelivery): void {
    const { entries } = this.state(queue)
    if (entries.has(id)) return
    entries.set(id, {
      delivery: { id, body, messageId, enqueuedAt, traceparent: storedTraceparent(traceparent) },
      seq: this.seq++,
      attempts: 0,
      dueAt: enqueuedAt,
      lastReason: null,
      lastStatus: null,
      leasedUntil: null,
      formed: false,
      binding: null,
      position: 0,
    })
  }

  /** The claimable deliveries of a recorded request, in body order. */
  private members(queue: string, binding: Binding, now: number): Entry[] {
    return [...this.state(queue).entries.values()]
      .filter((e) => e.binding === binding && claimable(e, now))
      .sort((a, b) => a.position - b.position)
  }

  /** The request's deliveries still in `queue`, found by id, in body order (gone ones are skipped). */
  private held(queue: string, request: ClaimedRequest): Entry[] {
    const { entries } = this.state(queue)
    const held: Entry[] = []
    for (const { id } of request.deliveries) {
      const entry = entries.get(id)
      if (entry !== undefined) held.push(entry)
    }
    return held
  }

  private state(queue: string): QueueState {
    let state = this.queues.get(queue)
    if (state === undefined) {
      state = { entries: new Map(), delivered: 0, retried: 0 }
      this.queues.set(queue, state)
    }
    return state
  }
}

/** Not leased, or its lease has expired. */
function claimable(entry: Entry, now: number): boolean {
  return (entry.leasedUntil ?? 0) <= now
}

/** Leases a formed request's deliveries until `until` and returns it, with its most attempted delivery's history. */
function hand({ members, batch }: Formed, until: number): ClaimedRequest {
  let most = members[0] as Entry
  for (const entry of members) {
    entry.leasedUntil = until
    if (entry.attempts > most.attempts) most = entry
  }
  const deliveries = members.map((entry) => entry.delivery)
  return {
    deliveries,
    batch,
    attempts: most.attempts,
    enqueuedAt: Math.min(...deliveries.map((d) => d.enqueuedAt)),
    lastReason: most.lastReason,
    lastStatus: most.lastStatus,
  }
}

/**
 * Forms the requests of never-claimed deliveries, in claim order: each alone
 * with `batchSize` 1, else cut as core's `batchSizes` cuts them and bound, so
 * every later claim forms the same requests.
 */
function cut(fresh: readonly Entry[], batchSize: number): Formed[] {
  for (const entry of fresh) entry.formed = true
  if (batchSize <= 1) return fresh.map((entry) => ({ members: [entry], batch: false }))
  const requests: Formed[] = []
  let from = 0
  for (const size of batchSizes(
    fresh.map((e) => e.delivery.body),
    { maxEvents: batchSize },
  )) {
    const members = fresh.slice(from, from + size)
    from += size
    const binding: Binding = { id: requestId(members.map((e) => nameOf(e.delivery))) }
    members.forEach((entry, position) => {
      entry.binding = binding
      entry.position = position
    })
    requests.push({ members, batch: true })
  }
  return requests
}

/** What names a delivery in a request id: its messageId, else (delete notifications) its queue id. */
function nameOf(delivery: NewDelivery): string {
  return delivery.messageId ?? delivery.id
}

function firstIndex(request: Formed, order: ReadonlyMap<Entry, number>): number {
  return Math.min(...request.members.map((e) => order.get(e) ?? Number.POSITIVE_INFINITY))
}

function selected(letter: DeadLetter, selection: DeadSelection, queue?: string): boolean {
  if (queue !== undefined && letter.queue !== queue) return false
  if ('reason' in selection) return letter.reason === selection.reason
  return 'all' in selection || selection.ids.includes(letter.id)
}

/**
 * The newest-first order of dead letters (see `DeadCursor`): negative when
 * `a` comes first, that is died later, or at the same moment with the
 * higher id.
 */
function newestFirst(a: DeadCursor, b: DeadCursor): number {
  return b.deadAt - a.deadAt || compareBytes(b.id, a.id)
}

/** Compares strings by their UTF-8 bytes, as SQLite and PostgreSQL's "C" collation do. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
