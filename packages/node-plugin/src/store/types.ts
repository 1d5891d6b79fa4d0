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
  /** The oldest waiting delivery's enqueue time, if any. */
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
 * Never-attempted deliveries a store leased together as one unit (a block) and
 * hands out without a {@link StoredDelivery} per delivery. Deliveries are
 * addressed by index; each one's `attempts` is 0 and it was due when enqueued.
 */
export interface ClaimedBlock {
  readonly deliveries: readonly NewDelivery[]
}

/** Deliveries `from` (inclusive) to `to` (exclusive) of a {@link ClaimedBlock}. */
export interface BlockRange {
  readonly block: ClaimedBlock
  readonly from: number
  readonly to: number
}

/**
 * One request cut from claimed blocks before it is sent: its deliveries, as
 * ranges in body order (a request may run from one block into the next).
 */
export interface BlockRequest {
  readonly ranges: readonly BlockRange[]
  readonly count: number
  /** `true` when it is sent as a JSON array (cut with a batch size above 1), even of one event. */
  readonly batch: boolean
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
   * the store cuts what it leases into requests and binds each delivery to
   * its request (`requestId`, `requestPosition`) before the claim returns, so
   * a request is the same after a restart or a lease takeover, before its
   * first attempt was recorded. Default 1: each delivery is sent alone.
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

/** Which dead letters an operation applies to. */
export type DeadSelection = { readonly ids: readonly string[] } | { readonly all: true }

/**
 * A durable delivery queue shared by any number of workers. Every method is
 * atomic. Deliveries are claimed with a lease: a worker that dies leaves
 * leases that expire, and the deliveries are claimed again (at-least-once).
 * `queue` separates plugin instances that share one database.
 */
export interface QueueStore {
  /** Creates or migrates the schema. Safe to call from several processes at once. */
  open(): Promise<void>
  /** Commits deliveries, all in one transaction; due at once. */
  enqueue(queue: string, deliveries: readonly NewDelivery[]): Promise<void>
  /** Stores deliveries straight into the dead-letter store (e.g. `invalid_payload`). */
  enqueueDead(queue: string, letters: readonly Omit<DeadLetter, 'queue'>[]): Promise<void>
  /**
   * Leases up to `limit` due deliveries (`nextAttemptAt <= now`, no live lease),
   * oldest due first, to `worker` until `now + leaseMs`. With `batchSize`
   * above 1, every delivery returned is bound to a request (see
   * {@link ClaimOptions.batchSize}); the deliveries of a bound request are
   * leased all together or not at all, even past `limit`.
   */
  claim(queue: string, options: ClaimOptions): Promise<StoredDelivery[]>
  /**
   * Optional, with {@link QueueStore.completeRanges}: a claim (same leases, same
   * order of preference, same binding as {@link QueueStore.claim}) that returns
   * never-attempted deliveries of blocks as {@link BlockRequest}s, and
   * everything else as deliveries. A worker sends and acknowledges a block's
   * deliveries by range, with no object or lookup per delivery; every other
   * method still takes their ids.
   */
  claimBlocks?(
    queue: string,
    options: ClaimOptions,
  ): Promise<{ deliveries: StoredDelivery[]; requests: BlockRequest[] }>
  /** Delivered: removes them and counts them. */
  complete(queue: string, ids: readonly string[]): Promise<void>
  /** Delivered, by range of blocks this store returned from {@link QueueStore.claimBlocks}: as {@link QueueStore.complete}. */
  completeRanges?(queue: string, ranges: readonly BlockRange[]): Promise<void>
  /** Failed temporarily: releases the lease and schedules the next attempt. */
  retry(queue: string, ids: readonly string[], update: RetryUpdate): Promise<void>
  /** Failed for good (or expired): moves them to the dead-letter store. */
  kill(queue: string, ids: readonly string[], update: KillUpdate): Promise<void>
  /** Gives leases back without counting an attempt (used on shutdown). */
  release(queue: string, ids: readonly string[]): Promise<void>
  /** Makes every waiting delivery due now (after the destination recovers, so the backlog drains at full speed). */
  wake(queue: string, now: number): Promise<number>
  /**
   * When the next delivery can be claimed, or `null` when the queue holds
   * nothing (waiting or leased). A leased delivery counts as becoming claimable
   * when its lease expires, so a worker that sleeps until then takes over a dead
   * worker's claims; `null` therefore means everything is delivered or dead.
   */
  nextDueAt(queue: string): Promise<number | null>
  stats(queue?: string): Promise<QueueStats>
  listDead(options?: { queue?: string; limit?: number; offset?: number }): Promise<DeadLetter[]>
  /**
   * Moves the selected dead letters that can be sent back into their queue
   * (due now, attempts reset, a fresh retry window, the stored bytes
   * unchanged); letters with no sendable body (`invalid_payload`, see
   * `isReplayable`) stay dead letters and are counted as `unsendable`.
   */
  replayDead(
    selection: DeadSelection,
    options: { now: number; queue?: string },
  ): Promise<ReplayResult>
  /** Deletes dead letters. Returns how many. */
  purgeDead(selection: DeadSelection, options?: { queue?: string }): Promise<number>
  /**
   * Optional: calls `onWake` when deliveries may have become due in `queue`
   * because any process enqueued, released or replayed some (PostgreSQL
   * implements it with `LISTEN/NOTIFY`). A worker with nothing to do sleeps
   * until `nextDueAt()` or a wakeup, whichever comes first, instead of
   * polling. Wakeups are hints: a spurious one is harmless, and a store may
   * call `onWake` after reconnecting because some were missed. Resolves once
   * listening; the returned function stops the wakeups.
   *
   * @example
   * const stop = await store.subscribe?.('default', () => worker.poke())
   * await stop?.()
   */
  subscribe?(queue: string, onWake: () => void): Promise<() => Promise<void>>
  close(): Promise<void>
}
