/** What OpenTelemetry's HTTP client conventions record about a webhook URL, worked out once per URL. */

/** The HTTP semantic-convention attributes of one webhook URL, with its credentials redacted. */
export interface TargetAttributes {
  readonly 'http.request.method': string
  readonly 'server.address': string
  readonly 'server.port': number
  readonly 'url.full': string
}

/**
 * Query parameters whose values the HTTP conventions say to redact by default
 * (signed-URL secrets: AWS, Azure SAS, Google Cloud).
 */
const SENSITIVE_QUERY = new Set(['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature'])

/**
 * The attributes every request to `url` with `method` carries: `server.port`
 * is the scheme's default when the URL names none, `server.address` has no
 * IPv6 brackets, and `url.full` is {@link redactUrl}'s.
 *
 * @example
 * targetAttributes('https://hooks.example.com/segment', 'POST')
 * // { 'http.request.method': 'POST', 'server.address': 'hooks.example.com', 'server.port': 443, 'url.full': 'https://hooks.example.com/segment' }
 */
export function targetAttributes(url: string, method: string): TargetAttributes {
  const parsed = new URL(url)
  const host = parsed.hostname
  return {
    'http.request.method': method,
    'server.address': host.startsWith('[') ? host.slice(1, -1) : host,
    'server.port':
      parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port),
    'url.full': redactUrl(url),
  }
}

/**
 * `url` as the conventions allow it in `url.full`: a user name and password
 * become `REDACTED:REDACTED`, and the values of the signed-URL query
 * parameters (`sig`, `Signature`, `AWSAccessKeyId`, `X-Goog-Signature`)
 * `REDACTED`. The rest is kept byte for byte (no re-encoding of the query).
 * The plugin's settings refuse URLs with credentials; this holds whatever it is given.
 *
 * @example
 * redactUrl('https://user:pw@hooks.example.com/in?sig=abc&x=1') // 'https://REDACTED:REDACTED@hooks.example.com/in?sig=REDACTED&x=1'
 */
export function redactUrl(url: string): string {
  const parsed = new URL(url)
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = 'REDACTED'
    parsed.password = 'REDACTED'
  }
  if (parsed.search.length > 1) {
    parsed.search = parsed.search
      .slice(1)
      .split('&')
      .map((pair) => {
        const equals = pair.indexOf('=')
        const name = equals === -1 ? pair : pair.slice(0, equals)
        return equals !== -1 && SENSITIVE_QUERY.has(decodeName(name)) ? `${name}=REDACTED` : pair
      })
      .join('&')
  }
  return parsed.href
}

/** A query parameter's name decoded, or as written when it is not valid percent-encoding. */
function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '))
  } catch {
    return name
  }
}
