/** Sends one body to every configured URL at once with fetch and combines the answers with core's rules. */

import type { WebhookBody } from '@analytics-webhooks/core/body'
import { classifyFetchError, classifyResponse } from '@analytics-webhooks/core/classify'
import { fanOutOutcome, type Outcome } from '@analytics-webhooks/core/outcome'
import type { WebhookSettings } from '@analytics-webhooks/core/settings'

/** The `fetch` the plugin sends with; the page's own by default. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>

// Browsers refuse keepalive requests whose bodies (in flight together) exceed 64 KiB.
const KEEPALIVE_LIMIT = 64 * 1024

/**
 * POSTs (or PUTs/PATCHes) `body` to every URL in `settings.webhooks` at once:
 * `Content-Type: application/json`, the user's headers, the signature headers
 * (WebCrypto; `id` is the request's `webhook-id`), `keepalive` when the body
 * is under 64 KB so it survives the page closing, no cookies, redirects not
 * followed, each exchange aborted after `settings.timeoutMs`. A failure to send is classified, never thrown; only
 * signing can throw (WebCrypto refused, or its code could not be loaded), and
 * then nothing is sent.
 *
 * @example
 * const outcome = await sendToAll(settings, singleBody(json), 'ajs-next-123', fetch)
 * if (outcome.verdict === 'retry') scheduleRetry(outcome.retryAfterMs)
 */
export async function sendToAll(
  settings: WebhookSettings,
  body: WebhookBody,
  id: string,
  send: Fetch,
): Promise<Outcome> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    ...settings.headers,
  }
  if (settings.sharedSecret !== undefined) {
    // Loaded on the first signed request only: a page that sends unsigned (as it should, see the
    // README) never downloads the signing code.
    const { signatureHeaders } = await import('./sign.js')
    const context = { id, timestamp: Math.floor(Date.now() / 1000) }
    Object.assign(headers, await signatureHeaders(settings, body, context))
  }
  // The UTF-8 size, as core's utf8Length counts it; through a Blob, so that core's body module
  // stays in the chunk only a page that batches loads.
  const keepalive = new Blob([body.json]).size < KEEPALIVE_LIMIT
  const attempts = await Promise.all(
    settings.webhooks.map(async (url) => {
      const abort = new AbortController()
      const timer = setTimeout(() => abort.abort(), settings.timeoutMs)
      try {
        const response = await send(url, {
          method: settings.method,
          headers,
          body: body.json,
          keepalive,
          credentials: 'omit',
          redirect: 'manual',
          signal: abort.signal,
        })
        response.body?.cancel().catch(() => {})
        // A redirect is not followed; with redirect: 'manual' the browser hides its status.
        return classifyResponse(
          response.type === 'opaqueredirect' ? 302 : response.status,
          response.headers.get('Retry-After'),
        )
      } catch (error) {
        return classifyFetchError(error)
      } finally {
        clearTimeout(timer)
      }
    }),
  )
  return fanOutOutcome(attempts)
}
