/** Drains the persisted queue: one tab at a time, paused while offline, with core's retry schedule and destination backoff. */

import { DestinationBackoff } from '@analytics-webhooks/core/backoff'
import type { WebhookBody } from '@analytics-webhooks/core/body'
import type { Outcome } from '@analytics-webhooks/core/outcome'
import { RetrySchedule } from '@analytics-webhooks/core/schedule'
import type { WebhookSettings } from '@analytics-webhooks/core/settings'
import type { Emit, QueuedEvent } from './events.js'
import type { Pacer } from './pacing.js'
import { eventsOf, type PersistedQueue, type QueueEntry, queueId } from './queue.js'
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
  /** Sends one request; `id` is its `webhook-id`. */
  readonly send: (body: WebhookBody, id: string) => Promise<Outcome>
  readonly emit: Emit
  /** `maxRequestsPerSecond`, when set: requests (one per URL) are paced to it. */
  readonly rate?: number | undefined
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
 * request's fate (core's `delivered`, `retry` and `dead`, one per request).
 * Only the tab holding the lock sends, and it re-reads the queue as it goes,
 * so events other tabs queued are sent once, by it. While the
 * browser is offline (`navigator.onLine === false`) nothing is sent; call
 * `drain` again on `online`.
 *
 * Events never sent are packed into a request (up to `batchSize`), which is
 * stored before it is first sent. From then on it is sent as it is, under
 * core's `requestId` of its events, until delivered or dead: the same bytes on
 * every retry, the probe and after a reload, never merged, never split. A
 * temporary failure reschedules the request (one wait for all its events) with
 * core's `RetrySchedule` until its retry window closes; when every URL keeps
 * failing, core's `DestinationBackoff` stops the drain and probes instead of
 * retrying each request; a `Retry-After` stops it until then (at most 1 h),
 * the probe included. The one exception is 413: a batch is split into two
 * halves, each a new request sent at once; one event is dead (`http_413`).
 *
 * @example
 * const outbox = createOutbox({ settings, queue, lock, send, emit })
 * addEventListener('online', () => outbox.drain())
 * await outbox.drain()
 */
export function createOutbox({ settings, queue, lock, send, emit, rate }: OutboxParts): Outbox {
  const schedule = new RetrySchedule({ windowMs: settings.retryWindowMs })
  const backoff = new DestinationBackoff()
  let pace: Pacer | undefined
  const { batchSize } = settings
  let running: Promise<void> | undefined
  let again = false
  let timer: ReturnType<typeof setTimeout> | undefined

  const stop = () => clearTimeout(timer)
  const wake = (at: number) => {
    stop()
    if (at < Infinity) timer = setTimeout(drain, Math.max(0, at - Date.now()))
  }

  /** Records what became of a request and reports it, once for all its events; `halves` are what a 413 split it into. */
  const settle = (
    request: QueueEntry,
    events: readonly QueuedEvent[],
    ids: string[],
    { verdict, reason, status, retryAfterMs }: Outcome,
    halves: readonly QueueEntry[],
  ) => {
    const now = Date.now()
    const attempts = request.attempts + 1
    // A Retry-After pauses the whole outbox until then, not only this request.
    backoff.record(verdict, now, retryAfterMs)
    const next =
      verdict === 'retry'
        ? schedule.next({ attempts, enqueuedAt: request.enqueuedAt, now, retryAfterMs })
        : undefined
    // One wait for the whole request; the halves of a split one are sent at once.
    const at = next?.verdict === 'retry' ? next.at : halves[0] ? now : undefined
    if (next?.verdict === 'retry') queue.update({ ...request, attempts, nextAt: next.at })
    else queue.remove(request.id)
    if (verdict === 'delivered') {
      const messageIds = events.map((event) => event.messageId || null)
      emit('delivered', { ids, messageIds, attempts, status })
    } else if (at !== undefined) emit('retry', { ids, reason, status, attempts, at })
    else {
      const { body } = request
      emit('dead', { ids, reason: next ? 'expired' : reason, status, attempts, detail: null, body })
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
          const { attempts, body } = entry
          const ids = idsOf(eventsOf(entry))
          emit('dead', { ids, reason: 'expired', status: undefined, attempts, detail: null, body })
        } else if (entry.nextAt <= now) due.push(entry)
        else next = Math.min(next, entry.nextAt)
      }
      if (!due[0]) return wake(next)
      while (due[0]) {
        // Pacing is loaded only by a page that sets maxRequestsPerSecond. A request that then does
        // not go (paused, or gone) still took its turn: slower, never faster, than the rate.
        if (rate) {
          pace ??= (await import('./pacing.js')).pacer(rate)
          await pace.turn(settings.webhooks.length)
        }
        if (!online()) return
        const gate = backoff.gate(Date.now())
        if (gate.state === 'wait') return wake(gate.until)
        // Another tab may have dropped an event since the scan: read each again.
        let request = queue.get((due.shift() as QueueEntry).id)
        if (!request) continue
        // Batching code is loaded only by a page that batches (or finds a batch stored by one).
        const batching =
          batchSize > 1 || request.body[0] === '[' ? await import('./batch.js') : undefined
        if (!request.sent) {
          // Never sent: the request is formed and stored before its first send, and kept as it is.
          request = batching
            ? batching.pack(request, due, queue, batchSize)
            : queue.put({ ...request, sent: 1 })
        }
        const events = eventsOf(request)
        const ids = idsOf(events)
        const body: WebhookBody = {
          json: request.body,
          firstEventJson: (events[0] as QueuedEvent).body,
          count: events.length,
          isBatch: request.body[0] === '[',
        }
        // Marked this late so that loading or storing above, should it throw, never leaves a probe
        // that is not in flight.
        if (gate.state === 'probe') backoff.probeStarted()
        // The webhook-id: core's requestId of the events (one event: its messageId, else its queue id).
        let outcome: Outcome
        try {
          outcome = await send(body, batching ? batching.requestId(ids) : (ids[0] as string))
        } catch (error) {
          // Signing refused (WebCrypto) or could not load: a probe that never went out counts as a
          // failed one, so the next is scheduled; unanswered, it would hold the destination shut.
          if (gate.state === 'probe') backoff.record('retry', Date.now())
          throw error
        }
        pace?.record(outcome)
        const now = Date.now()
        // 413: this body will never be taken; its halves are new requests (new keys), sent at once.
        // They are stored before the batch goes, so a write that storage refuses leaves it whole.
        const halves =
          batching && events[1] && outcome.reason === 'http_413'
            ? batching.split(events).map((half) =>
                queue.put({
                  ...request,
                  ...half,
                  id: queueId(now),
                  attempts: request.attempts + 1,
                  nextAt: now,
                }),
              )
            : []
        settle(request, events, ids, outcome, halves)
        due.unshift(...halves)
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

/** Each event's id in its request, the ids its `webhook-id` is formed from: its messageId, else its queue id. */
function idsOf(events: readonly QueuedEvent[]): string[] {
  return events.map((event) => event.messageId || event.id)
}

function online(): boolean {
  return globalThis.navigator?.onLine !== false
}
