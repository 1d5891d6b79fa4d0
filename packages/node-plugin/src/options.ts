/** The plugin's options (everything that is not a webhook setting), their defaults and their rules. */

import {
  type DestinationBackoffOptions,
  didYouMean,
  MIN_REQUESTS_PER_SECOND,
  type RetryScheduleOptions,
  type Transform,
  type WebhookSettings,
} from '@analytics-webhooks/core'
import type { Dispatcher } from 'undici'
import { WebhookPluginError } from './errors.js'
import type { StoreOption } from './store/index.js'

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
  /**
   * The most HTTP requests per second this process sends to the destination
   * (each URL of a fan-out counts), spaced evenly. A `429` without
   * `Retry-After` halves the rate; each delivered request regains 5% of it.
   * Per process: with PostgreSQL, N worker processes send up to N times this.
   * Default: no limit.
   */
  maxRequestsPerSecond?: number
  /**
   * Rewrites each event before it is queued: given a copy of the payload as it
   * would be sent, returns the payload to send (an object with a `type`), or
   * `null` to skip the event (counted in `stats().filtered`). It runs in the
   * hook, before the event is stored, so what is stored is what is signed and
   * sent. An event it throws on, or returns anything else for, is
   * dead-lettered `invalid_payload` with the reason; the next goes on. Runs
   * after the `events` setting's filter. Default: none.
   */
  transform?: Transform
  /**
   * Sends each attempt's span context to the receiver as a W3C `traceparent`
   * header, so its own spans join the attempt's trace (a `traceparent` among
   * `headers` is then replaced). Only with an OpenTelemetry SDK registered
   * (see docs/telemetry.md); without one there is no span and no header.
   * Default `false`: receivers see no tracing header.
   */
  sendTraceparent?: boolean
  /** An undici dispatcher to send with (proxies, custom CAs, tests). Default: a keep-alive `Agent`, TLS verified. */
  dispatcher?: Dispatcher
  /** The clock, in ms since the epoch. Default `Date.now`; replace it in tests. */
  now?: () => number
}

/** {@link WebhookPluginOptions} checked, with every default that does not open anything filled in. */
export interface DestinationOptions
  extends Omit<
    WebhookPluginOptions,
    'queue' | 'concurrency' | 'leaseMs' | 'claimBatch' | 'pollIntervalMs' | 'now'
  > {
  readonly queue: string
  readonly concurrency: number
  readonly leaseMs: number
  readonly claimBatch: number
  readonly pollIntervalMs: number
  readonly now: () => number
}

/** Every option's name; `satisfies` fails the build when an option is added to the interface but not here. */
const OPTION_NAMES: readonly string[] = Object.keys({
  store: 0,
  queue: 0,
  concurrency: 0,
  leaseMs: 0,
  claimBatch: 0,
  pollIntervalMs: 0,
  retry: 0,
  backoff: 0,
  maxRequestsPerSecond: 0,
  transform: 0,
  sendTraceparent: 0,
  dispatcher: 0,
  now: 0,
} satisfies Record<keyof WebhookPluginOptions, 0>)

/** The `retry` option's names (the window is the `retryWindowMs` setting). */
const RETRY_NAMES: readonly string[] = Object.keys({
  baseDelayMs: 0,
  maxDelayMs: 0,
  random: 0,
} satisfies Record<keyof NonNullable<WebhookPluginOptions['retry']>, 0>)

/** The `backoff` option's names. */
const BACKOFF_NAMES: readonly string[] = Object.keys({
  threshold: 0,
  baseDelayMs: 0,
  maxDelayMs: 0,
  random: 0,
} satisfies Record<keyof DestinationBackoffOptions, 0>)

/**
 * Throws `invalid_option` for a name in the object option `name` that is not
 * one of `known`, suggesting the nearest (`Invalid option retry.baseDelay:
 * unknown option, did you mean retry.baseDelayMs? (known: …)`).
 *
 * @example
 * knownKeys('retry', { baseDelay: 10 }, ['baseDelayMs', 'maxDelayMs']) // throws
 */
export function knownKeys(name: string, value: unknown, known: readonly string[]): void {
  if (value === undefined) return
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new WebhookPluginError('invalid_option', `Invalid option ${name}: must be an object`)
  }
  knownNames(Object.keys(value), known, `${name}.`)
}

/** Throws `invalid_option` for the first of `names` not in `known`, named with `prefix` and the nearest known one. */
function knownNames(names: readonly string[], known: readonly string[], prefix = ''): void {
  const unknown = names.find((key) => !known.includes(key))
  if (unknown === undefined) return
  throw new WebhookPluginError(
    'invalid_option',
    `Invalid option ${prefix}${unknown}: unknown option${didYouMean(
      `${prefix}${unknown}`,
      known.map((k) => `${prefix}${k}`),
    )}`,
  )
}

/**
 * Checks the options against their rules and fills in the defaults (the
 * default `claimBatch` depends on the settings' `batchSize`). The `store`
 * option is checked later, where the store is resolved. Throws a
 * {@link WebhookPluginError} `invalid_option` naming the option, also for a
 * name that is not an option (suggesting the nearest one: `Invalid option
 * pollIntervallMs: unknown option, did you mean pollIntervalMs? (known: …)`).
 *
 * @example
 * const options = destinationOptions(parseSettings(input), { concurrency: 4 })
 * options.claimBatch // 256 with batchSize 1
 */
export function destinationOptions(
  settings: WebhookSettings,
  options: WebhookPluginOptions,
): DestinationOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new WebhookPluginError('invalid_option', 'Invalid options: must be an object')
  }
  knownNames(Object.keys(options), OPTION_NAMES)
  knownKeys('retry', options.retry, RETRY_NAMES)
  knownKeys('backoff', options.backoff, BACKOFF_NAMES)
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
  const { maxRequestsPerSecond } = options
  if (
    maxRequestsPerSecond !== undefined &&
    !(
      typeof maxRequestsPerSecond === 'number' &&
      maxRequestsPerSecond >= MIN_REQUESTS_PER_SECOND &&
      Number.isFinite(maxRequestsPerSecond)
    )
  ) {
    throw new WebhookPluginError(
      'invalid_option',
      `Invalid option maxRequestsPerSecond: must be a number >= ${MIN_REQUESTS_PER_SECOND}, got ${maxRequestsPerSecond}`,
    )
  }
  if (options.transform !== undefined && typeof options.transform !== 'function') {
    throw new WebhookPluginError(
      'invalid_option',
      'Invalid option transform: must be a function (payload) => payload or null',
    )
  }
  if (options.sendTraceparent !== undefined && typeof options.sendTraceparent !== 'boolean') {
    throw new WebhookPluginError(
      'invalid_option',
      `Invalid option sendTraceparent: must be true or false, got ${String(options.sendTraceparent)}`,
    )
  }
  const now = options.now ?? Date.now
  return { ...options, queue, concurrency, leaseMs, pollIntervalMs, claimBatch, now }
}

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
