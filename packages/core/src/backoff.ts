/** Destination-wide backoff: when every URL keeps failing, stop sending and probe instead of retrying each event. */

import { equalJitter } from './jitter.js'

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
 * backlog drains at full speed; a failed probe waits longer.
 *
 * @example
 * const gate = backoff.gate(Date.now())
 * if (gate.state === 'wait') sleepUntil(gate.until)
 * else { if (gate.state === 'probe') backoff.probeStarted(); send(one); backoff.record(outcome.verdict, Date.now()) }
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
    if (this.waits === 0) return { state: 'open' }
    if (this.probing) return { state: 'wait', until: now + this.baseDelayMs }
    if (now >= this.probeAt) return { state: 'probe' }
    return { state: 'wait', until: this.probeAt }
  }

  /** Call when the probe the gate allowed is sent. */
  probeStarted(): void {
    this.probing = true
  }

  /** Feeds a delivery's outcome in. */
  record(verdict: 'delivered' | 'retry' | 'permanent', now: number): void {
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
