/** Where the delivery worker's requests come from: claims from the store, buffered, started early when claims are slow. */

import type { RetrySchedule, WebhookSettings } from '@analytics-webhooks/core'
import { ClaimBuffer, type Unit } from './claims.js'
import { storeFailure } from './errors.js'
import type { PluginEvents } from './events.js'
import type { ClaimedRequest, QueueStore } from './store/types.js'

/**
 * A claim that took this long stalls sending enough to start the next one early (measured: a
 * PostgreSQL claim of 256 deliveries takes a few ms over six round trips; SQLite's well under one,
 * and claiming early there only raised bench 4's peak RSS by ~10 MB).
 */
const SLOW_CLAIM_MS = 1

/** What a {@link RequestSupply} needs: the store and queue, and how to claim from it. */
export interface SupplyConfig {
  readonly store: QueueStore
  /** The store in words (`the SQLite queue at /path`), for the errors it causes. */
  readonly label: string
  readonly queue: string
  readonly settings: WebhookSettings
  /** How long a claim is held before another worker may take it over. */
  readonly leaseMs: number
  /** How many deliveries one claim takes. */
  readonly claimBatch: number
  readonly workerId: string
  readonly now: () => number
  /** Decides which claimed requests are past their retry window. */
  readonly schedule: RetrySchedule
  readonly events: PluginEvents
}

/**
 * The delivery worker's supply of requests: what it claimed from the store
 * and has not sent yet. It claims up to `claimBatch` deliveries at a time,
 * hands requests out one by one, gives back what is not sent, and passes
 * requests whose retry window closed before they were sent to `onExpired`
 * (the worker dead-letters them).
 *
 * @example
 * const supply = new RequestSupply(config, (expired) => worker.expire(expired))
 * const unit = await supply.take(false)
 * await supply.release() // on shutdown
 */
export class RequestSupply {
  private readonly config: SupplyConfig
  private readonly onExpired: (expired: readonly ClaimedRequest[]) => Promise<void>
  private readonly buffer = new ClaimBuffer()
  /** A claim started in the background while the buffer still had requests to send (see `take`). */
  private claiming: Promise<void> | undefined
  /** How long the last claim took: claims this slow start early (see `take`). */
  private lastClaimMs = 0

  constructor(
    config: SupplyConfig,
    onExpired: (expired: readonly ClaimedRequest[]) => Promise<void>,
  ) {
    this.config = config
    this.onExpired = onExpired
  }

  /**
   * The next request to send, claiming more when the buffer runs low; `undefined` when nothing is due.
   * When claims take {@link SLOW_CLAIM_MS} or more (a store across the network: PostgreSQL's take
   * several round trips), the next claim (of a whole `claimBatch`, so the buffer holds at most 1.25
   * times that) starts in the background below a quarter of `claimBatch`, while what is left is
   * sent, so sending does not stop for it. Fast claims (SQLite's) are not worth the memory.
   */
  async take(probe: boolean): Promise<Unit | undefined> {
    const batchSize = this.config.settings.batchSize
    if (
      !probe &&
      this.lastClaimMs >= SLOW_CLAIM_MS &&
      this.buffer.size >= batchSize &&
      this.buffer.size < this.config.claimBatch / 4 &&
      this.claiming === undefined
    ) {
      // A whole claimBatch, not what is missing: a claim smaller than a block of enqueued
      // deliveries would split the block into rows (see QueueStore.claim).
      this.claiming = this.refill(this.config.claimBatch)
        .catch((error: unknown) =>
          this.config.events.emit('error', storeFailure(this.config.label, error)),
        )
        .finally(() => {
          this.claiming = undefined
        })
    }
    if (this.buffer.size < batchSize) {
      await this.claiming
      if (this.buffer.size < batchSize) await this.refill()
      if (probe && this.buffer.size === 0) {
        // Down destinations do not wait on each delivery's own clock: the probe takes the oldest waiting one.
        if ((await this.config.store.wake(this.config.queue, this.config.now())) > 0)
          await this.refill()
      }
    }
    return this.buffer.take()
  }

  /**
   * Claims more. A request claimed after its retry window closed (the window
   * of its oldest delivery) is dead-lettered `expired` instead of sent,
   * attempted or not. When a claim brought only such requests, the next claim
   * follows at once: a backlog whose window closed while the destination was
   * down ends at the next probe, not one claim per probe.
   */
  private async refill(want?: number): Promise<void> {
    const { store, queue, now, leaseMs, workerId, schedule, settings } = this.config
    for (;;) {
      const limit = want ?? this.config.claimBatch - this.buffer.size
      if (limit <= 0) return
      const started = performance.now()
      const requests = await store.claim(queue, {
        limit,
        now: now(),
        leaseMs,
        worker: workerId,
        batchSize: settings.batchSize,
      })
      this.lastClaimMs = performance.now() - started
      const at = now()
      const kept: ClaimedRequest[] = []
      const expired: ClaimedRequest[] = []
      for (const request of requests) {
        if (at < schedule.deadline(request.enqueuedAt)) kept.push(request)
        else expired.push(request)
      }
      await this.onExpired(expired)
      this.buffer.add(kept)
      if (expired.length === 0 || kept.length > 0) return
    }
  }

  /** Puts back a request taken but not sent (the gate changed while it was being claimed). */
  giveBack(request: ClaimedRequest): void {
    this.buffer.add([request])
  }

  /** Gives every request not sent back to the store, including what a background claim brings. */
  async release(): Promise<void> {
    await this.claiming
    if (this.buffer.size === 0) return
    await this.config.store.release(this.config.queue, this.buffer.clear())
  }
}
