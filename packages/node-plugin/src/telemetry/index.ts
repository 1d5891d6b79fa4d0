/** Whether the plugin measures anything: one check when the worker starts, and the telemetry it loads only when an OpenTelemetry SDK is registered. */

import type * as OpenTelemetry from '@opentelemetry/api'
import { version } from '../../package.json'
import type { Telemetry, TelemetryConfig } from './telemetry.js'

/** The instrumentation scope the plugin's tracer and meter are named by. */
export const INSTRUMENTATION_SCOPE = '@analytics-webhooks/node-plugin'

/**
 * The plugin's telemetry, or `undefined` when there is nothing to measure
 * into: `@opentelemetry/api` is not installed (an optional peer dependency;
 * the dynamic import fails and is caught), or it is but neither a tracer nor
 * a meter provider is registered. Only then is the rest loaded (the
 * instruments, spans and the tracked-trace listener), so a process without
 * an SDK pays for one import and nothing per delivery. Decided once, when
 * the worker starts: an SDK registered after that is not used by this
 * plugin, so register it before `analytics.register(plugin)`. Never throws:
 * whatever goes wrong here, delivery goes on unmeasured.
 *
 * @example
 * const telemetry = await loadTelemetry({ webhooks, method: 'POST', queue, stats: () => store.stats(queue), sendTraceparent: false, now: Date.now })
 * telemetry?.delivered(request)
 */
export async function loadTelemetry(
  config: Omit<TelemetryConfig, 'tracer' | 'meter'>,
): Promise<Telemetry | undefined> {
  let api: typeof OpenTelemetry
  try {
    api = await import('@opentelemetry/api')
  } catch {
    return undefined
  }
  try {
    const tracer = registeredTracer(api)
    const meter = registeredMeter(api)
    if (tracer === undefined && meter === undefined) return undefined
    const { Telemetry } = await import('./telemetry.js')
    return new Telemetry({ ...config, tracer, meter })
  } catch {
    return undefined
  }
}

/**
 * One plugin's telemetry, decided once (see {@link loadTelemetry}), with what
 * it needs meanwhile: the decision starts when the worker does, hooks that
 * come before it ends wait for it, and the analytics instance whose tracked
 * traces it records may be known before or after.
 *
 * @example
 * const decision = new TelemetryDecision(() => loadTelemetry(config))
 * decision.watch(analytics)
 * const telemetry = await decision.decide() // undefined: nothing to measure into
 * decision.current?.filtered(1, 'events') // no wait, once decided
 */
export class TelemetryDecision {
  private readonly load: () => Promise<Telemetry | undefined>
  private deciding: Promise<Telemetry | undefined> | undefined
  private analytics: unknown
  /** The telemetry once decided; `undefined` before, and after when there is nothing to measure into. */
  current: Telemetry | undefined
  /** Whether the decision has been made. */
  decided = false

  constructor(load: () => Promise<Telemetry | undefined>) {
    this.load = load
  }

  /** Decides, the first time it is called; resolves with the telemetry (or `undefined`). */
  decide(): Promise<Telemetry | undefined> {
    this.deciding ??= this.load().then((telemetry) => {
      telemetry?.watch(this.analytics)
      this.current = telemetry
      this.decided = true
      return telemetry
    })
    return this.deciding
  }

  /** Resolves once the decision is made, if it has started; at once otherwise. */
  async settled(): Promise<void> {
    if (!this.decided) await this.deciding
  }

  /** Records the traces of the events `analytics` tracks, now or once decided. */
  watch(analytics: unknown): void {
    this.analytics = analytics
    this.current?.watch(analytics)
  }

  /** Stops measuring (the queue-depth gauge reads the store: call before it closes). */
  async close(): Promise<void> {
    ;(await this.deciding)?.close()
  }
}

/**
 * The registered SDK's tracer, or `undefined`. The API's global tracer
 * provider is a proxy whose delegate is the SDK's provider once one is
 * registered: `getDelegateTracer` returns `undefined` until then, whereas
 * `getTracer` would hand out a tracer of no-op spans.
 */
function registeredTracer(api: typeof OpenTelemetry): OpenTelemetry.Tracer | undefined {
  const provider = api.trace.getTracerProvider() as OpenTelemetry.TracerProvider & {
    getDelegateTracer?: (name: string, version?: string) => OpenTelemetry.Tracer | undefined
  }
  return typeof provider.getDelegateTracer === 'function'
    ? provider.getDelegateTracer(INSTRUMENTATION_SCOPE, version)
    : provider.getTracer(INSTRUMENTATION_SCOPE, version)
}

/** The registered SDK's meter, or `undefined`: with no meter provider the API hands out its one no-op meter. */
function registeredMeter(api: typeof OpenTelemetry): OpenTelemetry.Meter | undefined {
  const meter = api.metrics.getMeter(INSTRUMENTATION_SCOPE, version)
  return meter === api.createNoopMeter() ? undefined : meter
}

export type { FilterReason } from './metrics.js'
export type { Telemetry } from './telemetry.js'
