/** The delivery loop: claims due deliveries with a lease, fans each out to every URL, and records the outcome. */

import {
  type AttemptResult,
  type DestinationBackoff,
  fanOutOutcome,
  type Outcome,
  type RequestRate,
  USER_AGENT,
} from '@analytics-webhooks/core'
import { signatureHeadersSync } from '@analytics-webhooks/core/node'
import type { Dispatcher } from 'undici'
import { half, type Unit, unitId } from './claims.js'
import { Completions } from './completions.js'
import { storeFailure } from './errors.js'
import { attempt, type Target, toTarget } from './http.js'
import type { ClaimedRequest } from './store/types.js'
import { RequestSupply, type SupplyConfig } from './supply.js'
import type { Telemetry } from './telemetry/index.js'
import { Wakeup } from './wakeup.js'
import { StateReports } from './worker-state.js'

/** What the delivery loop needs; the plugin builds it from settings and options. */
export interface DeliveryWorkerConfig extends SupplyConfig {
  readonly dispatcher: Dispatcher
  /** Requests in flight at once (each fanned out to every URL). */
  readonly concurrency: number
  /** The longest the loop sleeps when idle, so other processes' enqueues and replays are seen. */
  readonly pollIntervalMs: number
  readonly backoff: DestinationBackoff
  /** The `maxRequestsPerSecond` option's pacing, when it is set. */
  readonly rate?: RequestRate | undefined
  /** Spans and metrics, when an OpenTelemetry SDK is registered; `undefined` measures nothing. */
  readonly telemetry?: Telemetry | undefined
}

/**
 * Delivers a queue. One async loop decides what to send (gated by the
 * destination-wide backoff, which a `Retry-After` pauses: no request starts
 * before then, the probe included) and launches up to `concurrency`
 * requests; each request records its own outcome. Idle, it sleeps until the next delivery
 * is due, new events are enqueued ({@link DeliveryWorker.enqueued}), or
 * `pollIntervalMs` passes. Memory is bounded by 1.25 × `claimBatch` (see {@link RequestSupply}).
 *
 * @example
 * const worker = new DeliveryWorker(config)
 * worker.start()
 * worker.enqueued() // after an enqueue commits
 * await worker.stop()
 */
export class DeliveryWorker {
  private readonly config: DeliveryWorkerConfig
  private readonly targets: readonly Target[]
  private readonly baseHeaders: Readonly<Record<string, string>>
  /** Whether requests carry a `webhook-id` (Standard Webhooks signing). */
  private readonly signsIds: boolean
  private readonly supply: RequestSupply
  private active = 0
  private readonly inFlight = new Set<Promise<void>>()
  private readonly completions: Completions
  private readonly wakeup = new Wakeup()
  /** Reports a failure of the store (or of the loop itself) as an `error` event naming the store. */
  private readonly report = (error: unknown): void => {
    this.config.events.emit('error', storeFailure(this.config.label, error))
  }
  private running: Promise<void> | undefined
  /** What the store last heard of this worker's state (for a dashboard in another process). */
  private readonly states: StateReports

  constructor(config: DeliveryWorkerConfig) {
    this.config = config
    this.states = new StateReports({
      store: config.store,
      queue: config.queue,
      worker: config.workerId,
      now: config.now,
      onError: this.report,
    })
    this.supply = new RequestSupply(config, (expired) => this.expire(expired))
    this.completions = new Completions(config.store, config.queue, this.report)
    this.targets = config.settings.webhooks.map(toTarget)
    const { sharedSecret, signature } = config.settings
    this.signsIds = sharedSecret !== undefined && signature !== 'classic'
    this.baseHeaders = {
      'user-agent': USER_AGENT,
      'content-type': 'application/json',
      ...withoutTraceparent(config.settings.headers, config.telemetry?.sendsTraceparent === true),
    }
  }

  /** Starts the loop (once). */
  start(): void {
    if (this.running) return
    this.wakeup.start()
    this.running = this.run()
  }

  /** Waits until every delivered request is recorded in the store. */
  flushCompletions(): Promise<void> {
    return this.completions.flush()
  }

  /**
   * Wakes the loop soon after new deliveries were committed: a few ms later,
   * so a stream of single events is claimed in groups rather than one claim each.
   */
  enqueued(): void {
    this.wakeup.enqueued()
  }

  /**
   * Resolves the next time the worker finds nothing to send with nothing in
   * flight, or after `ms`, whichever comes first (`drain` waits with it).
   */
  idle(ms: number): Promise<void> {
    return this.wakeup.idle(ms)
  }

  /** Stops claiming, lets requests in flight finish, gives unsent claims back and records everything. */
  async stop(): Promise<void> {
    this.wakeup.stop()
    await this.running
    this.running = undefined
    await Promise.all(this.inFlight)
    await this.supply.release()
    await this.flushCompletions()
    await this.states.close()
  }

