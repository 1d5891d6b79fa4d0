/** The dashboard page: one HTML document with its style and script inline, and the Content-Security-Policy that allows exactly those two. */

import { createHash } from 'node:crypto'
import { SCRIPT } from './script.js'
import { STYLE } from './style.js'

/** The page and the policy to serve it with. */
export interface DashboardPage {
  readonly html: string
  /** The `Content-Security-Policy` header: only this page's own style and script run, it connects only to its own origin, and nothing frames it. */
  readonly csp: string
}

const BODY = `<header>
<h1>Webhook queue</h1><span id="queue" class="muted"></span><span id="label" class="muted"></span>
<span class="spacer"></span><span id="live" class="pill">connecting</span>
</header>
<div id="error" role="alert"></div>
<main>
<section class="counts" aria-label="Counts">
<div class="count"><span>Queued</span><strong data-count="queued">–</strong></div>
<div class="count"><span>In flight</span><strong data-count="inFlight">–</strong></div>
<div class="count"><span>Retrying</span><strong data-count="retrying">–</strong></div>
<div class="count"><span>Delivered</span><strong data-count="delivered">–</strong></div>
<div class="count dead"><span>Dead</span><strong data-count="dead">–</strong></div>
<div class="count" hidden><span>Filtered</span><strong data-count="filtered">–</strong></div>
<div class="count"><span>Oldest waiting</span><strong id="oldest">–</strong></div>
</section>
<section class="row">
<div class="panel"><h2>Destination</h2><p id="state">unknown</p><ul id="workers"></ul></div>
<div class="panel"><h2>Deliveries over time</h2>
<svg id="chart" viewBox="0 0 640 150" preserveAspectRatio="none" role="img" aria-label="Outcomes per interval"></svg>
<div class="legend"><span><i class="delivered"></i>delivered</span><span><i class="retried"></i>retried</span><span><i class="dead-bar"></i>dead</span></div>
<p class="note" id="chart-note"></p></div>
</section>
<section class="panel">
<div class="tools"><h2>Dead letters</h2>
<select id="reason" aria-label="Reason"><option value="">every reason</option></select>
<form id="search"><input id="message-id" type="search" placeholder="messageId" aria-label="messageId"> <button type="submit">Search</button></form>
<span class="spacer"></span>
<button id="replay-reason" disabled>Replay all of this reason</button>
<button id="purge-reason" class="danger" disabled>Purge all of this reason</button>
</div>
<p id="notice" role="status"></p>
<table><thead><tr><th>Reason</th><th>Detail</th><th>Attempts</th><th>Last status</th><th>Queued at</th><th>Died at</th><th>Body (preview)</th><th></th></tr></thead>
<tbody id="letters"></tbody></table>
<div class="pager"><button id="newer" disabled>← Newer</button><button id="older" disabled>Older →</button></div>
</section>
</main>
<dialog id="confirm"><p id="confirm-text"></p><div><button id="confirm-cancel">Cancel</button><button id="confirm-ok" class="danger">OK</button></div></dialog>`

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/**
 * Builds the page once; the dashboard serves the same bytes to everyone (no
 * value from the queue is ever in the HTML: the script fetches them).
 *
 * @example
 * const { html, csp } = dashboardPage()
 */
export function dashboardPage(): DashboardPage {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Webhook queue</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
  return { html, csp }
}

/**
 * The page shown instead of the dashboard to a browser without the token.
 *
 * @example
 * new Response(LOGIN_PAGE, { status: 401, headers })
 */
export const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Webhook queue: token needed</title></head>
<body><h1>This dashboard needs its token</h1>
<p>Open the address printed when it started, ending in <code>?token=…</code>. The token is kept in a cookie for this browser and removed from the address.</p></body></html>
`
