/** The analytics-next destination plugin: validates settings, queues every event in localStorage, and drains the queue. */

import { DESTINATION_NAME } from '@analytics-webhooks/core/destination'
import { sendsEvent } from '@analytics-webhooks/core/filter'
import { encodeEvent, type SegmentEvent } from '@analytics-webhooks/core/payload'
import {
  didYouMean,
  parseSettings,
  type WebhookSettingsInput,
} from '@analytics-webhooks/core/settings'
import { type Transform, transformBody } from '@analytics-webhooks/core/transform'
import type { Context, Plugin } from '@segment/analytics-next'
import { version } from '../package.json'
import { BrowserWebhookError } from './errors.js'
import { createReports, type Subscribe } from './events.js'
import { createOutbox, type Outbox } from './outbox.js'
import { openQueue, type PersistedQueue, webStorage } from './queue.js'
import { type Fetch, sendToAll } from './send.js'
import { tabLock } from './tab-lock.js'

/** Browser-side options (the webhook settings themselves are the first argument). */
export interface WebhookPluginOptions {
  /** Prefix of the localStorage keys; give each plugin on one origin its own. Default `analytics-webhooks`. */
  storageKey?: string
  /** The queue holds at most this many events; beyond it the oldest are dropped. Default 1000. */
  maxQueueEvents?: number
  /** The queue holds at most this many characters of localStorage; beyond it the oldest are dropped. Default 2,000,000. */
  maxQueueChars?: number
  /**
   * At most this many requests per second (one per URL of each send), for
   * this tab's drain; at least 0.1. A `429` without `Retry-After` halves the
   * rate, and each delivery regains 5% of it. Default: no limit.
   */
  maxRequestsPerSecond?: number
  /**
   * Rewrites each event before it is queued: given a copy of the payload as
   * it would be sent, returns the payload to send (an object with a `type`),
   * or `null` to skip the event (a `filtered` report). An event it throws on,
   * or returns anything else for, is `dead` (`invalid_payload`). Default: none.
   */
  transform?: Transform
  /** The `fetch` to send with. Default: the page's `fetch`. */
  fetch?: Fetch
}

/** The options' names; `satisfies` fails the build when an option is added to the interface but not here. */
const OPTION_NAMES = Object.keys({
  storageKey: 0,
  maxQueueEvents: 0,
  maxQueueChars: 0,
  maxRequestsPerSecond: 0,
  transform: 0,
  fetch: 0,
} satisfies Record<keyof WebhookPluginOptions, 0>)

/** The plugin object: an analytics-next destination plus reports and a manual flush. */
export interface WebhookPlugin extends Plugin {
  readonly type: 'destination'
  /**
   * Subscribes to `delivered`, `retry`, `dead`, `dropped` or `filtered`
   * reports; returns a function that unsubscribes.
   */
  on: Subscribe
  /** Sends whatever is due now; resolves when done (at once if another tab is sending). */
  flush(): Promise<void>
}

/**
 * Creates the webhook destination for `@segment/analytics-next`. Settings are
 * the same as the node plugin's and are validated at once (a `SettingsError`
 * names the field), and so are the options (`BrowserWebhookError`
 * `invalid_option` names an unknown one and the nearest known name). Every
 * event is written to the persisted queue before it is first sent, so a
 * reload mid-send loses nothing (delivery is at-least-once; receivers dedupe
 * on `messageId`).
 *
 * @example
 * const webhooks = webhookPlugin({ webhooks: ['https://hooks.example.com/segment'] })
 * webhooks.on('dead', (r) => console.warn('webhook gave up', r.reason, r.ids))
 * const analytics = AnalyticsBrowser.load({ writeKey, plugins: [webhooks] })
 * // or, later: await analytics.register(webhooks)
 */
