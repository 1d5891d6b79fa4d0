/** @analytics-webhooks/inspector: a local webhook receiver with a live page, signature verdicts and fault modes. */

export type { Answer, Delivery, DeliveryLogEvent, ExchangeOutcome } from './delivery-log.js'
export {
  FAULT_MODE_DESCRIPTIONS,
  FAULT_MODES,
  type FaultMode,
  type ModeChange,
  type ModeState,
} from './fault-mode.js'
export {
  createInspector,
  type Inspector,
  type InspectorInfo,
  type InspectorOptions,
} from './inspector.js'
export type { SignatureVerdict } from './verdict.js'
