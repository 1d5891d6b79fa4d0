/** Drains the persisted queue: one tab at a time, paused while offline, with core's retry schedule and destination backoff. */

import {
  assembleBatch,
  DestinationBackoff,
  type Outcome,
  RetrySchedule,
  singleBody,
  type WebhookBody,
  type WebhookSettings,
} from '@analytics-webhooks/core'
import type { Emit } from './events.js'
import type { PersistedQueue, QueueEntry } from './queue.js'
import type { TabLock } from './tab-lock.js'

/** How long a tab waits before trying again when another tab holds the lock. */
export const LOCK_RETRY_MS = 1_000
/** How long a tab waits before trying again after an unexpected failure (storage or WebCrypto refusing). */
export const FAILURE_RETRY_MS = 30_000

/** What an {@link Outbox} works with. */
export interface OutboxParts {
  readonly settings: WebhookSettings
  readonly queue: PersistedQueue
  readonly lock: TabLock
  readonly send: (body: WebhookBody, messageId: string) => Promise<Outcome>
  readonly emit: Emit
  /** Tuning for tests; defaults follow the settings. */
  readonly schedule?: RetrySchedule
  readonly backoff?: DestinationBackoff
}

/**
 * Sends what is due in the persisted queue, oldest first, and reports each
 * event's fate. Only the tab holding the lock sends, and it re-reads the queue
 * as it goes, so events other tabs queued are sent once, by it. While the
 * browser is offline (`navigator.onLine === false`) nothing is sent; call
 * {@link Outbox.drain} again on `online`. A temporary failure reschedules the
 * event with core's {@link RetrySchedule} until its retry window closes; when
 * every URL keeps failing, core's {@link DestinationBackoff} stops the drain
 * and probes instead of retrying each event.
 *
 * @example
 * const outbox = new Outbox({ settings, queue, lock, send, emit })
 * addEventListener('online', () => outbox.drain())
 * await outbox.drain()
 */
export class Outbox {
  private readonly parts: OutboxParts
  private readonly schedule: RetrySchedule
  private readonly backoff: DestinationBackoff
  private running: Promise<void> | undefined
  private again = false
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(parts: OutboxParts) {
    this.parts = parts
    this.schedule = parts.schedule ?? new RetrySchedule({ windowMs: parts.settings.retryWindowMs })
    this.backoff = parts.backoff ?? new DestinationBackoff()
  }

  /** Sends everything due now; resolves when this tab is done (at once when another tab is draining). */
  drain(): Promise<void> {
    if (this.running) {
      this.again = true
      return this.running
    }
    this.stop()
    const run = this.parts.lock
      .run(() => this.work())
      .then(
        (held) => {
          if (!held) this.wake(Date.now() + LOCK_RETRY_MS)
        },
        (error: unknown) => {
          // The events stay queued; never let a page's storage or crypto failure escape as a rejection.
          console.error(error)
          this.wake(Date.now() + FAILURE_RETRY_MS)
        },
      )
      .finally(() => {
        this.running = undefined
        if (this.again) {
          this.again = false
          void this.drain()
        }
      })
    this.running = run
    return run
  }

  /** Cancels the timer that would drain again later. */
  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private wake(at: number): void {
    this.stop()
    if (at < Infinity)
      this.timer = setTimeout(() => void this.drain(), Math.max(0, at - Date.now()))
  }

  private async work(): Promise<void> {
    const { queue, settings, emit } = this.parts
    for (;;) {
      if (!online()) return // resumed by the 'online' event
      const now = Date.now()
      const due: QueueEntry[] = []
      let next = Infinity
      for (const id of queue.ids()) {
        const entry = queue.get(id)
        if (!entry) continue
        if (now >= this.schedule.deadline(entry.enqueuedAt)) {
          queue.remove(id)
          emit('dead', { ...entry, reason: 'expired', status: undefined })
        } else if (entry.nextAt <= now) due.push(entry)
        else next = Math.min(next, entry.nextAt)
      }
      if (due.length === 0) return this.wake(next)
      while (due.length > 0) {
        if (!online()) return
        const gate = this.backoff.gate(Date.now())
        if (gate.state === 'wait') return this.wake(gate.until)
        if (gate.state === 'probe') this.backoff.probeStarted()
        // Another tab may have dropped an event since the scan: read each again.
        const batch: QueueEntry[] = []
        while (due.length > 0 && batch.length < settings.batchSize) {
          const entry = queue.get((due.shift() as QueueEntry).id)
          if (entry) batch.push(entry)
        }
        if (batch.length === 0) continue
        let body: WebhookBody
        if (settings.batchSize === 1) body = singleBody((batch[0] as QueueEntry).body)
        else {
          const { body: packed, taken } = assembleBatch(
            batch.map((e) => e.body),
            { maxEvents: settings.batchSize },
          )
          due.unshift(...batch.splice(taken))
          body = packed
        }
        const first = batch[0] as QueueEntry
        // The signature id (webhook-id) stays the same across retries: the messageId, else the queue id.
        const outcome = await this.parts.send(body, first.messageId || first.id)
        this.settle(batch, outcome)
      }
    }
  }

  private settle(batch: QueueEntry[], outcome: Outcome): void {
    const { queue, emit } = this.parts
    const now = Date.now()
    this.backoff.record(outcome.verdict, now)
    const { reason, status } = outcome
    for (const entry of batch) {
      const attempts = entry.attempts + 1
      if (outcome.verdict === 'delivered') {
        queue.remove(entry.id)
        emit('delivered', { ...entry, attempts, status })
        continue
      }
      const next =
        outcome.verdict === 'retry'
          ? this.schedule.next({
              attempts,
              enqueuedAt: entry.enqueuedAt,
              now,
              retryAfterMs: outcome.retryAfterMs,
            })
          : undefined
      if (next?.verdict === 'retry') {
        queue.update({ ...entry, attempts, nextAt: next.at })
        emit('retry', { ...entry, attempts, reason, status, retryAt: next.at })
      } else {
        queue.remove(entry.id)
        emit('dead', { ...entry, attempts, reason: next ? 'expired' : reason, status })
      }
    }
  }
}

function online(): boolean {
  return globalThis.navigator?.onLine !== false
}
