/** The webhook destination behind the plugin object: commits events to its queue, runs the worker that delivers them, and closes both. */

import { randomUUID } from 'node:crypto'
import {
  asError,
  DestinationBackoff,
  encodeEvent,
  RequestRate,
  RetrySchedule,
  type SegmentEvent,
  sendsEvent,
  serializePayload,
  toDeletePayload,
  transformBody,
  type WebhookSettings,
} from '@analytics-webhooks/core'
import type { Context } from '@segment/analytics-node'
import type { Dispatcher } from 'undici'
import { CommitGroup } from './commit.js'
import { DeliveryWorker } from './delivery.js'
import { WebhookPluginError } from './errors.js'
import { PluginEvents } from './events.js'
import { createDispatcher } from './http.js'
import { deliveryId } from './id.js'
import { invalidEventDetail } from './invalid-event.js'
import type { DestinationOptions } from './options.js'
import { resolveStore, type StoreChoice } from './store/index.js'
import type { NewDelivery, QueueStats, QueueStore } from './store/types.js'
import { loadTelemetry, TelemetryDecision } from './telemetry/index.js'

/** Queues in use in this process, by storage, so two plugins cannot consume one queue by accident. */
const queuesInUse = new Map<string | object, Set<string>>()

/** A queue's counts, and what this plugin chose not to send. */
export interface PluginStats extends QueueStats {
  /**
   * Events this plugin skipped since it was created: left out by the `events`
   * setting or skipped by `transform` (returned `null`). They were neither
   * stored nor sent. Counted in this process only (each process has its own
   * settings), so the CLI's stats, read from the store, do not show it.
   */
  readonly filtered: number
}

/** What `drain()` found. */
export interface DrainResult {
  /** `true` when nothing is left waiting or in flight: every delivery is delivered or dead. */
  readonly drained: boolean
  /** Deliveries still waiting or in flight. */
  readonly remaining: number
}

/**
 * One plugin's state and behaviour: the store it opens on first use, the
 * group commits its hooks join, the {@link DeliveryWorker} it starts, and
 * its events. `webhookPlugin` wraps it in the plain object analytics-node
 * registers. The queue is reserved in this process from construction to
 * {@link WebhookDestination.close}.
 *
 * @example
 * const destination = new WebhookDestination(settings, destinationOptions(settings, {}))
 * await destination.enqueue(ctx) // resolves once the event is durable
 * await destination.drain({ timeoutMs: 5_000 })
 * await destination.close()
 */
export class WebhookDestination {
  readonly settings: WebhookSettings
  readonly queue: string
  readonly events = new PluginEvents()
  private readonly options: DestinationOptions
  private readonly now: () => number
  private readonly choice: StoreChoice
  /** The queues in use in this destination's storage (this one among them until closed). */
  private readonly inUse: Set<string>
  private readonly dispatcher: Dispatcher
  private readonly ownDispatcher: boolean
  private readonly commits: CommitGroup
  private opening: Promise<QueueStore> | undefined
  private worker: DeliveryWorker | undefined
  private stopWakeups: Promise<(() => Promise<void>) | undefined> | undefined
  private closed = false
  /** Whether analytics-node loaded the plugin: from then on the worker runs. */
  private loaded = false
  /** Events skipped by the `events` setting or `transform` (see {@link PluginStats.filtered}). */
  private filtered = 0
  /**
   * Whether an OpenTelemetry SDK is there to measure into, decided once when
   * the worker starts; `undefined` telemetry (the common case) measures
   * nothing and costs nothing per event.
   */
  private readonly telemetry: TelemetryDecision

  /**
   * Resolves the store option, reserves the queue (throws `queue_in_use` if taken) and opens
   * a store that can open at once (SQLite; throws `store_unavailable` naming the file).
   */
  constructor(settings: WebhookSettings, options: DestinationOptions) {
    this.settings = settings
    this.options = options
    this.queue = options.queue
    this.now = options.now
    this.choice = resolveStore(options.store)
    this.inUse = reserveQueue(this.choice.key, this.queue)
    try {
      this.choice.openNow?.()
    } catch (error) {
      this.release()
      throw error
    }
    this.telemetry = new TelemetryDecision(() =>
      loadTelemetry({
        webhooks: settings.webhooks,
        method: settings.method,
        queue: this.queue,
        stats: async () => (await this.storeReady()).stats(this.queue),
        sendTraceparent: options.sendTraceparent === true,
        now: this.now,
      }),
    )
    this.ownDispatcher = options.dispatcher === undefined
    this.dispatcher = options.dispatcher ?? createDispatcher(options.concurrency)
    this.commits = new CommitGroup(
      () => this.commitStore(),
      this.queue,
      () => this.worker?.enqueued(),
    )
  }

