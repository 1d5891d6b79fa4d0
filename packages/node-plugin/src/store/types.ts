/** The durable queue's contract: what the SQLite and PostgreSQL stores both implement, with the same behaviour. */

import type { ReasonCode } from '@analytics-webhooks/core'

/** An event (or delete notification) to enqueue: its serialised payload and identity. */
export interface NewDelivery {
  /** Unique id of this queued delivery (a UUID). */
  readonly id: string
  /** The exact JSON that is signed and sent (one event; batches are assembled at send time). */
  readonly body: string
  /** The event's `messageId`, when it has one; receivers dedupe on it. */
  readonly messageId: string | null
  /** Milliseconds since the epoch; the retry window counts from here. */
  readonly enqueuedAt: number
  /**
   * The W3C `traceparent` header value (`00-<32 hex trace id>-<16 hex span
   * id>-<2 hex flags>`, 55 characters) of the span that was active when the
   * event was tracked, or `null`/absent when there was none, so the attempts
   * that send it, in whichever process and after any restart, can link to
   * that trace. Stores keep it with the delivery through claims, retries,
   * releases, lease takeovers and restarts, and return it on claimed
   * deliveries as given, or `null`. A value that is not a well-formed
   * `traceparent` (lowercase hex, as the regular expression
   * `/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/` says) is stored as
   * `null` rather than rejected: one event's bad value never fails a commit.
   * Not kept in dead letters (see {@link DeadLetter}), so a replayed delivery
   * has none.
   */
  readonly traceparent?: string | null
}

/** A delivery as stored, while it waits or is being sent. */
export interface StoredDelivery extends NewDelivery {
  readonly queue: string
  /** Attempts made so far. */
  readonly attempts: number
  /** Not sent before this moment (ms since the epoch). */
  readonly nextAttemptAt: number
  readonly lastReason: ReasonCode | null
  readonly lastStatus: number | null
  /**
   * The id of the request (a batch) this delivery is bound to, or `null` when
   * it is sent alone. A claim binds deliveries before their first attempt
   * (see {@link ClaimOptions.batchSize}); a bound request is claimed whole and
   * sent, until it is delivered or dead, with the same deliveries in
   * `requestPosition` order: the same bytes under this id.
   */
  readonly requestId: string | null
  /** This delivery's place in that request (0-based), or `null`. */
  readonly requestPosition: number | null
}

/**
 * A delivery that will not be sent again unless replayed. Its `body` is the
 * exact bytes that were signed and sent, or empty when there were none
 * (`invalid_payload`: the event could not be serialised; `detail` then holds
 * the error and a short preview of the event). Such a letter is never replayed.
 * Its `traceparent` is not kept (a letter never has one, and one given to
 * `enqueueDead` is ignored): a replay is an operator's action, long after
 * the trace the event was tracked in, so its attempts link to none.
 */
export interface DeadLetter extends NewDelivery {
  readonly queue: string
  readonly attempts: number
  readonly deadAt: number
  /** Why: a permanent reason (`http_4xx`, `tls`, `invalid_payload`, …) or `expired`. */
  readonly reason: ReasonCode
  readonly lastStatus: number | null
  /** A short human-readable detail (never a secret). */
  readonly detail: string | null
}

/** Counts for one queue (or all queues), as `stats()` and the CLI show them. */
export interface QueueStats {
  /** Waiting, including those waiting for a retry. */
  readonly queued: number
  /** Claimed by a worker whose lease has not expired. */
  readonly inFlight: number
  /** Waiting after at least one failed attempt. */
  readonly retrying: number
  readonly delivered: number
  /** Failed attempts that were scheduled again. */
  readonly retried: number
  readonly dead: number
  readonly deadByReason: Readonly<Partial<Record<ReasonCode, number>>>
  /** The oldest queued delivery's enqueue time (waiting or in flight), if any. */
  readonly oldestEnqueuedAt: number | null
}

