/** The analytics-node destination plugin: commits each event to the durable queue, and runs the delivery worker. */

import { randomUUID } from 'node:crypto'
import {
  asError,
  DESTINATION_NAME,
  DestinationBackoff,
  type DestinationBackoffOptions,
  encodeEvent,
  PayloadError,
  parseSettings,
  RetrySchedule,
  type RetryScheduleOptions,
  type SegmentEvent,
  serializePayload,
  toDeletePayload,
  type WebhookSettings,
  type WebhookSettingsInput,
} from '@analytics-webhooks/core'
import type { Context, Plugin } from '@segment/analytics-node'
import type { Dispatcher } from 'undici'
import { version } from '../package.json'
import { CommitGroup } from './commit.js'
import { DeliveryWorker } from './delivery.js'
import { WebhookPluginError } from './errors.js'
import { type Listener, PluginEvents, type WebhookPluginEvents } from './events.js'
import { createDispatcher } from './http.js'
import { deliveryId } from './id.js'
import { resolveStore, type StoreOption } from './store/index.js'
import type { QueueStats, QueueStore } from './store/types.js'

/** The plugin's version, reported to analytics-node (the package's own, inlined at build time). */
export const PLUGIN_VERSION: string = version

/** Everything that is not a webhook setting: where the queue lives and how delivery runs. */
export interface WebhookPluginOptions {
  /** Where the queue lives. Default SQLite at `$ANALYTICS_WEBHOOKS_DB` or `./.data/analytics-webhooks.sqlite`. */
  store?: StoreOption
  /** The queue's name inside the store; plugins with different settings need different names. Default `'default'`. */
  queue?: string
  /** Requests in flight at once. Default 10. */
  concurrency?: number
  /** How long a claimed delivery stays reserved for this process. Default 60 s. */
  leaseMs?: number
  /** Deliveries claimed per store round trip. Default `max(256, 2 × concurrency × batchSize)`, at most 10 000. */
  claimBatch?: number
  /** The longest an idle worker sleeps before looking at the store again (other processes may enqueue). Default 5 s. */
  pollIntervalMs?: number
  /** Per-delivery retry backoff tuning (the window is the `retryWindowMs` setting). */
  retry?: Omit<RetryScheduleOptions, 'windowMs'>
  /** Destination-wide backoff tuning (when every URL fails). */
  backoff?: DestinationBackoffOptions
  /** An undici dispatcher to send with (proxies, custom CAs, tests). Default: a keep-alive `Agent`, TLS verified. */
  dispatcher?: Dispatcher
  /** The clock, in ms since the epoch. Default `Date.now`; replace it in tests. */
  now?: () => number
}

/** What {@link WebhookPlugin.drain} found. */
export interface DrainResult {
  /** `true` when nothing is left waiting or in flight: every delivery is delivered or dead. */
  readonly drained: boolean
  /** Deliveries still waiting or in flight. */
  readonly remaining: number
}

/** An analytics-node destination plugin with durable webhook delivery. */
export interface WebhookPlugin extends Plugin {
  /** Queues a deletion notification for `userId`; resolves once it is durable. */
  delete(request: { userId: string; timestamp?: Date | string }): Promise<void>
  /** Resolves when everything queued is delivered or dead, or at the timeout with what is left. Default 30 s. */
  drain(options?: { timeoutMs?: number }): Promise<DrainResult>
  /** Stops delivering (requests in flight finish), commits what is pending and closes the store it opened. */
  close(): Promise<void>
  /** Counts for this plugin's queue. */
  stats(): Promise<QueueStats>
  /** Listens to `delivered`, `retry`, `dead` or `error`; returns a function that stops listening. */
  on<K extends keyof WebhookPluginEvents>(name: K, listener: Listener<K>): () => void
  off<K extends keyof WebhookPluginEvents>(name: K, listener: Listener<K>): void
  /** The validated settings. */
  readonly settings: WebhookSettings
  /** The queue name. */
  readonly queue: string
}

/** Queues in use in this process, by storage, so two plugins cannot consume one queue by accident. */
const queuesInUse = new Map<string | object, Set<string>>()

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < 1) {
    throw new WebhookPluginError(
      'invalid_option',
      `Invalid option ${name}: must be a whole number >= 1, got ${value}`,
    )
  }
  return value
}

