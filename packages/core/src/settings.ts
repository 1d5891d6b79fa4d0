/** Validates and normalises the webhook destination's settings. */

import { SettingsError } from './errors.js'
import { CALL_TYPES, type EventFilter, type EventsInput } from './filter.js'
import { decodeStandardSecret } from './secret.js'
import { didYouMean } from './suggest.js'

// Also here for the browser plugin, which imports core by subpath (package.json has no `./suggest`).
export { didYouMean }

/** Which signature headers are sent. */
export type SignatureScheme = 'classic' | 'standard' | 'both'

/** HTTP method used for deliveries. */
export type WebhookMethod = 'POST' | 'PUT' | 'PATCH'

/** Settings as a user writes them. Only `webhooks` is required. */
export interface WebhookSettingsInput {
  /** 1 to 5 distinct http(s) URLs; every delivery goes to all of them at once. */
  webhooks: readonly string[]
  /** Extra request headers, e.g. `{ 'X-Team': 'growth' }`. */
  headers?: Readonly<Record<string, string>>
  /** Signs each request. Classic: HMAC-SHA1 over the UTF-8 string; standard: base64 key, `whsec_` prefix optional. */
  sharedSecret?: string
  /** Which signature headers to send when a secret is set. Default `classic`. */
  signature?: SignatureScheme
  /** Events per request; 1 (default) sends one event per request, 2..1000 sends JSON arrays. */
  batchSize?: number
  /** Default `POST`. */
  method?: WebhookMethod
  /** Time allowed for one whole exchange with one URL. Default 5000 (5 s). */
  timeoutMs?: number
  /** How long after enqueue a delivery is retried before it expires. Default 4 h. */
  retryWindowMs?: number
  /** Which calls this destination sends (include and/or exclude lists); default every call. */
  events?: EventsInput
}

/** Settings after validation: complete, frozen, safe to share. */
export interface WebhookSettings {
  readonly webhooks: readonly string[]
  readonly headers: Readonly<Record<string, string>>
  readonly sharedSecret: string | undefined
  readonly signature: SignatureScheme
  readonly batchSize: number
  readonly method: WebhookMethod
  readonly timeoutMs: number
  readonly retryWindowMs: number
  /** `undefined` when every call is sent; apply with core's `sendsEvent`. */
  readonly events: EventFilter | undefined
}

/** Defaults taken from the Webhooks (Classic) behaviour. */
export const DEFAULTS = Object.freeze({
  timeoutMs: 5_000,
  retryWindowMs: 4 * 60 * 60 * 1000,
  batchSize: 1,
  method: 'POST' as WebhookMethod,
  signature: 'classic' as SignatureScheme,
})

/** Limits enforced on settings and batches. */
export const LIMITS = Object.freeze({
  maxWebhooks: 5,
  maxBatchSize: 1000,
  maxBatchBytes: 512 * 1024,
  maxTimeoutMs: 60_000,
  maxRetryWindowMs: 72 * 60 * 60 * 1000,
})

/**
 * Why each reserved header (lower case) is refused: the rule its error
 * states. The destination sets its own; undici sets `Host` and
 * `Content-Length` from the URL and the body. Hop-by-hop headers describe
 * one connection, not the message (RFC 2616 section 13.5.1's list, and RFC
 * 9110 section 7.6.1's `Proxy-Connection`): undici throws on
 * `Transfer-Encoding`, `Keep-Alive` and `Upgrade`, and on `Expect`
 * (lib/core/request.js), so every delivery would fail; it reads `Connection:
 * close` as "do not reuse the socket".
 */
const RESERVED_RULES = new Map<string, string>()
for (const [rule, names] of [
  [
    'is set by the destination',
    'content-type user-agent x-signature webhook-id webhook-timestamp webhook-signature',
  ],
  ['is set by the HTTP client', 'host content-length'],
  [
    'is a hop-by-hop header the client may not set',
    'connection keep-alive proxy-authenticate proxy-authorization proxy-connection te trailer transfer-encoding upgrade',
  ],
  ['is refused by the HTTP client', 'expect'],
] as const) {
  for (const name of names.split(' ')) RESERVED_RULES.set(name, rule)
}

