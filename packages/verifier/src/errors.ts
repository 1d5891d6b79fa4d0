/** The one error the verifier throws, with a stable `code`, the HTTP status a receiver should answer and the body it answers with. */

import { WebhookError } from '@analytics-webhooks/core'

/** Why a webhook was not accepted. */
export type VerificationErrorCode =
  | 'missing_signature'
  | 'malformed_signature'
  | 'signature_mismatch'
  | 'missing_id'
  | 'missing_timestamp'
  | 'invalid_timestamp'
  | 'timestamp_out_of_tolerance'
  | 'unsigned_batch_events'
  | 'body_too_large'
  | 'body_read_failed'
  | 'invalid_json'
  | 'invalid_payload'
  | 'body_already_parsed'
  | 'invalid_secret'
  | 'invalid_options'

const STATUS: Readonly<Record<VerificationErrorCode, number>> = {
  missing_signature: 401,
  malformed_signature: 401,
  signature_mismatch: 401,
  missing_id: 401,
  missing_timestamp: 401,
  invalid_timestamp: 401,
  timestamp_out_of_tolerance: 401,
  unsigned_batch_events: 401,
  body_too_large: 413,
  body_read_failed: 400,
  invalid_json: 400,
  invalid_payload: 400,
  // The receiver's own configuration is wrong: answer 5xx so the sender retries once it is fixed.
  body_already_parsed: 500,
  invalid_secret: 500,
  invalid_options: 500,
}

/**
 * Thrown (or answered, by the adapters) when a webhook cannot be accepted.
 * Branch on `code`, never on `message`; `status` is the HTTP status the
 * adapters answer with. Messages never contain a secret or a signature. It
 * extends core's coded base, `WebhookError` (exported here too).
 *
 * @example
 * try {
 *   const { events } = verifyWebhook(rawBody, req.headers, { secret })
 * } catch (error) {
 *   if (error instanceof WebhookVerificationError) res.writeHead(error.status).end(error.code)
 *   else throw error
 * }
 */
export class WebhookVerificationError extends WebhookError<VerificationErrorCode> {
  override readonly name = 'WebhookVerificationError'
  /** HTTP status to answer: 401 for signature problems, 400 bad JSON, 413 too large, 500 receiver misconfiguration. */
  readonly status: number

  constructor(code: VerificationErrorCode, message: string) {
    super(code, message)
    this.status = STATUS[code]
  }
}

/** What the adapters answer a refused webhook with, as JSON: see {@link refusalBody}. */
export interface RefusalBody {
  readonly error: VerificationErrorCode
  /** Only for the receiver's own configuration mistakes (5xx): it says how to fix them. */
  readonly message?: string
}

/**
 * The body of every adapter's refusal: `{ "error": code }`, plus the message
 * for the receiver's own configuration mistakes (5xx), which say how to fix
 * them. Messages of other refusals stay out: they describe what the sender got wrong.
 *
 * @example
 * JSON.stringify(refusalBody(new WebhookVerificationError('signature_mismatch', 'no match'))) // '{"error":"signature_mismatch"}'
 */
export function refusalBody(error: WebhookVerificationError): RefusalBody {
  return error.status >= 500 ? { error: error.code, message: error.message } : { error: error.code }
}