/** What a failed attempt changes on a delivery that will be tried again. */
export interface RetryUpdate {
  /** When to try next (ms since the epoch). */
  readonly at: number
  /**
   * The failed request's id when it was sent as a batch (a JSON array, even
   * of one event): its deliveries are bound to it, in the order `retry` was
   * given their ids, and only ever sent again together, as that batch. `null`
   * or absent for one event sent alone (not in an array).
   */
  readonly requestId?: string | null
  readonly attempts: number
  readonly reason: ReasonCode
  readonly status: number | null
}

/** What a delivery that is given up records in the dead-letter store. */
export interface KillUpdate {
  readonly now: number
  readonly attempts: number
  readonly reason: ReasonCode
  readonly status: number | null
  /** A short human-readable detail (never a secret). */
  readonly detail: string | null
}

/**
 * One request a claim formed: deliveries leased together that go out as one
 * body, on the first attempt and on every retry, until they are delivered or
 * dead. The store forms it before the claim returns (see
 * {@link ClaimOptions.batchSize}); the worker never re-forms it, except that a
 * batch answered 413 is sent as two halves, which it passes back to the store
 * as requests of their own (the same delivery objects, fewer of them).
 */
export interface ClaimedRequest {
  /**
   * Its deliveries, in body order: their bodies are the events of the request
   * body. Each has its `traceparent` as enqueued, or `null` when it had none.
   */
  readonly deliveries: readonly NewDelivery[]
  /** `true`: sent as a JSON array (even of one event); `false`: its one event, as is. */
  readonly batch: boolean
  /** Attempts made so far. */
  readonly attempts: number
  /** When its oldest delivery was enqueued: its retry window counts from here. */
  readonly enqueuedAt: number
  /** The last failure's reason and HTTP status, if it failed before. */
  readonly lastReason: ReasonCode | null
  readonly lastStatus: number | null
}

/** What one claim asks for. */
export interface ClaimOptions {
  /** At most this many deliveries, except that a bound request is leased whole. */
  readonly limit: number
  readonly now: number
  /** The lease lasts until `now + leaseMs`. */
  readonly leaseMs: number
  /** Who holds the lease. */
  readonly worker: string
  /**
   * The most deliveries a request carries (the `batchSize` setting). Above 1,
   * the store cuts deliveries never claimed before into batches as core's
   * `batchSizes` does (in claim order, across enqueue calls) and records each
   * delivery's request and place before the claim returns, so the request is
   * the same after a restart or a lease takeover, even one whose first
   * attempt was sent but never recorded. A request formed earlier keeps its
   * shape whatever this says. Default 1: each delivery is sent alone.
   */
  readonly batchSize?: number
}

/** What {@link QueueStore.replayDead} did. */
export interface ReplayResult {
  /** Letters moved back into their queue. */
  readonly replayed: number
  /** Selected letters left dead because they have no sendable body. */
  readonly unsendable: number
}

/**
 * Which dead letters an operation applies to: these ids, all of them, or all
 * of one reason; always only those of `options.queue` when it is given.
 */
export type DeadSelection =
  | { readonly ids: readonly string[] }
  | { readonly all: true }
  | { readonly reason: ReasonCode }

/**
 * Where a page of dead letters ends: the `deadAt` and `id` of its last
 * letter. Dead letters are ordered newest first by `deadAt`, then by `id`
 * (compared byte for byte) from the highest down, so a cursor names one place
 * in that order even when many letters died in the same millisecond, and it
 * stays valid while letters are added, replayed or purged.
 */
export type DeadCursor = { readonly deadAt: number; readonly id: string }

/**
 * What {@link QueueStore.listDead} returns. Without `before`: in the order the
 * letters died (newest last), `offset` skipped, as the CLI pages them. With
 * `before`: only letters that come after the cursor in the newest-first order
 * of {@link DeadCursor}, newest first; the next page's cursor is the last
 * letter's `{ deadAt, id }`, and `{ deadAt: Number.MAX_SAFE_INTEGER, id: '' }`
 * starts at the newest letter. Filters apply in both orders. With `queue`
 * given, each page is an index range scan however many letters there are
 * (in SQLite and PostgreSQL); without it, one per queue that has letters.
 */
