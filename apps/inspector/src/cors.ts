/** CORS for the inspector, so a page using the browser plugin can post to it from any origin. */

import type { IncomingMessage, ServerResponse } from 'node:http'

/** Headers every answer carries, so a page can read the status (500, 429) and `Retry-After`. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'retry-after',
}

/** Headers allowed when a preflight does not list any: the signature headers and JSON. */
const DEFAULT_ALLOWED_HEADERS =
  'content-type, x-signature, webhook-id, webhook-timestamp, webhook-signature'

/**
 * Answers a CORS preflight (`OPTIONS`) with 204, allowing the methods webhooks
 * use and whatever headers the page asked for: the signature headers and any
 * custom headers in the plugin's settings.
 *
 * @example
 * if (req.method === 'OPTIONS') return answerPreflight(req, res)
 */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): void {
  const requested = req.headers['access-control-request-headers']
  const headers: Record<string, string> = {
    ...CORS_HEADERS,
    'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
    'access-control-allow-headers':
      typeof requested === 'string' && requested.length > 0 ? requested : DEFAULT_ALLOWED_HEADERS,
    'access-control-max-age': '600',
    vary: 'Access-Control-Request-Headers',
  }
  // Chrome asks before a public page may call a local address (Private Network Access).
  if (req.headers['access-control-request-private-network'] === 'true') {
    headers['access-control-allow-private-network'] = 'true'
  }
  res.writeHead(204, headers).end()
}