  private async run(): Promise<void> {
    const { backoff, now } = this.config
    const { wakeup } = this
    while (!wakeup.stopped) {
      try {
        const gate = backoff.gate(now())
        if (gate.state === 'wait') {
          // A Retry-After pause, or a backoff after failures (then a probe goes at `until`).
          this.states.set(now() < backoff.pausedUntil ? 'paused' : 'backing_off', gate.until)
          await this.supply.release()
          await wakeup.sleep(gate.until - now())
          continue
        }
        if (this.active >= (gate.state === 'probe' ? 1 : this.config.concurrency)) {
          await wakeup.sleep(Number.POSITIVE_INFINITY) // a finishing request wakes us
          continue
        }
        const { rate } = this.config
        const paced = rate?.wait(now()) ?? 0
        if (rate && paced > 0) {
          // Waiting its turn at the configured rate is sending; below it, a 429 slowed us down.
          this.states.set(rate.perSecond < rate.max ? 'rate_limited' : 'sending')
          await wakeup.sleep(paced)
          continue
        }
        const unit = await this.supply.take(gate.state === 'probe')
        if (unit === undefined) {
          if (this.active === 0) {
            this.states.set('idle')
            wakeup.wentIdle()
          }
          await wakeup.sleep(this.active > 0 ? this.config.pollIntervalMs : await this.idleFor())
          continue
        }
        if (backoff.gate(now()).state !== gate.state) {
          // An answer came while claiming (a Retry-After pause, the destination going down): the
          // gate decides again, and a pause gives this request back with the rest of the buffer.
          this.supply.giveBack(unit.request)
          continue
        }
        if (gate.state === 'probe') backoff.probeStarted()
        this.config.rate?.spend(now(), this.targets.length)
        this.states.set('sending')
        this.launch(unit)
      } catch (error) {
        this.report(error)
        await wakeup.sleep(Math.min(1000, this.config.pollIntervalMs))
      }
    }
  }

  /** How long to sleep with nothing to send: until the next delivery is due, at most `pollIntervalMs`. */
  private async idleFor(): Promise<number> {
    const next = await this.config.store.nextDueAt(this.config.queue)
    if (next === null) return this.config.pollIntervalMs
    return Math.min(this.config.pollIntervalMs, Math.max(5, next - this.config.now()))
  }

  /**
   * Dead-letters requests whose window closed before they were sent, in one
   * store write per attempt count (never attempted ones say so), not one per request.
   */
  private async expire(expired: readonly ClaimedRequest[]): Promise<void> {
    const byAttempts = new Map<number, ClaimedRequest[]>()
    for (const request of expired) {
      const same = byAttempts.get(request.attempts)
      if (same) same.push(request)
      else byAttempts.set(request.attempts, [request])
    }
    for (const [attempts, requests] of byAttempts) {
      const last = requests[0] as ClaimedRequest
      await this.kill(requests, {
        reason: 'expired',
        status: last.lastStatus ?? undefined,
        detail:
          attempts === 0
            ? 'retry window closed; never attempted'
            : `retry window closed; last failure: ${last.lastReason ?? 'unknown'}`,
        attempted: false,
      })
    }
  }

  private launch(unit: Unit): void {
    this.active++
    const sending: Promise<void> = this.send(unit)
      .catch(this.report)
      .finally(() => {
        this.active--
        this.inFlight.delete(sending)
        this.wakeup.notify()
      })
    this.inFlight.add(sending)
  }

  private async send(unit: Unit): Promise<void> {
    const { settings, dispatcher, now, backoff } = this.config
    const signatures = signatureHeadersSync(settings, unit.body, {
      id: this.signsIds ? unitId(unit) : '',
      timestamp: Math.floor(now() / 1000),
    })
    const headers = { ...this.baseHeaders, ...signatures }
    const { telemetry } = this.config
    const { method, timeoutMs } = settings
    const json = unit.body.json
    const hit: (target: Target, index: number) => Promise<AttemptResult> =
      telemetry === undefined
        ? (target) => attempt(dispatcher, target, method, headers, json, timeoutMs, now)
        : (target, index) =>
            telemetry.attempt(index, unit.request, headers, (sent, seen) =>
              attempt(dispatcher, target, method, sent, json, timeoutMs, now, seen),
            )
    // One URL (the common case) skips the Promise.all and the array it maps.
    const targets = this.targets
    const results: AttemptResult[] =
      targets.length === 1
        ? [await hit(targets[0] as Target, 0)]
        : await Promise.all(targets.map(hit))
    const outcome = fanOutOutcome(results)
    const wasDown = backoff.isDown
    // A Retry-After pauses the whole queue, not only this request (see DestinationBackoff).
    backoff.record(outcome.verdict, now(), outcome.retryAfterMs)
    this.config.rate?.record(outcome) // maxRequestsPerSecond: slower after a bare 429, faster on delivery
    if (
      outcome.reason === 'http_413' &&
      outcome.verdict === 'permanent' &&
      unit.request.deliveries.length > 1
    ) {
      await this.split(unit)
      return
    }
    if (outcome.verdict === 'delivered') await this.delivered(unit, outcome, wasDown)
    else if (outcome.verdict === 'retry') await this.retry(unit, outcome)
    else {
      await this.kill([unit.request], {
        reason: outcome.reason,
        status: outcome.status,
        detail: describeFailure(outcome.attempts),
        attempted: true,
      })
    }
  }

