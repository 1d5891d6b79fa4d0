/** The inspector's fault modes: how it answers the next deliveries, so a sender's retries can be watched. */

/** How the inspector answers a delivery. */
export type FaultMode = 'normal' | '500' | '429' | 'hang' | 'drop'

/** Every fault mode, in the order the page shows them. */
export const FAULT_MODES: readonly FaultMode[] = ['normal', '500', '429', 'hang', 'drop']

/** What a sender sees in each mode, in words (shown on the page and in the CLI). */
export const FAULT_MODE_DESCRIPTIONS: Readonly<Record<FaultMode, string>> = {
  normal: 'answer 200',
  '500': 'answer 500 Internal Server Error',
  '429': 'answer 429 Too Many Requests with Retry-After',
  hang: 'hold the request past the 5 s timeout without answering',
  drop: 'destroy the connection without answering',
}

/** The current mode and how many more deliveries it applies to. */
export interface ModeState {
  readonly mode: FaultMode
  /** Deliveries left before the mode returns to `normal` by itself; `null` until changed. */
  readonly remaining: number | null
}

/** A requested change, as `POST /api/mode` takes it. */
export interface ModeChange {
  mode: FaultMode
  /** Apply the mode to this many deliveries only, then return to `normal`. */
  times?: number
}

/** Thrown for a mode change that is not valid; `POST /api/mode` answers it with 400. */
export class ModeChangeError extends Error {
  override readonly name = 'ModeChangeError'
}

/**
 * Checks an untrusted mode change (a parsed JSON body).
 *
 * @example
 * parseModeChange({ mode: '500', times: 1 }) // { mode: '500', times: 1 }
 */
export function parseModeChange(input: unknown): ModeChange {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ModeChangeError('expected a JSON object like {"mode":"500"}')
  }
  const { mode, times } = input as { mode?: unknown; times?: unknown }
  if (typeof mode !== 'string' || !(FAULT_MODES as readonly string[]).includes(mode)) {
    throw new ModeChangeError(`mode must be one of ${FAULT_MODES.join(', ')}`)
  }
  if (times === undefined || times === null) return { mode: mode as FaultMode }
  if (typeof times !== 'number' || !Number.isInteger(times) || times < 1) {
    throw new ModeChangeError('times must be a whole number of at least 1')
  }
  return { mode: mode as FaultMode, times }
}

/**
 * The switch the page's buttons flip. Each arriving delivery takes the current
 * mode; a mode set for a number of deliveries returns to `normal` after them.
 *
 * @example
 * const modes = new FaultSwitch()
 * modes.set({ mode: '500', times: 1 })
 * modes.take() // '500'
 * modes.take() // 'normal'
 */
export class FaultSwitch {
  private state: ModeState = { mode: 'normal', remaining: null }
  private readonly listeners = new Set<(state: ModeState) => void>()

  /** The mode the next delivery will get. */
  current(): ModeState {
    return this.state
  }

  /** Changes the mode and tells the listeners. */
  set(change: ModeChange): ModeState {
    const checked = parseModeChange(change)
    const remaining = checked.mode === 'normal' ? null : (checked.times ?? null)
    this.state = { mode: checked.mode, remaining }
    this.notify()
    return this.state
  }

  /** The mode for one arriving delivery; counts it against `remaining`. */
  take(): FaultMode {
    const { mode, remaining } = this.state
    if (remaining !== null) {
      this.state =
        remaining > 1 ? { mode, remaining: remaining - 1 } : { mode: 'normal', remaining: null }
      this.notify()
    }
    return mode
  }

  /** Calls `listener` on every change; returns a function that stops it. */
  subscribe(listener: (state: ModeState) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private notify(): void {
    for (const listener of this.listeners) listener(this.state)
  }
}