/** Headers a user may not set (lower case): the destination or the HTTP client sets them, or no client may send them. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set(RESERVED_RULES.keys())

const KNOWN_FIELDS: readonly string[] = [
  'webhooks',
  'headers',
  'sharedSecret',
  'signature',
  'batchSize',
  'method',
  'timeoutMs',
  'retryWindowMs',
  'events',
]

// RFC 9110 token: the characters allowed in a header name.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// CR, LF and NUL would split or end the header; other control characters and
// anything above U+00FF are refused by fetch (ByteString), undici and node:http,
// so such a value would fail every delivery instead of failing here.
const FORBIDDEN_VALUE_CHARS = /[^\t\x20-\x7e\x80-\xff]/

/**
 * Validates settings and fills in defaults. Throws a {@link SettingsError}
 * naming the field and the rule on the first problem found.
 *
 * @example
 * const settings = parseSettings({
 *   webhooks: ['https://hooks.example.com/segment'],
 *   headers: { 'X-Team': 'growth' },
 *   sharedSecret: process.env.WEBHOOK_SECRET,
 * })
 * settings.timeoutMs // 5000
 */
export function parseSettings(input: WebhookSettingsInput): WebhookSettings {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new SettingsError('settings', 'invalid_type', 'must be an object')
  }
  refuseUnknown(input, KNOWN_FIELDS)
  const signature = parseChoice(
    'signature',
    input.signature,
    ['classic', 'standard', 'both'],
    DEFAULTS.signature,
  )
  return Object.freeze({
    webhooks: parseWebhooks(input.webhooks),
    headers: parseHeaders(input.headers),
    sharedSecret: parseSecret(input.sharedSecret, signature),
    signature,
    batchSize: parseInteger(
      'batchSize',
      input.batchSize,
      1,
      LIMITS.maxBatchSize,
      DEFAULTS.batchSize,
    ),
    method: parseChoice('method', input.method, ['POST', 'PUT', 'PATCH'], DEFAULTS.method),
    timeoutMs: parseInteger(
      'timeoutMs',
      input.timeoutMs,
      1,
      LIMITS.maxTimeoutMs,
      DEFAULTS.timeoutMs,
    ),
    retryWindowMs: parseInteger(
      'retryWindowMs',
      input.retryWindowMs,
      0,
      LIMITS.maxRetryWindowMs,
      DEFAULTS.retryWindowMs,
    ),
    events: parseEvents(input.events),
  })
}

/** Throws `unknown_field` for the first key of `value` not in `known`, suggesting the nearest. */
function refuseUnknown(value: object, known: readonly string[], prefix = ''): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new SettingsError(
        prefix + key,
        'unknown_field',
        `is not a setting${didYouMean(key, known)}`,
      )
    }
  }
}

/**
 * Validates the `events` setting (`undefined` when it is left out: every call
 * is sent). Throws a {@link SettingsError} naming the entry and the rule.
 *
 * @example
 * parseEvents({ include: ['track', 'identify'], exclude: ['track:Heartbeat'] })
 * parseEvents({ include: ['trak'] }) // throws: events.include[0]: "trak" is not a call type or track:<event name>, did you mean track? …
 */
export function parseEvents(value: unknown): EventFilter | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SettingsError('events', 'invalid_type', 'must be an object')
  }
  refuseUnknown(value, ['include', 'exclude'], 'events.')
  const { include, exclude = [] } = value as EventsInput
  if (include?.length === 0) {
    throw new SettingsError(
      'events.include',
      'too_few',
      'must not be empty (leave it out to send every call)',
    )
  }
  return Object.freeze({
    include: include && parseCalls('events.include', include),
    exclude: parseCalls('events.exclude', exclude),
  })
}

/** One `events` list: call types and `track:<event name>` entries. */
function parseCalls(field: string, list: unknown): readonly string[] {
  if (!Array.isArray(list)) throw new SettingsError(field, 'invalid_type', 'must be an array')
  // A plain loop, not map(): map skips the holes of a sparse array.
  for (let i = 0; i < list.length; i++) {
    const entry: unknown = list[i]
    const at = `${field}[${i}]`
    if (typeof entry !== 'string') throw new SettingsError(at, 'invalid_type', 'must be a string')
    if (!CALL_TYPES.includes(entry) && !/^track:./.test(entry)) {
      throw new SettingsError(
        at,
        'invalid_choice',
        `"${entry}" is not a call type or track:<event name>${didYouMean(entry, CALL_TYPES)}`,
      )
    }
  }
  return Object.freeze([...list])
}

