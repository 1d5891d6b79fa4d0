/** Driving the test page (page.ts) from a test: its harness's type, and queueing many events before the page drains them. */

import type { BrowserContext, Page } from 'playwright-core'
import type { PageReport, SentEvent } from './page.js'

/** What page.ts puts on `window.harness`. */
export interface Harness {
  ready(): Promise<void>
  send(
    call: string,
    first: string,
    fields?: Record<string, unknown>,
    options?: Record<string, unknown>,
  ): Promise<SentEvent>
  reports: PageReport[]
  flush(): Promise<void>
}
// Only ever read inside page.evaluate callbacks, which run in the page.
declare const harness: Harness

/**
 * Opens the test page at `origin` in `context` with `query` (page.ts reads its
 * settings and options from it; a list gives a key several values), and waits
 * until analytics-next is ready.
 *
 * @example
 * const page = await openPage(context, site.origin, { hook: [a.url, b.url], rate: '200' })
 */
export async function openPage(
  context: BrowserContext,
  origin: string,
  query: Record<string, string | string[]>,
): Promise<Page> {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    for (const v of [value].flat()) params.append(key, v)
  }
  const page = await context.newPage()
  await page.goto(`${origin}/?${params}`)
  await page.evaluate(() => harness.ready())
  return page
}

/**
 * Holds the queue's tab lock, as another tab draining it would, so that the
 * page queues events without sending them; the returned function lets go and
 * has the page drain at once.
 *
 * @example
 * const release = await holdLock(page)
 * await send(page, 'track', 'Signed Up') // queued, not sent
 * await release()
 */
export async function holdLock(page: Page): Promise<() => Promise<void>> {
  await page.evaluate(
    () =>
      new Promise<void>((held) => {
        void navigator.locks.request('analytics-webhooks.lock', () => {
          held()
          return new Promise<void>((release) => Object.assign(window, { releaseLock: release }))
        })
      }),
  )
  return async () => {
    await page.evaluate(() => (window as unknown as { releaseLock: () => void }).releaseLock())
    await page.evaluate(() => harness.flush())
  }
}

/**
 * Makes one call through the page's analytics-next (`track`, `identify`, …).
 *
 * @example
 * const { messageId } = await send(page, 'track', 'Signed Up', { plan: 'pro' })
 */
export function send(
  page: Page,
  call: string,
  first: string,
  fields?: Record<string, unknown>,
  options?: Record<string, unknown>,
): Promise<SentEvent> {
  return page.evaluate(([c, f, x, o]) => harness.send(c, f, x, o), [
    call,
    first,
    fields,
    options,
  ] as const)
}

/**
 * Queues `count` tracks (`E0`, `E1`, ...) while the tab lock is held
 * elsewhere (see {@link holdLock}), so they are all waiting when the first
 * request goes; then lets the page drain them. Returns what was sent.
 *
 * @example
 * const sent = await queueThenDrain(page, 1000)
 */
export async function queueThenDrain(page: Page, count: number): Promise<SentEvent[]> {
  const release = await holdLock(page)
  const sent = await page.evaluate(async (n) => {
    const events: SentEvent[] = []
    for (let i = 0; i < n; i++) events.push(await harness.send('track', `E${i}`))
    return events
  }, count)
  await release()
  return sent
}

/** How many `delivered` reports the page has had. */
export function deliveredOn(page: Page): Promise<number> {
  return page.evaluate(() => harness.reports.filter((r) => r.name === 'delivered').length)
}

/** Every report the page has had, in order. */
export function reportsOf(page: Page): Promise<PageReport[]> {
  return page.evaluate(() => harness.reports)
}