export interface DeadListOptions {
  /** Only this queue's letters (default: every queue's). */
  readonly queue?: string
  /** At most this many letters (none given: all of them; 100 from the SQLite store). */
  readonly limit?: number
  /** Skip this many first. */
  readonly offset?: number
  /** Only letters with this reason. */
  readonly reason?: ReasonCode
  /** Only letters whose `messageId` is exactly this. */
  readonly messageId?: string
  /** Only letters that died before this cursor, newest first (see above). */
  readonly before?: DeadCursor
}

/**
 * What one delivery worker is doing, as it last reported it: `sending`,
 * `backing_off` after failures until `until`, `paused` because the
 * destination asked to wait (`Retry-After`) until `until`, `rate_limited`
 * (held back by `maxRequestsPerSecond`), or `idle`. `until` is `null` when
 * the state has no end known in advance; `at` is when it was reported (ms
 * since the epoch, the worker's clock).
 */
export type WorkerState = {
  readonly state: 'sending' | 'backing_off' | 'paused' | 'rate_limited' | 'idle'
  readonly until: number | null
  readonly at: number
}

/** One worker's last {@link WorkerState} report, with the worker's name (the `worker` it claims as). */
export type WorkerStateRow = WorkerState & { readonly worker: string }

/**
 * A durable delivery queue shared by any number of workers: the one interface
 * the delivery worker uses, whatever the store (SQLite, PostgreSQL, or your
 * own; every method is required but `reportState` and `workerStates`). Every
 * method is atomic. Deliveries are claimed with a lease: a worker that dies
 * leaves leases that expire, and its requests are claimed again, formed as
 * they were (at-least-once). `queue`
 * separates plugin instances that share one database. Acknowledgements
 * (`complete`, `retry`, `kill`, `release`) take requests: ones this store's
 * `claim` returned, or halves the worker made of one; a store finds their
 * deliveries by `id` and acts on those still queued (an id no longer queued
 * is ignored). A store may drop the outcome of a worker whose lease another
 * worker has since taken over: that worker sends the request again.
 */
