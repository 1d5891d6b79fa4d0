/** Who may use the dashboard: the token (as a bearer header, a session cookie, or `?token=` once on the page), loopback-only access for the local `ui` server, and the cross-site checks every action must pass. */

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * How requests are let in. `token`: every request shows the token (mounted
 * handlers, and the `ui` server on any address but loopback). `loopback`: no
 * token, but only requests addressed to a loopback name, so a web page that
 * points its own domain at 127.0.0.1 (DNS rebinding) is still refused.
 */
export type Access =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'loopback' }

/** The header every action must carry: a cross-site form cannot send it, and a cross-site `fetch` with it needs a preflight the dashboard never grants. */
export const ACTION_HEADER = 'x-analytics-webhooks-dashboard'

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]'])

/**
 * A new random token: 32 bytes from the operating system's generator, base64url.
 *
 * @example
 * const token = generateToken() // 'pQ3v…' (43 characters)
 */
export function generateToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * Whether `host` (as given to `listen`) only accepts connections from this machine.
 *
 * @example
 * isLoopbackHost('127.0.0.1') // true
 * isLoopbackHost('0.0.0.0') // false
 */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)
}

/**
 * The session cookie of one token: its name and value. Both derive from the
 * token, so two dashboards on one host (cookies ignore ports) keep separate
 * sessions, and the cookie jar never holds the token itself.
 *
 * @example
 * const { name, value } = sessionCookie(token)
 */
export function sessionCookie(token: string): { name: string; value: string } {
  const tag = createHash('sha256').update(token).digest('hex').slice(0, 12)
  const value = createHmac('sha256', token)
    .update('analytics-webhooks dashboard session')
    .digest('base64url')
  return { name: `aw_dashboard_${tag}`, value }
}

/**
 * The `Set-Cookie` value that logs a browser in: HttpOnly (no script reads
 * it), SameSite=Strict (no other site's page sends it), `Secure` over HTTPS.
 * It has no `Path`: the browser scopes it to the directory the page was
 * served from, so a dashboard mounted at `/webhooks/` gets it and the rest of
 * the app does not.
 *
 * @example
 * headers.set('set-cookie', loginCookie(token, url.protocol === 'https:'))
 */
export function loginCookie(token: string, secure: boolean): string {
  const { name, value } = sessionCookie(token)
  return `${name}=${value}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`
}

/**
 * Whether `request` may read the dashboard under `access`: for a token, an
 * `Authorization: Bearer` header or the session cookie (compared in constant
 * time); for loopback, a `Host` that names this machine.
 *
 * @example
 * if (!isAllowed(request, access)) return new Response(null, { status: 401 })
 */
export function isAllowed(request: Request, access: Access): boolean {
  if (access.kind === 'loopback') return LOOPBACK_NAMES.has(hostName(request))
  const bearer = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1]
  if (bearer !== undefined && sameSecret(bearer, access.token)) return true
  const { name, value } = sessionCookie(access.token)
  const presented = readCookie(request.headers.get('cookie'), name)
  return presented !== undefined && sameSecret(presented, value)
}

/**
 * Whether `candidate` is `token`, in time that does not depend on where they
 * differ: both are hashed first, so their lengths do not leak either.
 *
 * @example
 * sameSecret(url.searchParams.get('token') ?? '', token)
 */
export function sameSecret(candidate: string, token: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(candidate), digest(token))
}

/**
 * Why an action (a POST) must be refused as possibly cross-site, or `null`
 * when it may go on. Browsers mark every `fetch` POST with `Origin` and
 * `Sec-Fetch-Site`; a request from a tool without them is judged by the
 * custom header alone, which no cross-site form can add.
 *
 * @example
 * const why = crossSiteRefusal(request)
 * if (why) return json(403, { error: 'cross_site', message: why })
 */
export function crossSiteRefusal(request: Request): string | null {
  if (request.headers.get(ACTION_HEADER) !== '1') return `the ${ACTION_HEADER} header is missing`
  const site = request.headers.get('sec-fetch-site')
  if (site !== null && site !== 'same-origin') return `sent from a ${site} page`
  const origin = request.headers.get('origin')
  if (origin !== null) {
    let host: string
    try {
      host = new URL(origin).host
    } catch {
      return 'the Origin header is not a URL'
    }
    if (host !== hostHeader(request)) return 'sent from another origin'
  }
  if (!(request.headers.get('content-type') ?? '').startsWith('application/json'))
    return 'the body must be application/json'
  return null
}

function hostHeader(request: Request): string {
  return request.headers.get('host') ?? new URL(request.url).host
}

/** The host name the request was addressed to, without the port (`[::1]` keeps its brackets). */
function hostName(request: Request): string {
  const host = hostHeader(request).toLowerCase()
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? '')
}

function readCookie(header: string | null, name: string): string | undefined {
  if (header === null) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
