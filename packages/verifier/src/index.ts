/** `@analytics-webhooks/verifier`: verify classic (`X-Signature`) and Standard Webhooks signatures on raw bodies. */

// Core's coded base of every error: `WebhookVerificationError` extends it.
export { WebhookError } from '@analytics-webhooks/core'
export { type VerificationErrorCode, WebhookVerificationError } from './errors.js'
export { firstElementRange } from './first-element.js'
export { type HeaderSource, readHeader } from './headers.js'
export {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TOLERANCE_SECONDS,
  type VerificationScheme,
  type VerifyOptions,
} from './options.js'
export type { RawBody, VerifiedWebhook, WebhookEvent } from './rules.js'
export { verifyWebhook } from './verify-node.js'
export { verifyWebhookAsync } from './verify-web.js'