/**
 * Creates the webhook destination for `@segment/analytics-node`. Settings are
 * validated here (a `SettingsError` names the field and the rule). Each event
 * hook resolves once the event is committed to the queue; delivery happens in
 * the background, retried until it lands or dead-lettered.
 *
 * @example
 * import { Analytics } from '@segment/analytics-node'
 * import { webhookPlugin } from '@analytics-webhooks/node-plugin'
 *
 * const analytics = new Analytics({ writeKey })
 * const webhooks = webhookPlugin({ webhooks: ['https://hooks.example.com/segment'], sharedSecret: process.env.WEBHOOK_SECRET })
 * await analytics.register(webhooks)
 * analytics.track({ userId: 'u1', event: 'Signed Up' })
 * await webhooks.delete({ userId: 'u1' })
 */
export function webhookPlugin(
  settingsInput: WebhookSettingsInput,
  options: WebhookPluginOptions = {},
): WebhookPlugin {
  const settings = parseSettings(settingsInput)
  const queue = options.queue ?? 'default'
  if (typeof queue !== 'string' || queue.length === 0) {
    throw new WebhookPluginError(
      'invalid_option',
      'Invalid option queue: must be a non-empty string',
    )
  }
  const concurrency = positiveInteger('concurrency', options.concurrency, 10)
  const leaseMs = positiveInteger('leaseMs', options.leaseMs, 60_000)
  const pollIntervalMs = positiveInteger('pollIntervalMs', options.pollIntervalMs, 5_000)
  const claimBatch = positiveInteger(
    'claimBatch',
    options.claimBatch,
    Math.min(10_000, Math.max(256, 2 * concurrency * settings.batchSize)),
  )
  const now = options.now ?? Date.now
  const choice = resolveStore(options.store)

  const inUse = queuesInUse.get(choice.key) ?? new Set<string>()
  if (inUse.has(queue)) {
    throw new WebhookPluginError(
      'queue_in_use',
      `Queue "${queue}" in this store is already used by another webhook plugin in this process; give each plugin its own \`queue\` option`,
    )
  }
  inUse.add(queue)
  queuesInUse.set(choice.key, inUse)

  const events = new PluginEvents()
  const ownDispatcher = options.dispatcher === undefined
  const dispatcher = options.dispatcher ?? createDispatcher(concurrency)
  let opening: Promise<QueueStore> | undefined
  let worker: DeliveryWorker | undefined
  let closed = false

  function storeReady(): Promise<QueueStore> {
    if (closed && !opening)
      return Promise.reject(new WebhookPluginError('closed', 'The webhook plugin is closed'))
    opening ??= choice.load().then(async (store) => {
      await store.open()
      return store
    })
    return opening
  }

  const commits = new CommitGroup(storeReady, queue, () => worker?.enqueued())

  let stopWakeups: Promise<(() => Promise<void>) | undefined> | undefined

  async function startWorker(): Promise<DeliveryWorker> {
    const store = await storeReady()
    if (!worker) {
      worker = new DeliveryWorker({
        store,
        queue,
        settings,
        dispatcher,
        concurrency,
        leaseMs,
        claimBatch,
        pollIntervalMs,
        workerId: `${process.pid}-${randomUUID()}`,
        now,
        schedule: new RetrySchedule({ ...options.retry, windowMs: settings.retryWindowMs }),
        backoff: new DestinationBackoff(options.backoff),
        events,
      })
      // Commits in other processes wake this worker (PostgreSQL LISTEN/NOTIFY) rather than it
      // polling; without them (SQLite, or if listening fails) it still looks every pollIntervalMs.
      stopWakeups = store
        .subscribe(queue, () => worker?.enqueued())
        .catch((error: unknown) => {
          events.emit('error', asError(error))
          return undefined
        })
    }
    if (!closed) worker.start()
    return worker
  }

  function closedError(): WebhookPluginError {
    return new WebhookPluginError(
      'closed',
      'The webhook plugin is closed; the event was not queued',
    )
  }

  async function enqueueEvent(ctx: Context): Promise<Context> {
    if (closed) {
      ctx.setFailedDelivery({ reason: closedError() })
      return ctx
    }
    const event = ctx.event as SegmentEvent
    const messageId = typeof event.messageId === 'string' ? event.messageId : null
    let body: string
    try {
      body = encodeEvent(event)
    } catch (error) {
      return deadLetterInvalid(ctx, event, messageId, error)
    }
    try {
      await commits.add({ id: deliveryId(), body, messageId, enqueuedAt: now() })
    } catch (error) {
      const reason = new WebhookPluginError(
        'commit_failed',
        'The event could not be committed to the webhook queue',
        {
          cause: error,
        },
      )
      ctx.setFailedDelivery({ reason })
      events.emit('error', reason)
    }
    return ctx
  }

  async function deadLetterInvalid(
    ctx: Context,
    event: SegmentEvent,
    messageId: string | null,
    error: unknown,
  ): Promise<Context> {
    const reason =
      error instanceof PayloadError ? error.message : `Invalid webhook payload: ${String(error)}`
    // No body is stored: nothing here was ever signed, and nothing must be by a later replay.
    const detail = `${reason}; event: ${preview(event)}`
    const at = now()
    const id = deliveryId()
    try {
      await commits.addDead({
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
      events.emit('dead', {
        ids: [id],
        reason: 'invalid_payload',
        status: undefined,
        attempts: 0,
        detail,
      })
    } catch (commitError) {
      events.emit('error', asError(commitError))
    }
    ctx.setFailedDelivery({ reason: error })
    return ctx
  }

  const plugin: WebhookPlugin = {
    // Segment's own Webhooks destination's name: `integrations: { Webhooks: false }` skips it.
    name: DESTINATION_NAME,
    type: 'destination',
    version: PLUGIN_VERSION,
    settings,
    queue,
    isLoaded: () => true,
    load: async () => {
      await startWorker()
    },
    unload: () => plugin.close(),
    track: enqueueEvent,
    identify: enqueueEvent,
    page: enqueueEvent,
    screen: enqueueEvent,
    group: enqueueEvent,
    alias: enqueueEvent,

    async delete(request) {
      if (closed) throw closedError()
      const body = serializePayload(toDeletePayload(request))
      await commits.add({ id: deliveryId(), body, messageId: null, enqueuedAt: now() })
      void startWorker().catch((error) => events.emit('error', asError(error)))
    },

    async drain({ timeoutMs = 30_000 } = {}) {
      const deadline = Date.now() + timeoutMs
      await commits.flush()
      const store = await storeReady()
      const running = await startWorker()
      for (;;) {
        await running.flushCompletions()
        if ((await store.nextDueAt(queue)) === null) {
          await running.flushCompletions()
          if ((await store.nextDueAt(queue)) === null) return { drained: true, remaining: 0 }
        }
        if (Date.now() >= deadline) {
          const stats = await store.stats(queue)
          return { drained: false, remaining: stats.queued + stats.inFlight }
        }
        // Woken as soon as the worker runs out of work, at the latest after 20 ms (it may be waiting on retries).
        await running.idle(Math.min(20, Math.max(1, deadline - Date.now())))
      }
    },

    async close() {
      if (closed) return
      closed = true
      await commits.flush().catch(() => undefined)
      await worker?.stop()
      await (await stopWakeups)?.().catch(() => undefined)
      if (opening) {
        const store = await opening.catch(() => undefined)
        if (store && choice.owned) await store.close()
      }
      if (ownDispatcher) await dispatcher.close()
      inUse.delete(queue)
      if (inUse.size === 0) queuesInUse.delete(choice.key)
    },

    async stats() {
      await commits.flush()
      const store = await storeReady()
      await worker?.flushCompletions()
      return store.stats(queue)
    },

    on: (name, listener) => events.on(name, listener),
    off: (name, listener) => events.off(name, listener),
  }
  return plugin
}

/** How much of an unsendable event a dead letter's detail shows. */
const PREVIEW_CHARS = 200

/**
 * A short preview of an event JSON cannot carry as is (circular, BigInt), for
 * the dead letter's detail: never a body, so nothing can sign or send it.
 * Library-internal fields (`_metadata`, `writeKey`, `options`) are left out.
 */
function preview(event: unknown): string {
  const { _metadata, writeKey, options, ...fields } = (event ?? {}) as Record<string, unknown>
  const seen = new WeakSet<object>()
  let text: string
  try {
    text =
      JSON.stringify(fields, (_key, value: unknown) => {
        if (typeof value === 'bigint') return `${value}n`
        if (typeof value === 'object' && value !== null) {
          if (seen.has(value)) return '[Circular]'
          seen.add(value)
        }
        return value
      }) ?? '?'
  } catch {
    text = '?'
  }
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text
}