export function webhookPlugin(
  input: WebhookSettingsInput,
  options: WebhookPluginOptions = {},
): WebhookPlugin {
  const settings = parseSettings(input)
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.includes(key)) {
      throw new BrowserWebhookError(
        'invalid_option',
        `${key}: unknown option${didYouMean(key, OPTION_NAMES)}`,
      )
    }
  }
  if (settings.sharedSecret !== undefined && globalThis.isSecureContext === false) {
    throw new BrowserWebhookError('insecure_context', 'sharedSecret: signing needs HTTPS')
  }
  const {
    storageKey = 'analytics-webhooks',
    maxQueueEvents = 1000,
    maxQueueChars = 2e6,
    maxRequestsPerSecond: rate,
    transform,
  } = options
  for (const [field, value] of Object.entries({ maxQueueEvents, maxQueueChars })) {
    if (!Number.isInteger(value) || value < 1) {
      throw new BrowserWebhookError('invalid_option', `${field}: must be a positive whole number`)
    }
  }
  // core's MIN_REQUESTS_PER_SECOND, written out: importing it would put core's rate module on every page.
  if (rate !== undefined && !(Number.isFinite(rate) && rate >= 0.1)) {
    throw new BrowserWebhookError('invalid_option', 'maxRequestsPerSecond: must be a number >= 0.1')
  }
  if (transform !== undefined && typeof transform !== 'function') {
    throw new BrowserWebhookError('invalid_option', 'transform: must be a function')
  }
  const { on, emit } = createReports()
  let parts: [PersistedQueue, Outbox] | undefined
  let stopListening: (() => void) | undefined
  let loaded = false

  const start = () => {
    if (!parts) {
      const storage = webStorage()
      const queue = openQueue(
        storage,
        storageKey,
        { maxEvents: maxQueueEvents, maxChars: maxQueueChars },
        (event, reason) => emit('dropped', { ...event, reason }),
      )
      const send = options.fetch ?? ((url, init) => fetch(url, init))
      parts = [
        queue,
        createOutbox({
          settings,
          queue,
          lock: tabLock(`${storageKey}.lock`, storage),
          send: (body, id) => sendToAll(settings, body, id, send),
          emit,
          rate,
        }),
      ]
    }
    return parts
  }

  const enqueue = (ctx: Context): Context => {
    const [queue, outbox] = start()
    const event = ctx.event as SegmentEvent
    const messageId = event.messageId ?? ''
    if (!sendsEvent(settings.events, event.type, event.event)) {
      emit('filtered', { messageId, reason: 'events' })
      return ctx
    }
    let body: string | null
    try {
      body = encodeEvent(event)
      if (transform) body = transformBody(transform, body)
    } catch (error) {
      emit('dead', {
        ids: [messageId],
        reason: 'invalid_payload',
        status: undefined,
        attempts: 0,
        detail: (error as Error).message,
        body: '',
      })
      return ctx
    }
    if (body === null) emit('filtered', { messageId, reason: 'transform' })
    else if (queue.push(messageId, body, Date.now())) void outbox.drain()
    return ctx
  }

  return {
    // Segment's own Webhooks destination's name, as in Node: `integrations: { Webhooks: false }` skips it.
    name: DESTINATION_NAME,
    type: 'destination',
    version,
    isLoaded: () => loaded,
    load() {
      const [, drainer] = start()
      if (!stopListening && typeof addEventListener === 'function') {
        const drain = () => void drainer.drain()
        const hidden = () => document.visibilityState === 'hidden' && drain()
        addEventListener('online', drain)
        addEventListener('pagehide', drain)
        document.addEventListener('visibilitychange', hidden)
        stopListening = () => {
          removeEventListener('online', drain)
          removeEventListener('pagehide', drain)
          document.removeEventListener('visibilitychange', hidden)
          drainer.stop()
        }
      }
      loaded = true
      void drainer.drain() // events left by earlier page loads
      return Promise.resolve()
    },
    unload() {
      stopListening?.()
      stopListening = undefined
      loaded = false
    },
    page: enqueue,
    screen: enqueue,
    identify: enqueue,
    track: enqueue,
    alias: enqueue,
    group: enqueue,
    on,
    flush: () => start()[1].drain(),
  }
}