function parseWebhooks(value: unknown): readonly string[] {
  if (value === undefined) throw new SettingsError('webhooks', 'required', 'give 1 to 5 URLs')
  if (!Array.isArray(value))
    throw new SettingsError('webhooks', 'invalid_type', 'must be an array of URLs')
  if (value.length === 0) throw new SettingsError('webhooks', 'too_few', 'give at least 1 URL')
  if (value.length > LIMITS.maxWebhooks) {
    throw new SettingsError(
      'webhooks',
      'too_many',
      `at most ${LIMITS.maxWebhooks} URLs, got ${value.length}`,
    )
  }
  const seen = new Set<string>()
  const urls: string[] = []
  // A plain loop, not map(): map skips the holes of a sparse array.
  for (let i = 0; i < value.length; i++) {
    const raw: unknown = value[i]
    const field = `webhooks[${i}]`
    if (typeof raw !== 'string') throw new SettingsError(field, 'invalid_type', 'must be a string')
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new SettingsError(field, 'invalid_url', 'is not an absolute URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SettingsError(
        field,
        'unsupported_protocol',
        `must be http: or https:, got ${url.protocol}`,
      )
    }
    if (url.username || url.password) {
      throw new SettingsError(
        field,
        'credentials_in_url',
        'must not contain credentials; use headers',
      )
    }
    const normalised = url.href
    if (seen.has(normalised)) throw new SettingsError(field, 'duplicate', 'repeats an earlier URL')
    seen.add(normalised)
    urls.push(normalised)
  }
  return Object.freeze(urls)
}

function parseHeaders(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({})
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SettingsError('headers', 'invalid_type', 'must be an object')
  }
  const headers: Record<string, string> = {}
  const seen = new Set<string>()
  for (const [name, headerValue] of Object.entries(value)) {
    const field = `headers.${name}`
    if (!TOKEN.test(name)) {
      throw new SettingsError(
        field,
        'invalid_header_name',
        'must be an HTTP token (no spaces, colons or quotes)',
      )
    }
    const lower = name.toLowerCase()
    const reserved = RESERVED_RULES.get(lower)
    if (reserved) throw new SettingsError(field, 'reserved_header', reserved)
    if (seen.has(lower))
      throw new SettingsError(field, 'duplicate', 'repeats a header (case-insensitive)')
    seen.add(lower)
    if (typeof headerValue !== 'string')
      throw new SettingsError(field, 'invalid_type', 'must be a string')
    if (FORBIDDEN_VALUE_CHARS.test(headerValue)) {
      throw new SettingsError(
        field,
        'invalid_header_value',
        'must not contain control characters or characters above U+00FF',
      )
    }
    headers[name] = headerValue
  }
  return Object.freeze(headers)
}

function parseSecret(value: unknown, signature: SignatureScheme): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string')
    throw new SettingsError('sharedSecret', 'invalid_type', 'must be a string')
  if (value.length === 0) {
    throw new SettingsError(
      'sharedSecret',
      'empty_secret',
      'must not be empty (leave it out to send unsigned)',
    )
  }
  if (signature !== 'classic' && decodeStandardSecret(value) === undefined) {
    throw new SettingsError(
      'sharedSecret',
      'invalid_secret',
      `for the ${signature} scheme it must be base64 of at least 4 characters, optionally prefixed with whsec_ (as standardwebhooks reads it)`,
    )
  }
  return value
}

function parseInteger(
  field: string,
  value: unknown,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new SettingsError(field, 'invalid_type', 'must be a whole number')
  }
  if (value < min || value > max)
    throw new SettingsError(field, 'out_of_range', `must be from ${min} to ${max}, got ${value}`)
  return value
}

function parseChoice<T extends string>(
  field: string,
  value: unknown,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback
  if (!choices.includes(value as T)) {
    throw new SettingsError(field, 'invalid_choice', `must be one of ${choices.join(', ')}`)
  }
  return value as T
}
