/** Classifies one attempt at one URL: delivered, worth retrying, or permanently failed, with a stable reason code. */

/** Failures worth another attempt. */
export type TemporaryReason =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'network'
  | 'http_5xx'
  | 'http_408'
  | 'http_410'
  | 'http_429'
  | 'http_460'

/** Failures that another attempt cannot fix. */
export type PermanentReason =
  | 'http_3xx'
  | 'http_4xx'
  | 'http_413'
  | 'http_501'
  | 'http_505'
  | 'http_unexpected'
  | 'tls'
  | 'invalid_payload'
  | 'invalid_request'

/** Every reason a delivery records: an attempt's reason, `delivered`, or `expired` when the retry window closed. */
export type ReasonCode = 'delivered' | TemporaryReason | PermanentReason | 'expired'

/** What to do after an attempt. */
export type Verdict = 'delivered' | 'retry' | 'permanent'

/** The classified result of one attempt at one URL. */
export interface AttemptResult {
  readonly verdict: Verdict
  readonly reason: ReasonCode
  /** The HTTP status, when a response arrived. */
  readonly status?: number
  /** How long the server asked us to wait (`Retry-After`), in ms. */
  readonly retryAfterMs?: number
  /**
   * What failed, where the reason alone does not say: which TLS check
   * (`self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`), or why the
   * client refused to build the request (`invalid keep-alive header`). Short,
   * and never a secret or a URL.
   */
  readonly detail?: string
}

const RETRYABLE_4XX: Readonly<Record<number, TemporaryReason>> = {
  408: 'http_408',
  410: 'http_410',
  429: 'http_429',
  460: 'http_460',
}

/**
 * Classifies an HTTP response status. 2xx is delivered; 5xx (but 501 and 505),
 * 408, 410, 429 and 460 are temporary; other 4xx, 501, 505 and every 3xx
 * (redirects are not followed) are permanent. 413 Payload Too Large is
 * permanent with a reason of its own, `http_413`: the same body will never
 * fit, but a sender can split a batch so that its halves do. `Retry-After`
 * is read for temporary answers.
 *
 * @example
 * classifyResponse(503, '120') // { verdict: 'retry', reason: 'http_5xx', status: 503, retryAfterMs: 120000 }
 */
export function classifyResponse(
  status: number,
  retryAfter?: string | null,
  now: number = Date.now(),
): AttemptResult {
  // A status that is not a whole number never came from a real response: never call it delivered.
  if (!Number.isInteger(status)) return { verdict: 'permanent', reason: 'http_unexpected', status }
  if (status >= 200 && status < 300) return { verdict: 'delivered', reason: 'delivered', status }
  let reason: ReasonCode
  if (status >= 300 && status < 400) return { verdict: 'permanent', reason: 'http_3xx', status }
  if (status === 413 || status === 501 || status === 505)
    return { verdict: 'permanent', reason: `http_${status}` as PermanentReason, status }
  if (status >= 500 && status < 600) reason = 'http_5xx'
  else if (RETRYABLE_4XX[status]) reason = RETRYABLE_4XX[status] as TemporaryReason
  else if (status >= 400 && status < 500)
    return { verdict: 'permanent', reason: 'http_4xx', status }
  else return { verdict: 'permanent', reason: 'http_unexpected', status }
  const retryAfterMs = parseRetryAfter(retryAfter, now)
  return retryAfterMs === undefined
    ? { verdict: 'retry', reason, status }
    : { verdict: 'retry', reason, status, retryAfterMs }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ERR_TIMEOUT',
  // The TLS handshake did not finish in time: the host may be slow, not untrusted.
  'ERR_TLS_HANDSHAKE_TIMEOUT',
])
const REFUSED_CODES = new Set(['ECONNREFUSED'])
const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
])
const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_NONAME'])
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  'IP_ADDRESS_MISMATCH',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

// Raised by undici while building a request, before anything is sent: the
// same settings build the same request every time, so no retry can fix it.
const INVALID_REQUEST_CODES = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED'])
/** How much of an error message an `invalid_request` detail keeps. */
const MAX_MESSAGE_LENGTH = 200

/**
 * Classifies an error thrown instead of a response (undici, `node:http` or
 * `fetch`), by the `code` and `name` on the error and its causes. TLS
 * verification failures are permanent (`tls`, with a `detail` naming the
 * failed check); a request undici refuses to build (an invalid header, say)
 * is permanent (`invalid_request`, with undici's message as `detail`);
 * timeouts, refused and reset connections, DNS failures and other network
 * errors are temporary.
 *
 * @example
 * classifyError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })) // { verdict: 'retry', reason: 'connection_refused' }
 * classifyError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))
 * // { verdict: 'permanent', reason: 'tls', detail: 'self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)' }
 */
