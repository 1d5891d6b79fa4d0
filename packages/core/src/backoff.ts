/** Destination-wide backoff: when every URL keeps failing, or asks to wait (`Retry-After`), stop sending and probe instead of retrying each event. */

import { equalJitter } from './jitter.js'

/**
 * The longest a `Retry-After` holds the whole destination: 1 h. A longer ask
 * is cut to this, and the probe goes then (the deliveries that were answered
 * keep their own, longer wait, within their retry window).
 */
export const MAX_RETRY_AFTER_MS = 3_600_000

/** Tuning for {@link DestinationBackoff}. */
export interface DestinationBackoffOptions {
  /** Consecutive retry outcomes before the destination is considered down. Default 3. */
  threshold?: number
  /** The first wait before a probe. Default 1 s. */
  baseDelayMs?: number
  /** The longest wait between probes. Default 60 s. */
  maxDelayMs?: number
  /** A source of numbers in [0, 1). Default `Math.random`. */
  random?: () => number
}

/** What a sender may do now. */
export type Gate =
  | { readonly state: 'open' }
  | { readonly state: 'probe' }
  | { readonly state: 'wait'; readonly until: number }

/**
 * A small state machine, clock passed in: `open` while the destination
 * answers; after `threshold` consecutive temporary failures it waits (with
 * randomised exponential backoff), then allows one probe; a probe that is
 * delivered (or any delivered or permanent outcome) opens it again, so the
 * backlog drains at full speed; a failed probe waits longer. A temporary
 * failure with a `Retry-After` (any of them, below the threshold too) pauses
 * the destination until then, at most {@link MAX_RETRY_AFTER_MS}: nothing is
 * sent before that moment, the probe included, and nothing answered while
 * paused (requests that were in flight) ends the pause; a probe goes first after it.
 *
 * @example
 * const gate = backoff.gate(Date.now())
 * if (gate.state === 'wait') sleepUntil(gate.until)
 * else { if (gate.state === 'probe') backoff.probeStarted(); send(one); backoff.record(outcome.verdict, Date.now(), outcome.retryAfterMs) }
 */
export class DestinationBackoff {
  private readonly threshold: number
  private readonly baseDelayMs: number
  private readonly maxDelayMs: number
  private readonly random: () => number
  private failures = 0
  private waits = 0
  private probeAt = 0
  private probing = false
  /**
   * Until when a `Retry-After` holds every request back (ms since the epoch;
   * in the past when none does): a `wait` gate before this is a pause, after
   * it a backoff. Read it, never set it.
   */
  pausedUntil = 0

  constructor(options: DestinationBackoffOptions = {}) {
    this.threshold = options.threshold ?? 3
    this.baseDelayMs = options.baseDelayMs ?? 1_000
    this.maxDelayMs = options.maxDelayMs ?? 60_000
    this.random = options.random ?? Math.random
  }

  /** `true` while the destination is considered down. */
  get isDown(): boolean {
    return this.waits > 0
  }

  /** Whether to send freely, send one probe, or wait. */
  gate(now: number): Gate {
    if (now < this.pausedUntil) return { state: 'wait', until: this.pausedUntil }
    if (this.waits === 0) return { state: 'open' }
    if (this.probing) return { state: 'wait', until: now + this.baseDelayMs }
    if (now >= this.probeAt) return { state: 'probe' }
    return { state: 'wait', until: this.probeAt }
  }

  /** Call when the probe the gate allowed is sent. */
  probeStarted(): void {
    this.probing = true
  }

  /**
   * Feeds a delivery's outcome in, with the `Retry-After` (ms) of a `retry`
   * outcome that had one.
   *
   * @example
   * backoff.record('retry', Date.now(), 10_000) // a 429 with Retry-After: 10: nothing is sent for 10 s
   */
  record(verdict: 'delivered' | 'retry' | 'permanent', now: number, retryAfterMs?: number): void {
    // Retry-After: 0 (or none) asks for no pause.
    if (retryAfterMs) {
      const asked = now + Math.min(retryAfterMs, MAX_RETRY_AFTER_MS)
      this.pausedUntil = Math.max(this.pausedUntil, asked)
    }
    if (now < this.pausedUntil) {
      // Nothing starts while paused, so this answer is from a request already in flight: whatever
      // it says, the pause holds, and a probe goes first when it ends.
      this.waits ||= 1
      this.probing = false
      return
    }
    if (verdict !== 'retry') {
      this.failures = 0
      this.waits = 0
      this.probing = false
      return
    }
    this.failures++
    if (this.waits === 0 && this.failures < this.threshold) return
    if (this.waits > 0 && !this.probing) return // a straggler that was in flight before we stopped
    this.probing = false
    this.waits++
    this.probeAt = now + equalJitter(this.waits, this.baseDelayMs, this.maxDelayMs, this.random)
  }
}
