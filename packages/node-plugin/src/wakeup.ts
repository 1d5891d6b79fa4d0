/** How the delivery loop sleeps, and what wakes it: a change, a commit (a few ms later), its timer, or stopping. */

/** How long after a commit the worker wakes, to claim what arrives meanwhile in one go. */
const ENQUEUE_WAKE_DELAY_MS = 5

/**
 * The delivery loop's sleep. A {@link Wakeup.notify} that comes while the
 * loop is awake is kept, so the next sleep returns at once and no wake-up is
 * lost between deciding to sleep and sleeping. Once stopped, every sleep
 * returns at once until {@link Wakeup.start}. It also tells those waiting
 * (`drain`) when the loop ran out of work.
 *
 * @example
 * const wakeup = new Wakeup()
 * await wakeup.sleep(5_000) // until notify(), stop() or 5 s
 * wakeup.enqueued() // after a commit: wakes the sleeper 5 ms later
 */
export class Wakeup {
  private wakeUp: (() => void) | undefined
  private poked = false
  private stopping = false
  private enqueueTimer: ReturnType<typeof setTimeout> | undefined
  private idleWaiters: (() => void)[] = []

  /** `true` from {@link Wakeup.stop} until {@link Wakeup.start}. */
  get stopped(): boolean {
    return this.stopping
  }

  /** Lets sleeps last again (after a stop). */
  start(): void {
    this.stopping = false
  }

  /** Ends the sleep now, and every later one at once; a pending {@link Wakeup.enqueued} wake-up is dropped. */
  stop(): void {
    this.stopping = true
    if (this.enqueueTimer !== undefined) clearTimeout(this.enqueueTimer)
    this.enqueueTimer = undefined
    this.notify()
  }

  /** Wakes the loop: new deliveries were committed, or something changed. */
  notify(): void {
    this.poked = true
    const wake = this.wakeUp
    if (wake) {
      this.wakeUp = undefined
      wake()
    }
  }

  /**
   * Wakes the loop soon after new deliveries were committed: a few ms later,
   * so a stream of single events is claimed in groups rather than one claim each.
   */
  enqueued(): void {
    if (this.enqueueTimer !== undefined || this.stopping) return
    this.enqueueTimer = setTimeout(() => {
      this.enqueueTimer = undefined
      this.notify()
    }, ENQUEUE_WAKE_DELAY_MS)
    this.enqueueTimer.unref()
  }

  /** Sleeps `ms` (`Infinity`: until woken); returns at once if woken since the last sleep, or stopped. */
  sleep(ms: number): Promise<void> {
    if (this.poked || this.stopping) {
      this.poked = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const timer = ms === Number.POSITIVE_INFINITY ? undefined : setTimeout(done, Math.max(0, ms))
      timer?.unref()
      const self = this
      function done(): void {
        if (timer) clearTimeout(timer)
        if (self.wakeUp === done) self.wakeUp = undefined
        self.poked = false
        resolve()
      }
      this.wakeUp = done
    })
  }

  /**
   * Resolves the next time the loop finds nothing to send with nothing in
   * flight ({@link Wakeup.wentIdle}), or after `ms`, whichever comes first.
   */
  idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== done)
        resolve()
      }, ms)
      this.idleWaiters.push(done)
    })
  }

  /** Called by the loop when it has nothing to send and nothing in flight. */
  wentIdle(): void {
    const waiters = this.idleWaiters
    if (waiters.length === 0) return
    this.idleWaiters = []
    for (const waiter of waiters) waiter()
  }
}