  /**
   * A batch answered 413 Payload Too Large: its deliveries go out at once as
   * two halves, each a new request with its own id (and split again if still
   * too large). One event answered 413 is dead-lettered `http_413`.
   */
  private async split(unit: Unit): Promise<void> {
    const { request } = unit
    const count = request.deliveries.length
    const middle = Math.ceil(count / 2)
    for (const part of [half(request, 0, middle), half(request, middle, count)]) {
      await this.send(part)
    }
  }

  private async delivered(unit: Unit, outcome: Outcome, wasDown: boolean): Promise<void> {
    const { request } = unit
    this.completions.add(request)
    this.config.telemetry?.delivered(request)
    const { events } = this.config
    if (events.has('delivered')) {
      events.emit('delivered', {
        ids: request.deliveries.map((d) => d.id),
        messageIds: request.deliveries.map((d) => d.messageId),
        attempts: request.attempts + 1,
        status: outcome.status,
      })
    }
    if (wasDown) {
      // Recovered: everything waiting on its own retry clock is due now, to drain at full speed.
      await this.config.store.wake(this.config.queue, this.config.now())
      this.wakeup.notify()
    }
  }

  /**
   * Schedules a failed request's deliveries again. A batch is retried as it
   * was sent: one schedule for all of them (its most attempted delivery's
   * count, its oldest delivery's window), bound to its id in body order, so
   * the next attempt, the probe included, sends the same bytes under the same
   * id. One event sent alone (not in an array) keeps its own schedule.
   */
  private async retry(unit: Unit, outcome: Outcome): Promise<void> {
    const { store, queue, now, schedule, events } = this.config
    const { request } = unit
    const attempts = request.attempts + 1
    const decision = schedule.next({
      attempts,
      enqueuedAt: request.enqueuedAt,
      now: now(),
      ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }),
    })
    if (decision.verdict === 'expired') {
      await this.kill([request], {
        reason: 'expired',
        status: outcome.status,
        detail: `retry window closed; last failure: ${outcome.reason}`,
        attempted: true,
      })
      return
    }
    await store.retry(queue, request, {
      at: decision.at,
      attempts,
      reason: outcome.reason,
      status: outcome.status ?? null,
      requestId: unit.body.isBatch ? unitId(unit) : null,
    })
    this.config.telemetry?.retried(request.deliveries.length, outcome.reason)
    if (events.has('retry')) {
      events.emit('retry', {
        ids: request.deliveries.map((d) => d.id),
        reason: outcome.reason,
        status: outcome.status,
        attempts,
        at: decision.at,
      })
    }
  }

  /** Dead-letters requests that share one attempt count, with one report. */
  private async kill(
    requests: readonly ClaimedRequest[],
    death: {
      reason: Outcome['reason']
      status: number | undefined
      detail: string | null
      attempted: boolean
    },
  ): Promise<void> {
    const { store, queue, now, events } = this.config
    const attempts = (requests[0] as ClaimedRequest).attempts + (death.attempted ? 1 : 0)
    await store.kill(queue, requests, {
      now: now(),
      attempts,
      reason: death.reason,
      status: death.status ?? null,
      detail: death.detail,
    })
    const ids: string[] = []
    for (const request of requests) for (const d of request.deliveries) ids.push(d.id)
    this.config.telemetry?.dead(ids.length, death.reason)
    events.emit('dead', {
      ids,
      reason: death.reason,
      status: death.status,
      attempts,
      detail: death.detail,
    })
  }
}

/**
 * The user's headers without any `traceparent` (in any case) when the plugin
 * sends its own: the receiver would get two, which Node and others join into one invalid value.
 */
function withoutTraceparent(
  headers: Readonly<Record<string, string>>,
  sendsTraceparent: boolean,
): Readonly<Record<string, string>> {
  if (!sendsTraceparent) return headers
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'traceparent'),
  )
}

/** A short, secret-free summary of every URL's result: URLs are named by index, never printed. */
function describeFailure(attempts: readonly AttemptResult[]): string {
  return attempts
    .map(
      (a, i) =>
        `webhooks[${i}]: ${a.reason}${a.detail === undefined ? '' : `: ${a.detail}`}${a.status === undefined ? '' : ` (HTTP ${a.status})`}`,
    )
    .join('; ')
}
