/** The coded error base every package's errors extend, and the errors the shared rules raise with it. */

/**
 * The base of every error the packages raise: a stable string `code` to branch
 * on (`too_few`, `queue_in_use`, `signature_mismatch`, ...), never the message,
 * in the way undici's errors carry `UND_ERR_*` codes. Each package's error
 * extends it with its own `name` and union of codes; no message ever carries a
 * secret. It is abstract and a few lines long, since every browser page loads
 * it: `instanceof` holds within one copy of core (the verifier bundles its own
 * and exports it).
 *
 * @example
 * try { webhookPlugin(settings) } catch (e) {
 *   if (e instanceof WebhookError) console.error(e.name, e.code) // 'SettingsError' 'too_few'
 * }
 */
export abstract class WebhookError<Code extends string = string> extends Error {
  /** The subclass's own name (`SettingsError`, ...): every package's error sets it. */
  abstract override readonly name: string
  // `declare`: set by the constructor, without a class-field definition in the output (bytes every page loads).
  declare readonly code: Code

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/**
 * `value` when it is an `Error`, else an `Error` whose message is
 * `String(value)`: for reporting whatever a `catch` or a rejection caught.
 *
 * @example
 * promise.catch((e: unknown) => events.emit('error', asError(e)))
 * asError('boom').message // 'boom'
 */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value))
}

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
export class SettingsError extends WebhookError<SettingsErrorCode> {
  override readonly name = 'SettingsError'
  declare readonly field: string

  constructor(field: string, code: SettingsErrorCode, rule: string) {
    super(code, `Invalid webhook settings: ${field}: ${rule}`)
    this.field = field
  }
}

/** Why an event cannot become a webhook body. */
export type PayloadErrorCode =
  | 'unsupported_type'
  | 'invalid_event'
  | 'invalid_timestamp'
  | 'invalid_user_id'
  | 'unserializable'
  /** The `transform` option threw, or returned neither an event nor `null`. */
  | 'transform_failed'

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
export class PayloadError extends WebhookError<PayloadErrorCode> {
  override readonly name = 'PayloadError'
  declare readonly field: string

  constructor(field: string, code: PayloadErrorCode, rule: string) {
    super(code, `Invalid webhook payload: ${field}: ${rule}`)
    this.field = field
  }
}
