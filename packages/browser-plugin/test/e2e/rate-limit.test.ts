/** maxRequestsPerSecond in real Chromium: a receiver never gets more requests a second than asked, and a 429 without Retry-After slows the page down until deliveries bring the rate back. */

import { describeChromium } from '@analytics-webhooks/testing'
import { busiestWindow } from '@analytics-webhooks/testing/windows'
import { expect, it } from 'vitest'
import { deliveredOn, openPage, queueThenDrain } from './drive.js'
import { eventually } from './eventually.js'
import { pageAndBrowser, Receiver } from './servers.js'

describeChromium('maxRequestsPerSecond in Chromium', () => {
  const chromium = pageAndBrowser()

  /** Queues `events` tracks on a page limited to `rate` requests a second, and waits until each is delivered to `receiver`. */
  async function deliverAll(receiver: Receiver, rate: number, events: number): Promise<number[]> {
    await receiver.up()
    const context = await chromium.browser.newContext()
    try {
      const page = await openPage(context, chromium.site.origin, {
        hook: receiver.url,
        rate: `${rate}`,
      })
      const sent = await queueThenDrain(page, events)
      await eventually(async () => expect(await deliveredOn(page)).toBe(events), 30_000)
      const delivered = receiver.received.filter((r) => r.status === 200)
      expect(new Set(delivered.map((r) => JSON.parse(r.body).messageId))).toEqual(
        new Set(sent.map((s) => s.messageId)),
      )
      return receiver.received.map((r) => r.at)
    } finally {
      await context.close()
      await receiver.down()
    }
  }

  it('1,000 events at 200 a second take at least 4.5 s, and no second holds more than 200 requests', {
    timeout: 60_000,
  }, async () => {
    const times = await deliverAll(new Receiver(), 200, 1000)
    expect(times).toHaveLength(1000)
    console.log(
      `1,000 events at 200 requests/s in Chromium: ${(times[999] as number) - (times[0] as number)} ms ` +
        `from first to last, at most ${busiestWindow(times)} in any second`,
    )
    expect((times[999] as number) - (times[0] as number)).toBeGreaterThanOrEqual(4_500)
    expect(busiestWindow(times)).toBeLessThanOrEqual(200)
  })

  it('a 429 without Retry-After slows the requests down, and delivered ones bring the rate back', {
    timeout: 60_000,
  }, async () => {
    // Requests 40 and 41 are told to slow down; everything else is delivered.
    const receiver = new Receiver()
    receiver.answer = () => ({
      status: receiver.received.length === 40 || receiver.received.length === 41 ? 429 : 200,
    })
    const times = await deliverAll(receiver, 100, 300)
    const gaps = times.slice(1).map((t, k) => t - (times[k] as number))
    const mean = (part: number[]) => part.reduce((sum, g) => sum + g, 0) / part.length
    const before = mean(gaps.slice(10, 40))
    // After the two 429s: a quarter of the rate, 40 ms between starts, regaining 5% per delivery.
    const slowest = Math.max(...gaps.slice(40, 52))
    const later = mean(gaps.slice(250))
    console.log(
      `429 without Retry-After at 100 requests/s in Chromium: ${before.toFixed(1)} ms between requests ` +
        `before, ${slowest} ms at the slowest just after, ${later.toFixed(1)} ms later`,
    )
    expect(slowest).toBeGreaterThanOrEqual(35)
    expect(later).toBeLessThan(1.5 * before)
  })
})
