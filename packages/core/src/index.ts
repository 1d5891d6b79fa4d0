/** @analytics-webhooks/core: the runtime-neutral rules every plugin and the verifier share. No I/O. */

export {
  DestinationBackoff,
  type DestinationBackoffOptions,
  type Gate,
  MAX_RETRY_AFTER_MS,
} from './backoff.js'
export {
  assembleBatch,
  type BatchLimits,
  batchSizes,
  singleBody,
  utf8Length,
  type WebhookBody,
} from './body.js'
export {
  type AttemptResult,
  classifyError,
  classifyFetchError,
  classifyResponse,
  type PermanentReason,
  parseRetryAfter,
  type ReasonCode,
  type TemporaryReason,
  type Verdict,
} from './classify.js'
export {
  DESTINATION_NAME,
  type DeadReport,
  type DeliveredReport,
  type DeliveryReports,
  type RetryReport,
} from './destination.js'
export {
  asError,
  PayloadError,
  type PayloadErrorCode,
  SettingsError,
  type SettingsErrorCode,
  WebhookError,
} from './errors.js'
export { CALL_TYPES, type EventFilter, type EventsInput, sendsEvent } from './filter.js'
export { fanOutOutcome, type Outcome } from './outcome.js'
export {
  type DeletePayload,
  type EventType,
  encodeEvent,
  type SegmentEvent,
  serializePayload,
  toDeletePayload,
  toWebhookPayload,
  type WebhookPayload,
} from './payload.js'
export { MIN_REQUESTS_PER_SECOND, RequestRate } from './rate.js'
export { requestId } from './request-id.js'
export { type RetryDecision, RetrySchedule, type RetryScheduleOptions } from './schedule.js'
export { decodeStandardSecret } from './secret.js'
export {
  DEFAULTS,
  LIMITS,
  parseEvents,
  parseSettings,
  RESERVED_HEADERS,
  type SignatureScheme,
  type WebhookMethod,
  type WebhookSettings,
  type WebhookSettingsInput,
} from './settings.js'
export {
  assembleHeaders,
  classicSignedText,
  type Hmac,
  hmacWebCrypto,
  type SignatureContext,
  type SigningSettings,
  signatureHeaders,
  signatureParts,
  standardSignedText,
  toBase64,
  toHex,
} from './signing.js'
export { closestName, didYouMean, editDistance } from './suggest.js'
export { type Transform, transformBody } from './transform.js'

/** The `User-Agent` Segment's webhooks send (Node only; browsers do not allow setting it). */
export const USER_AGENT = 'Segment.io/1.0'
