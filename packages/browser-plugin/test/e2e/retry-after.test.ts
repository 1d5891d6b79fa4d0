/** Retry-After pauses the whole outbox, in real Chromium: analytics-next with the plugin on a local page, a rate-limiting receiver. */

import { describeChromium } from '@analytics-webhooks/testing'
import { expect, it } from 'vitest'
import { deliveredOn, openPage, queueThenDrain } from './drive.js'
import { eventually } from './eventually.js'
import { pageAndBrowser, type Received, Receiver } from './servers.js'

const EVENTS = 5
/** How much earlier than asked a request may arrive: clock reads a millisecond apart. */
const SLACK_MS = 5

describeChromium('Retry-After in Chromium', () => {
  const chromium = pageAndBrowser()

  /**
   * The first request is answered `status` with `Retry-After: retryAfter(now)`,
   * the rest 200: checks that no request starts before `until`, that then
   * every event is delivered.
   */
  async function pausesUntil(
    status: number,
    retryAfter: (now: number) => string,
    until: (limitedAt: number, header: string) => number,
  ): Promise<void> {
    const receiver = new Receiver()
    let limitedAt = 0
    let header = ''
    receiver.answer = () => {
      if (limitedAt !== 0) return { status: 200 }
      limitedAt = Date.now()
      header = retryAfter(limitedAt)
      return { status, headers: { 'Retry-After': header } }
    }
    await receiver.up()
    const context = await chromium.browser.newContext()
    const page = await openPage(context, chromium.site.origin, { hook: receiver.url })
    const sent = await queueThenDrain(page, EVENTS)
    await eventually(async () => expect(await deliveredOn(page)).toBe(EVENTS), 20_000)

    const [first, ...later] = receiver.received as [Received, ...Received[]]
    expect(first.status).toBe(status)
    expect(later).toHaveLength(EVENTS)
    // Nothing was sent before the moment asked for, though four other events were due all along.
    const resume = until(limitedAt, header)
    for (const request of later) expect(request.at).toBeGreaterThanOrEqual(resume - SLACK_MS)
    expect(new Set(later.map((r) => JSON.parse(r.body).messageId))).toEqual(
      new Set(sent.map((s) => s.messageId)),
    )
    await context.close()
    await receiver.down()
  }

  it('429 with Retry-After: 10: no request starts for 10 s, then every event is delivered', {
    timeout: 30_000,
  }, async () => {
    await pausesUntil(
      429,
      () => '10',
      (limitedAt) => limitedAt + 10_000,
    )
  })

  it('503 with Retry-After as an HTTP-date: no request starts before that date', async () => {
    await pausesUntil(
      503,
      (now) => new Date(now + 3_000).toUTCString(),
      (limitedAt, header) => {
        // HTTP-dates have 1 s resolution: the date asked for is 2-3 s after the answer.
        expect(Date.parse(header) - limitedAt).toBeGreaterThan(1_900)
        return Date.parse(header)
      },
    )
  })
})
