/** Errors raised by the shared rules, each with a stable `code` callers can branch on. */

/** What is wrong with a settings object. */
export type SettingsErrorCode =
  | 'invalid_type'
  | 'required'
  | 'unknown_field'
  | 'too_few'
  | 'too_many'
  | 'invalid_url'
  | 'unsupported_protocol'
  | 'credentials_in_url'
  | 'duplicate'
  | 'invalid_header_name'
  | 'invalid_header_value'
  | 'reserved_header'
  | 'empty_secret'
  | 'invalid_secret'
  | 'out_of_range'
  | 'invalid_choice'

/**
 * Thrown by {@link parseSettings} when an option breaks a rule. `field` names the
 * option (`webhooks[2]`, `headers.X-Team`, `batchSize`), `code` names the rule.
 * The message never contains the shared secret.
 *
 * @example
 * try { parseSettings({ webhooks: [] }) } catch (e) {
 *   if (e instanceof SettingsError) console.log(e.field, e.code) // 'webhooks' 'too_few'
 * }
 */
export class SettingsError extends Error {
  override readonly name = 'SettingsError'
  readonly field: string
  readonly code: SettingsErrorCode

  constructor(field: string, code: SettingsErrorCode, rule: string) {
    super(`Invalid webhook settings: ${field}: ${rule}`)
    this.field = field
    this.code = code
  }
}

/** Why an event cannot become a webhook body. */
export type PayloadErrorCode =
  | 'unsupported_type'
  | 'invalid_event'
  | 'invalid_timestamp'
  | 'invalid_user_id'
  | 'unserializable'

/**
 * Thrown when an event cannot be turned into a webhook body (unknown type,
 * circular structure, BigInt, ...). Deliveries record it as the permanent
 * reason `invalid_payload`.
 *
 * @example
 * try { serializePayload(circular) } catch (e) {
 *   if (e instanceof PayloadError) console.log(e.code) // 'unserializable'
 * }
 */
export class PayloadError extends Error {
  override readonly name = 'PayloadError'
  readonly field: string
  readonly code: PayloadErrorCode

  constructor(field: string, code: PayloadErrorCode, rule: string) {
    super(`Invalid webhook payload: ${field}: ${rule}`)
    this.field = field
    this.code = code
  }
}