export interface QueueStore {
  /** Creates or migrates the schema. Safe to call from several processes at once. */
  open(): Promise<void>
  /** Commits deliveries, all in one transaction; due at once. */
  enqueue(queue: string, deliveries: readonly NewDelivery[]): Promise<void>
  /** Stores deliveries straight into the dead-letter store (e.g. `invalid_payload`). */
  enqueueDead(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void>
  /**
   * Leases due requests, oldest due first, to `worker` until `now + leaseMs`:
   * up to `limit` deliveries, except that a request already formed is leased
   * whole. Deliveries never claimed before are cut into requests of up to
   * `batchSize` and the cut is recorded in the same transaction, so a worker
   * that takes the lease over after a crash, or this one after a release or
   * a failure, forms the same requests (see {@link ClaimOptions.batchSize}).
   */
  claim(queue: string, options: ClaimOptions): Promise<ClaimedRequest[]>
  /** Delivered: removes the requests' deliveries and counts them. */
  complete(queue: string, requests: readonly ClaimedRequest[]): Promise<void>
  /**
   * Failed temporarily: releases the lease and schedules the next attempt of
   * all of the request's deliveries together; with `update.requestId`, binds
   * them to that id in body order, so they are only ever claimed again as
   * this request.
   */
  retry(queue: string, request: ClaimedRequest, update: RetryUpdate): Promise<void>
  /** Failed for good (or expired): moves the requests' deliveries to the dead-letter store, all with this update. */
  kill(queue: string, requests: readonly ClaimedRequest[], update: KillUpdate): Promise<void>
  /** Gives leases back without counting an attempt (used on shutdown and while the destination is down). */
  release(queue: string, requests: readonly ClaimedRequest[]): Promise<void>
  /** Makes every waiting delivery due now (after the destination recovers, so the backlog drains at full speed). */
  wake(queue: string, now: number): Promise<number>
  /**
   * When the next delivery can be claimed, or `null` when the queue holds
   * nothing (waiting or leased). A leased delivery counts as becoming claimable
   * when its lease expires, so a worker that sleeps until then takes over a dead
   * worker's claims; `null` therefore means everything is delivered or dead.
   */
  nextDueAt(queue: string): Promise<number | null>
  /**
   * Counts for one queue, or all. `dead` and `deadByReason` come from counts
   * each store keeps per queue and reason in the same transaction as every
   * change to its dead letters, so they cost the same whatever the backlog.
   */
  stats(queue?: string): Promise<QueueStats>
  /**
   * Dead letters, filtered and paged (see {@link DeadListOptions} for the two
   * orders).
   *
   * @example
   * const newest = await store.listDead({ queue: 'default', limit: 50, before: { deadAt: Number.MAX_SAFE_INTEGER, id: '' } })
   * const last = newest.at(-1)
   * const next = last ? await store.listDead({ queue: 'default', limit: 50, before: { deadAt: last.deadAt, id: last.id } }) : []
   */
  listDead(options?: DeadListOptions): Promise<DeadLetter[]>
  /**
   * Moves the selected dead letters (by ids, all, or all of a reason) that
   * can be sent back into their queue (due now, attempts reset, a fresh retry
   * window, the stored bytes unchanged); letters with no sendable body
   * (`invalid_payload`, see `isReplayable`) stay dead letters and are counted
   * as `unsendable`.
   *
   * @example
   * await store.replayDead({ reason: 'http_5xx' }, { now: Date.now(), queue: 'default' })
   */
  replayDead(
    selection: DeadSelection,
    options: { now: number; queue?: string },
  ): Promise<ReplayResult>
  /**
   * Deletes the selected dead letters (by ids, all, or all of a reason). Returns how many.
   *
   * @example
   * await store.purgeDead({ reason: 'invalid_payload' }, { queue: 'default' })
   */
  purgeDead(selection: DeadSelection, options?: { queue?: string }): Promise<number>
  /**
   * Calls `onWake` when deliveries may have become due in `queue` because
   * another process enqueued, released or replayed some (PostgreSQL does it
   * with `LISTEN/NOTIFY`; a store with no way to hear other processes, such as
   * SQLite, never calls it and returns at once). A worker with nothing to do
   * sleeps until `nextDueAt()`, a wakeup or its poll interval, whichever comes
   * first. Wakeups are hints: a spurious one is harmless, and a store may call
   * `onWake` after reconnecting because some were missed. Resolves once
   * listening; the returned function stops the wakeups.
   *
   * @example
   * const stop = await store.subscribe('default', () => worker.enqueued())
   * await stop()
   */
  subscribe(queue: string, onWake: () => void): Promise<() => Promise<void>>
  /**
   * Records what `worker` is doing on `queue`, replacing its previous report
   * unless that one is newer (`at`), so a dashboard in another process can
   * show it. Reports older than an hour may be deleted meanwhile. Optional: a
   * store without it still works (custom stores written before it keep
   * compiling), and the plugin then has no worker states to show.
   *
   * @example
   * await store.reportState?.('default', 'host-1:4242', { state: 'backing_off', until: Date.now() + 5_000, at: Date.now() })
   */
  reportState?(queue: string, worker: string, state: WorkerState): Promise<void>
  /**
   * Every worker's last report for `queue`, newest first (ties by worker
   * name). Optional, as {@link QueueStore.reportState}.
   *
   * @example
   * for (const w of (await store.workerStates?.('default')) ?? []) console.log(w.worker, w.state, w.until)
   */
  workerStates?(queue: string): Promise<WorkerStateRow[]>
  close(): Promise<void>
}
