/** What a delivery worker tells its store about itself (sending, backing off, paused, rate-limited, idle), so a dashboard in another process can show the destination's state. */

import type { QueueStore, WorkerState } from './store/types.js'

/** At most one report per this long: a worker flipping between sending and idle writes a few rows a second at most. */
export const REPORT_GAP_MS = 1_000
/** A state that does not change is reported again this often, so a reader can tell a live worker from a dead one (`at`). */
export const REPORT_REFRESH_MS = 30_000

/** Where reports go and how. */
export interface StateReportsConfig {
  readonly store: QueueStore
  readonly queue: string
  readonly worker: string
  readonly now: () => number
  /** A report the store refused (the worker goes on; the report is tried again with the next change). */
  readonly onError: (error: unknown) => void
}

/**
 * The worker's state as its store last heard it. {@link StateReports.set} is
 * cheap to call on every turn of the delivery loop: only a change (or a
 * refresh every {@link REPORT_REFRESH_MS}) is written, at most once per
 * {@link REPORT_GAP_MS}, the latest state winning; one write at a time. A
 * store without `reportState` (a custom one) is never called.
 *
 * @example
 * const reports = new StateReports({ store, queue: 'default', worker: 'host-1:4242', now: Date.now, onError: console.error })
 * reports.set('paused', Date.now() + 10_000) // a Retry-After: 10
 * await reports.close() // reports idle
 */
export class StateReports {
  private readonly config: StateReportsConfig
  // Two fields, not an object: set() runs once per request sent, and allocates nothing.
  private state: WorkerState['state'] = 'idle'
  private until: number | null = null
  private written: WorkerState | undefined
  /** When the last write started, successful or not: writes are {@link REPORT_GAP_MS} apart. */
  private attemptedAt = Number.NEGATIVE_INFINITY
  private writing: Promise<void> | undefined
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(config: StateReportsConfig) {
    this.config = config
  }

  /** The worker is now in `state` (until `until`, when that state ends by itself). */
  set(state: WorkerState['state'], until: number | null = null): void {
    if (!this.config.store.reportState) return
    this.state = state
    this.until = until
    this.schedule()
  }

  /** Reports `idle` (the worker stopped) and waits for the last write. */
  async close(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    await this.writing
    if (!this.config.store.reportState) return
    this.state = 'idle'
    this.until = null
    if (this.stale()) await this.write()
  }

  /** Whether what the store holds differs from the wanted state, or is due a refresh. */
  private stale(): boolean {
    const { written } = this
    return (
      written === undefined ||
      written.state !== this.state ||
      written.until !== this.until ||
      this.config.now() - written.at >= REPORT_REFRESH_MS
    )
  }

  private schedule(): void {
    if (this.writing !== undefined || this.timer !== undefined || !this.stale()) return
    const wait = this.attemptedAt + REPORT_GAP_MS - this.config.now()
    if (wait <= 0) {
      void this.write()
      return
    }
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.schedule()
    }, wait)
    // A pending report never keeps the process alive.
    this.timer.unref?.()
  }

  private write(): Promise<void> {
    const { store, queue, worker, now, onError } = this.config
    const report: WorkerState = { state: this.state, until: this.until, at: now() }
    this.attemptedAt = report.at
    this.writing = (store.reportState?.(queue, worker, report) ?? Promise.resolve())
      .then(
        () => {
          this.written = report
        },
        // Tried again with the next change or refresh, no sooner than the gap.
        onError,
      )
      .finally(() => {
        this.writing = undefined
        this.schedule()
      })
    return this.writing
  }
}