  /**
   * The hook for every event type: commits the event and resolves with its
   * context once it is durable. An event the `events` setting leaves out, or
   * `transform` skips, is only counted. An event that cannot be encoded (or
   * that `transform` fails on) is dead-lettered `invalid_payload`; a failed
   * commit is reported on the context (and as an `error` event), never thrown.
   */
  readonly enqueue = async (ctx: Context): Promise<Context> => {
    if (this.closed) {
      ctx.setFailedDelivery({ reason: closedError() })
      return ctx
    }
    // analytics-node does not wait for a destination's load: the first events can come before the
    // decision (a few ms). Waiting keeps the hook's context, which is the tracking call's (see
    // TrackedTraces), and lets telemetry count these events too.
    if (!this.telemetry.decided) await this.telemetry.settled()
    const event = ctx.event as SegmentEvent
    const messageId = typeof event.messageId === 'string' ? event.messageId : null
    if (!sendsEvent(this.settings.events, event.type, event.event)) {
      this.skipped('events')
      return ctx
    }
    let body: string | null
    try {
      body = this.encode(encodeEvent(event))
    } catch (error) {
      await this.deadLetterInvalid(event, messageId, error)
      ctx.setFailedDelivery({ reason: error })
      return ctx
    }
    if (body === null) return ctx
    try {
      await this.commits.add(
        traced(
          { id: deliveryId(), body, messageId, enqueuedAt: this.now() },
          this.telemetry.current?.traceparentOf(ctx),
        ),
      )
    } catch (error) {
      const reason = new WebhookPluginError(
        'commit_failed',
        `The event could not be committed to ${this.choice.label}: ${asError(error).message}`,
        {
          cause: error,
        },
      )
      ctx.setFailedDelivery({ reason })
      this.events.emit('error', reason)
    }
    return ctx
  }

  /** A serialised payload as it is stored: `transform`ed when there is one; `null` (counted) when it skips the event. */
  private encode(json: string): string | null {
    const { transform } = this.options
    const body = transform ? transformBody(transform, json) : json
    if (body === null) this.skipped('transform')
    return body
  }

  /** Counts an event this plugin does not send, in `stats().filtered` and in telemetry. */
  private skipped(reason: 'events' | 'transform'): void {
    this.filtered++
    this.telemetry.current?.filtered(1, reason)
  }

  /**
   * Opens the store and starts delivering (analytics-node calls it on
   * `register`). A store that cannot be opened yet (PostgreSQL down) is
   * reported as an `error` event (`store_unavailable`), not thrown:
   * analytics-node drops a destination whose load fails, and every later
   * event would then never reach this plugin. Hooks fail (`commit_failed`)
   * until a commit finds the store open, which also starts the worker.
   * `analytics` is the instance the plugin is registered on: with an
   * OpenTelemetry SDK, the trace each of its events is tracked in is kept
   * with the event.
   */
  async load(analytics?: unknown): Promise<void> {
    this.loaded = true
    // Started before anything is awaited: hooks may run before load resolves (see enqueue).
    this.telemetry.watch(analytics)
    void this.telemetry.decide()
    try {
      await this.startWorker()
    } catch (error) {
      this.events.emit(
        'error',
        new WebhookPluginError(
          'store_unavailable',
          `The webhook queue cannot be opened yet: ${asError(error).message}; events fail until it can`,
          { cause: error },
        ),
      )
    }
  }

  /**
   * Queues a deletion notification for `userId`; resolves once it is durable
   * (or at once when the `events` setting leaves `delete` out or `transform`
   * skips it). A `transform` that fails on it dead-letters it, as an event.
   */
  async delete(request: { userId: string; timestamp?: Date | string }): Promise<void> {
    if (this.closed) throw closedError()
    const payload = toDeletePayload(request)
    const telemetry = await this.telemetry.decide()
    if (!sendsEvent(this.settings.events, 'delete')) {
      this.skipped('events')
      return
    }
    let body: string | null
    try {
      body = this.encode(serializePayload(payload))
    } catch (error) {
      return this.deadLetterInvalid(payload, null, error)
    }
    if (body === null) return
    await this.commits.add(
      traced(
        { id: deliveryId(), body, messageId: null, enqueuedAt: this.now() },
        telemetry?.activeTraceparent(),
      ),
    )
    void this.startWorker().catch((error) => this.events.emit('error', asError(error)))
  }

  /** Resolves when everything queued is delivered or dead, or at the timeout with what is left. */
  async drain({ timeoutMs = 30_000 }: { timeoutMs?: number } = {}): Promise<DrainResult> {
    const { queue } = this
    // A monotonic clock: a wall-clock step (NTP) must not end the wait early or stretch it.
    const deadline = performance.now() + timeoutMs
    await this.commits.flush()
    const store = await this.storeReady()
    const running = await this.startWorker()
    for (;;) {
      await running.flushCompletions()
      if ((await store.nextDueAt(queue)) === null) {
        await running.flushCompletions()
        if ((await store.nextDueAt(queue)) === null) return { drained: true, remaining: 0 }
      }
      if (performance.now() >= deadline) {
        const stats = await store.stats(queue)
        return { drained: false, remaining: stats.queued + stats.inFlight }
      }
      // Woken as soon as the worker runs out of work, at the latest after 20 ms (it may be waiting on retries).
      await running.idle(Math.min(20, Math.max(1, deadline - performance.now())))
    }
  }

