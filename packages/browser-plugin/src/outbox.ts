/** Drains the persisted queue: one tab at a time, paused while offline, with core's retry schedule and destination backoff. */

import { DestinationBackoff } from '@analytics-webhooks/core/backoff'
import { assembleBatch, singleBody, type WebhookBody } from '@analytics-webhooks/core/body'
import type { Outcome } from '@analytics-webhooks/core/outcome'
import { RetrySchedule } from '@analytics-webhooks/core/schedule'
import type { WebhookSettings } from '@analytics-webhooks/core/settings'
import type { Emit } from './events.js'
import type { PersistedQueue, QueueEntry } from './queue.js'
import type { TabLock } from './tab-lock.js'

/** How long a tab waits before trying again when another tab holds the lock. */
export const LOCK_RETRY_MS = 1_000
/** How long a tab waits before trying again after an unexpected failure (storage or WebCrypto refusing). */
export const FAILURE_RETRY_MS = 30_000

/** What an outbox works with. */
export interface OutboxParts {
  readonly settings: WebhookSettings
  readonly queue: PersistedQueue
  readonly lock: TabLock
  readonly send: (body: WebhookBody, messageId: string) => Promise<Outcome>
  readonly emit: Emit
}

/** Drains the queue; made by {@link createOutbox}. */
export interface Outbox {
  /** Sends everything due now; resolves when this tab is done (at once when another tab is draining). */
  drain(): Promise<void>
  /** Cancels the timer that would drain again later. */
  stop(): void
}

/**
 * Sends what is due in the persisted queue, oldest first, and reports each
 * event's fate. Only the tab holding the lock sends, and it re-reads the queue
 * as it goes, so events other tabs queued are sent once, by it. While the
 * browser is offline (`navigator.onLine === false`) nothing is sent; call
 * `drain` again on `online`. A temporary failure reschedules the event with
 * core's `RetrySchedule` until its retry window closes; when every URL keeps
 * failing, core's `DestinationBackoff` stops the drain and probes instead of
 * retrying each event.
 *
 * @example
 * const outbox = createOutbox({ settings, queue, lock, send, emit })
 * addEventListener('online', () => outbox.drain())
 * await outbox.drain()
 */
export function createOutbox({ settings, queue, lock, send, emit }: OutboxParts): Outbox {
  const schedule = new RetrySchedule({ windowMs: settings.retryWindowMs })
  const backoff = new DestinationBackoff()
  const { batchSize } = settings
  let running: Promise<void> | undefined
  let again = false
  let timer: ReturnType<typeof setTimeout> | undefined

  const stop = () => clearTimeout(timer)
  const wake = (at: number) => {
    stop()
    if (at < Infinity) timer = setTimeout(drain, Math.max(0, at - Date.now()))
  }

  const settle = (batch: QueueEntry[], outcome: Outcome) => {
    const now = Date.now()
    const { verdict, reason, status, retryAfterMs } = outcome
    backoff.record(verdict, now)
    for (const entry of batch) {
      const attempts = entry.attempts + 1
      if (verdict === 'delivered') {
        queue.remove(entry.id)
        emit('delivered', { ...entry, attempts, status })
        continue
      }
      const next =
        verdict === 'retry'
          ? schedule.next({ attempts, enqueuedAt: entry.enqueuedAt, now, retryAfterMs })
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

  const work = async (): Promise<void> => {
    for (;;) {
      if (!online()) return // resumed by the 'online' event
      const now = Date.now()
      const due: QueueEntry[] = []
      let next = Infinity
      for (const id of queue.ids()) {
        const entry = queue.get(id)
        if (!entry) continue
        if (now >= schedule.deadline(entry.enqueuedAt)) {
          queue.remove(id)
          emit('dead', { ...entry, reason: 'expired', status: undefined })
        } else if (entry.nextAt <= now) due.push(entry)
        else next = Math.min(next, entry.nextAt)
      }
      if (!due[0]) return wake(next)
      while (due[0]) {
        if (!online()) return
        const gate = backoff.gate(Date.now())
        if (gate.state === 'wait') return wake(gate.until)
        if (gate.state === 'probe') backoff.probeStarted()
        // Another tab may have dropped an event since the scan: read each again.
        const batch: QueueEntry[] = []
        while (due[0] && batch.length < batchSize) {
          const entry = queue.get((due.shift() as QueueEntry).id)
          if (entry) batch.push(entry)
        }
        const first = batch[0]
        if (!first) continue
        let body: WebhookBody
        if (batchSize === 1) body = singleBody(first.body)
        else {
          const packed = assembleBatch(
            batch.map((e) => e.body),
            { maxEvents: batchSize },
          )
          due.unshift(...batch.splice(packed.taken))
          body = packed.body
        }
        // The signature id (webhook-id) stays the same across retries: the messageId, else the queue id.
        settle(batch, await send(body, first.messageId || first.id))
      }
    }
  }

  const drain = (): Promise<void> => {
    if (running) {
      again = true
      return running
    }
    stop()
    running = lock
      .run(work)
      .then(
        (held) => {
          if (!held) wake(Date.now() + LOCK_RETRY_MS)
        },
        (error: unknown) => {
          // The events stay queued; never let a page's storage or crypto failure escape as a rejection.
          console.error(error)
          wake(Date.now() + FAILURE_RETRY_MS)
        },
      )
      .finally(() => {
        running = undefined
        if (again) {
          again = false
          void drain()
        }
      })
    return running
  }

  return { drain, stop }
}

function online(): boolean {
  return globalThis.navigator?.onLine !== false
}