export function classifyError(error: unknown): AttemptResult {
  try {
    for (const { code, name, error: link } of errorChain(error)) {
      if (code !== undefined) {
        if (TIMEOUT_CODES.has(code)) return { verdict: 'retry', reason: 'timeout' }
        if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
          return { verdict: 'permanent', reason: 'tls', detail: describeTlsFailure(code) }
        if (INVALID_REQUEST_CODES.has(code)) {
          return {
            verdict: 'permanent',
            reason: 'invalid_request',
            detail: describeInvalidRequest(code, link),
          }
        }
        if (REFUSED_CODES.has(code)) return { verdict: 'retry', reason: 'connection_refused' }
        if (RESET_CODES.has(code)) return { verdict: 'retry', reason: 'connection_reset' }
        if (DNS_CODES.has(code)) return { verdict: 'retry', reason: 'dns' }
      }
      if (name === 'TimeoutError' || name === 'AbortError')
        return { verdict: 'retry', reason: 'timeout' }
    }
  } catch {
    // Reading the error threw (a getter, a revoked Proxy): classify what we know, never throw.
  }
  return { verdict: 'retry', reason: 'network' }
}

/**
 * Names a TLS failure by its OpenSSL or Node code, so that a dead letter says
 * which check failed: `self-signed certificate`, `unknown CA`, `host name
 * mismatch`, `expired certificate`, `certificate not yet valid`, or `TLS
 * failure`, each followed by the code. Only the code is read, never the
 * message (Node's names the host and the certificate's names).
 */
function describeTlsFailure(code: string): string {
  let failure: string
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      failure = 'self-signed certificate'
      break
    // The chain ends at a CA this client does not trust: sent by the server (SELF_SIGNED_CERT_IN_CHAIN) or not.
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_UNTRUSTED':
      failure = 'unknown CA'
      break
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'HOSTNAME_MISMATCH':
    case 'IP_ADDRESS_MISMATCH':
      failure = 'host name mismatch'
      break
    case 'CERT_HAS_EXPIRED':
      failure = 'expired certificate'
      break
    case 'CERT_NOT_YET_VALID':
      failure = 'certificate not yet valid'
      break
    default:
      failure = 'TLS failure'
  }
  return `${failure} (${code})`
}

/**
 * undici's message for a request it refused to build (`invalid keep-alive
 * header`, `expect header not supported`): it names a header, never its
 * value. Cut short, and any credentials in a URL removed, all the same.
 */
function describeInvalidRequest(code: string, error: object): string {
  let message: unknown
  try {
    message = (error as { message?: unknown }).message
  } catch {
    // A getter or a revoked Proxy threw: the code is all there is to say.
  }
  if (typeof message !== 'string' || message.trim() === '') return code
  const text = message.replace(/\/\/[^/\s@]*@/g, '//')
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text
}

/**
 * Classifies an error thrown by a browser's `fetch`, which never says more than
 * this: an `AbortError` or `TimeoutError` (the request was aborted on its
 * deadline) is a `timeout`; anything else (a `TypeError` for refused, reset,
 * DNS, CORS or TLS failures, which browsers do not tell apart) is `network`.
 * Both are temporary. Use {@link classifyError} for Node clients, whose error
 * codes it reads; this one leaves their tables out of browser bundles. Never throws.
 *
 * @example
 * classifyFetchError(new DOMException('aborted', 'AbortError')) // { verdict: 'retry', reason: 'timeout' }
 * classifyFetchError(new TypeError('Failed to fetch')) // { verdict: 'retry', reason: 'network' }
 */
export function classifyFetchError(error: unknown): AttemptResult {
  let name: unknown
  try {
    name = (error as { name?: unknown } | null | undefined)?.name
  } catch {
    // A getter or a revoked Proxy threw: nothing more to learn.
  }
  return {
    verdict: 'retry',
    reason: name === 'AbortError' || name === 'TimeoutError' ? 'timeout' : 'network',
  }
}

/** The `code` and `name` of an error (and the error), its `cause` chain and an AggregateError's members. */
function* errorChain(
  error: unknown,
  depth = 0,
): Generator<{ code: string | undefined; name: string | undefined; error: object }> {
  if (depth > 5 || error === null || typeof error !== 'object') return
  const { code, name, cause, errors } = error as {
    code?: unknown
    name?: unknown
    cause?: unknown
    errors?: unknown
  }
  yield {
    code: typeof code === 'string' ? code : undefined,
    name: typeof name === 'string' ? name : undefined,
    error,
  }
  if (cause !== undefined) yield* errorChain(cause, depth + 1)
  if (Array.isArray(errors)) for (const member of errors) yield* errorChain(member, depth + 1)
}

/**
 * Reads a `Retry-After` header: delay-seconds or an HTTP-date. Returns the wait
 * in milliseconds (never negative), or `undefined` when absent or unreadable.
 *
 * @example
 * parseRetryAfter('30') // 30000
 * parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT', Date.parse('Wed, 21 Oct 2026 07:27:00 GMT')) // 60000
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  // Capped so that an absurd number of seconds stays a finite, storable wait.
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, Number.MAX_SAFE_INTEGER)
  if (!/[a-z]/i.test(text)) return undefined
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
