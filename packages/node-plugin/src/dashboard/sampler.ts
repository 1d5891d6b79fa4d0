/** One reading of the queue's counts and its workers' states per interval, shared by every page watching it, and the per-interval outcome deltas the chart draws. */

import { asError } from '@analytics-webhooks/core'
import type { QueueStats, WorkerStateRow } from '../store/types.js'

/** What one reading found. */
export interface QueueReading {
  /** The store's counts; `filtered` too when the dashboard was given a plugin. */
  readonly stats: QueueStats & { readonly filtered?: number }
  /** Each worker's last reported state, or `null` when the store does not keep them (or no single queue is shown). */
  readonly workers: readonly WorkerStateRow[] | null
}

/** Outcomes counted between two readings: what one bar of the chart shows. */
export interface ChartPoint {
  /** The earlier reading's time (ms since the epoch). */
  readonly from: number
  /** The later reading's time. */
  readonly to: number
  readonly delivered: number
  readonly retried: number
  readonly dead: number
}

/** The latest reading as the page gets it. */
export interface Sample {
  /** When it was read (ms since the epoch). */
  readonly at: number
  /** The last good reading, or `null` before the first one. */
  readonly reading: QueueReading | null
  /** Why the last attempt to read failed, or `null` when it succeeded. */
  readonly error: string | null
  /** The bar this reading added to the chart, if it added one. */
  readonly point: ChartPoint | null
}

/** Most bars the chart keeps (5 minutes at the default 2 s). */
const MAX_POINTS = 150

/**
 * Reads the queue once per `intervalMs` however many pages watch:
 * while any page subscribes, a timer reads it and hands the result to all of
 * them, and a request for the current counts gets the last reading when it is
 * recent, or joins the one under way. Each reading after another no more than
 * three intervals before it adds a chart bar: how much the store's cumulative
 * counters (`delivered`, `retried`) and `dead` grew in between. A fall (a purge
 * or replay lowers `dead`) counts as 0; a longer gap (nobody was watching)
 * starts a new run rather than drawing minutes of outcomes as one bar.
 *
 * @example
 * const sampler = new QueueSampler(async () => ({ stats: await store.stats('default'), workers: null }), 2_000)
 * const stop = sampler.subscribe((sample) => console.log(sample.reading?.stats.queued))
 */
export class QueueSampler {
  readonly intervalMs: number
  /** When the first reading was taken, or `null` before it: the chart's bars start here. */
  since: number | null = null
  private readonly read: () => Promise<QueueReading>
  private readonly now: () => number
  private readonly listeners = new Set<(sample: Sample) => void>()
  private readonly points: ChartPoint[] = []
  private last: Sample | undefined
  /** The last reading that succeeded, with its time: the base of the next bar. */
  private base: { at: number; stats: QueueStats } | undefined
  private pending: Promise<Sample> | undefined
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(read: () => Promise<QueueReading>, intervalMs: number, now: () => number = Date.now) {
    this.read = read
    this.intervalMs = intervalMs
    this.now = now
  }

  /** The chart's bars, oldest first. */
  chart(): readonly ChartPoint[] {
    return this.points
  }

  /** A reading no older than one interval: the last one, or the one under way, or a new one. */
  current(): Promise<Sample> {
    const last = this.last
    if (last && this.pending === undefined && this.now() - last.at < this.intervalMs)
      return Promise.resolve(last)
    return this.take()
  }

  /** Reads now (after an action changed the queue), sharing a reading already under way. */
  refresh(): Promise<Sample> {
    return this.take()
  }

  /** Calls `listener` with every reading from now on; the first subscriber starts the timer, the last one to leave stops it. */
  subscribe(listener: (sample: Sample) => void): () => void {
    this.listeners.add(listener)
    if (this.timer === undefined && !this.closed) this.schedule()
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) {
        clearTimeout(this.timer)
        this.timer = undefined
      }
    }
  }

  /** Stops the timer and forgets the listeners. */
  close(): void {
    this.closed = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.listeners.clear()
  }

  // The next reading is timed from the end of the last one, so a slow store is never read twice at once.
  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.take().finally(() => {
        if (this.timer !== undefined && this.listeners.size > 0 && !this.closed) this.schedule()
      })
    }, this.intervalMs)
    this.timer.unref()
  }

  private take(): Promise<Sample> {
    this.pending ??= this.readOnce().finally(() => {
      this.pending = undefined
    })
    return this.pending
  }

  private async readOnce(): Promise<Sample> {
    let reading: QueueReading | undefined
    let error: string | null = null
    try {
      reading = await this.read()
    } catch (caught) {
      error = asError(caught).message
    }
    const at = this.now()
    const point = reading ? this.addPoint(at, reading.stats) : null
    const sample: Sample = {
      at,
      reading: reading ?? this.last?.reading ?? null,
      error,
      point,
    }
    this.last = sample
    for (const listener of this.listeners) listener(sample)
    return sample
  }

  private addPoint(at: number, stats: QueueStats): ChartPoint | null {
    const base = this.base
    this.since ??= at
    // A reading soon after the last (an action asked for it) leaves the bar to the next one, so bars stay about an interval wide.
    if (base && at - base.at < this.intervalMs / 2) return null
    this.base = { at, stats }
    if (!base || at - base.at > 3 * this.intervalMs) return null
    const grew = (now: number, before: number) => Math.max(0, now - before)
    const point: ChartPoint = {
      from: base.at,
      to: at,
      delivered: grew(stats.delivered, base.stats.delivered),
      retried: grew(stats.retried, base.stats.retried),
      dead: grew(stats.dead, base.stats.dead),
    }
    this.points.push(point)
    if (this.points.length > MAX_POINTS) this.points.shift()
    return point
  }
}