  /** Stops delivering (requests in flight finish), commits what is pending and closes what it opened. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.commits.flush().catch(() => undefined)
    await this.worker?.stop()
    await this.telemetry.close() // before the store closes: the queue-depth gauge reads it
    await (await this.stopWakeups)?.().catch(() => undefined)
    if (this.opening) {
      const store = await this.opening.catch(() => undefined)
      if (store && this.choice.owned) await store.close()
    }
    if (this.ownDispatcher) await this.dispatcher.close()
    this.release()
  }

  /** Frees this plugin's queue name in its store, for another plugin to take. */
  private release(): void {
    this.inUse.delete(this.queue)
    if (this.inUse.size === 0) queuesInUse.delete(this.choice.key)
  }

  /** Counts for this queue, once pending commits and completions are written, and what this plugin filtered. */
  async stats(): Promise<PluginStats> {
    await this.commits.flush()
    const store = await this.storeReady()
    await this.worker?.flushCompletions()
    return { ...(await store.stats(this.queue)), filtered: this.filtered }
  }

  private storeReady(): Promise<QueueStore> {
    if (this.closed && !this.opening)
      return Promise.reject(new WebhookPluginError('closed', 'The webhook plugin is closed'))
    this.opening ??= this.choice
      .load()
      .then(async (store) => {
        await store.open()
        return store
      })
      .catch((error: unknown) => {
        // Not kept: the next caller tries to open it again (the database may be back).
        this.opening = undefined
        throw error
      })
    return this.opening
  }

  /** The store for a commit; once loaded, the first commit that opens it starts the worker. */
  private async commitStore(): Promise<QueueStore> {
    const store = await this.storeReady()
    if (this.loaded && !this.worker && !this.closed) await this.startWorker()
    return store
  }

  private async startWorker(): Promise<DeliveryWorker> {
    const store = await this.storeReady()
    const telemetry = await this.telemetry.decide()
    if (!this.worker) {
      const { settings, queue, options, events } = this
      this.worker = new DeliveryWorker({
        store,
        label: this.choice.label,
        queue,
        settings,
        dispatcher: this.dispatcher,
        concurrency: options.concurrency,
        leaseMs: options.leaseMs,
        claimBatch: options.claimBatch,
        pollIntervalMs: options.pollIntervalMs,
        workerId: `${process.pid}-${randomUUID()}`,
        now: this.now,
        schedule: new RetrySchedule({ ...options.retry, windowMs: settings.retryWindowMs }),
        backoff: new DestinationBackoff(options.backoff),
        rate:
          options.maxRequestsPerSecond === undefined
            ? undefined
            : new RequestRate(options.maxRequestsPerSecond),
        events,
        telemetry,
      })
      // Commits in other processes wake this worker (PostgreSQL LISTEN/NOTIFY) rather than it
      // polling; without them (SQLite, or if listening fails) it still looks every pollIntervalMs.
      this.stopWakeups = store
        .subscribe(queue, () => this.worker?.enqueued())
        .catch((error: unknown) => {
          events.emit('error', asError(error))
          return undefined
        })
    }
    if (!this.closed) this.worker.start()
    return this.worker
  }

  /** Dead-letters an event that cannot be encoded (or that `transform` failed on), without a body: nothing here was ever signed, and nothing must be by a later replay. */
  private async deadLetterInvalid(
    event: unknown,
    messageId: string | null,
    error: unknown,
  ): Promise<void> {
    const detail = invalidEventDetail(event, error)
    const at = this.now()
    const id = deliveryId()
    try {
      await this.commits.addDead({
        id,
        body: '',
        messageId,
        enqueuedAt: at,
        attempts: 0,
        deadAt: at,
        reason: 'invalid_payload',
        lastStatus: null,
        detail,
      })
      this.telemetry.current?.dead(1, 'invalid_payload')
      this.events.emit('dead', {
        ids: [id],
        reason: 'invalid_payload',
        status: undefined,
        attempts: 0,
        detail,
      })
    } catch (commitError) {
      this.events.emit('error', asError(commitError))
    }
  }
}

/** Marks `queue` as used in the storage `key`, or throws `queue_in_use`; returns that storage's set of queues. */
function reserveQueue(key: string | object, queue: string): Set<string> {
  const inUse = queuesInUse.get(key) ?? new Set<string>()
  if (inUse.has(queue)) {
    throw new WebhookPluginError(
      'queue_in_use',
      `Queue "${queue}" in this store is already used by another webhook plugin in this process; give each plugin its own \`queue\` option`,
    )
  }
  inUse.add(queue)
  queuesInUse.set(key, inUse)
  return inUse
}

/**
 * A delivery with the trace it was tracked in, when there was one. Without
 * one the object is left as it was: no field for the store to write.
 */
function traced(delivery: NewDelivery, traceparent: string | undefined): NewDelivery {
  return traceparent === undefined ? delivery : { ...delivery, traceparent }
}

function closedError(): WebhookPluginError {
  return new WebhookPluginError('closed', 'The webhook plugin is closed; the event was not queued')
}
