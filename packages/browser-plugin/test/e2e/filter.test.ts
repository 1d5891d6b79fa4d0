/** Choosing what a destination gets, in real Chromium: analytics-next with the plugin on a local page, the `events` setting and the `transform` option, a local receiver. */

import { createHmac } from 'node:crypto'
import { describeChromium } from '@analytics-webhooks/testing'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { deliveredOn, holdLock, openPage, reportsOf, send } from './drive.js'
import { eventually } from './eventually.js'
import { pageAndBrowser, Receiver } from './servers.js'

const SECRET = 'e2e-filter-secret'

describeChromium('events and transform in Chromium', () => {
  const chromium = pageAndBrowser()
  let receiver: Receiver

  beforeAll(async () => {
    receiver = new Receiver()
    await receiver.up()
  })
  afterAll(async () => {
    await receiver?.down()
  })

  /** The messageIds of the events waiting in the page's persisted queue. */
  const stored = (page: Page) =>
    page.evaluate(() =>
      Object.keys(localStorage)
        .filter((key) => key.startsWith('analytics-webhooks:'))
        .map((key) => {
          const text = localStorage.getItem(key) as string
          return JSON.parse(text.slice(text.indexOf('\n') + 1)).messageId as string
        }),
    )

  /** A fresh profile's page with these settings and options; requests arrive at `receiver`. */
  async function pageWith(query: Record<string, string>): Promise<Page> {
    receiver.received.length = 0
    const context = await chromium.browser.newContext()
    return openPage(context, chromium.site.origin, { hook: receiver.url, ...query })
  }

  it('include and exclude: only the chosen calls are stored and arrive; the rest are reported filtered', async () => {
    const events = { include: ['track', 'identify', 'group'], exclude: ['track:Heartbeat'] }
    const page = await pageWith({ events: JSON.stringify(events) })
    const release = await holdLock(page)
    const ids: Record<string, string> = {}
    for (const [call, first] of [
      ['track', 'Order Completed'],
      ['track', 'Heartbeat'],
      ['identify', 'u1'],
      ['page', 'Home'],
      ['screen', 'Settings'],
      ['group', 'g1'],
      ['alias', 'u1'],
    ] as const) {
      ids[`${call}:${first}`] = (await send(page, call, first)).messageId
    }
    const chosen = [ids['track:Order Completed'], ids['identify:u1'], ids['group:g1']]
    const left = [ids['track:Heartbeat'], ids['page:Home'], ids['screen:Settings'], ids['alias:u1']]
    // Never stored: only the chosen calls wait in localStorage while another tab holds the lock.
    expect((await stored(page)).sort()).toEqual([...chosen].sort())
    await release()
    await eventually(async () => expect(await deliveredOn(page)).toBe(3))
    expect(receiver.received.map((r) => JSON.parse(r.body).messageId).sort()).toEqual(
      [...chosen].sort(),
    )
    const filtered = (await reportsOf(page)).filter((r) => r.name === 'filtered')
    expect(filtered.map((r) => [r.ids[0], r.reason])).toEqual(left.map((id) => [id, 'events']))
    await page.context().close()
  })

  it('a transform that renames a field: the receiver gets the transformed bytes, signed', async () => {
    const page = await pageWith({ transform: 'rename', secret: SECRET })
    const { messageId } = await send(page, 'track', 'Signed Up')
    await eventually(async () => expect(await deliveredOn(page)).toBe(1))
    const [request] = receiver.received
    const body = JSON.parse(request?.body ?? '{}')
    expect(body).toMatchObject({ messageId, type: 'track', event: 'Signed Up' })
    expect(body.anonymous_id).toEqual(expect.any(String))
    expect(body).not.toHaveProperty('anonymousId')
    const signature = createHmac('sha1', SECRET).update(JSON.stringify(body), 'utf8').digest('hex')
    expect(request?.headers['x-signature']).toBe(signature)
    await page.context().close()
  })

  it('a transform that returns null skips the event; one that throws makes that event dead, and the next is delivered', async () => {
    const page = await pageWith({ transform: 'pick' })
    const heartbeat = await send(page, 'track', 'Heartbeat')
    const broken = await send(page, 'track', 'Broken')
    const next = await send(page, 'track', 'Signed Up')
    await eventually(async () => expect(await deliveredOn(page)).toBe(1))
    expect(receiver.received.map((r) => JSON.parse(r.body).messageId)).toEqual([next.messageId])
    const reports = (await reportsOf(page)).filter((r) => r.name !== 'delivered')
    expect(reports).toEqual([
      { name: 'filtered', ids: [heartbeat.messageId], reason: 'transform', status: undefined },
      {
        name: 'dead',
        ids: [broken.messageId],
        reason: 'invalid_payload',
        status: undefined,
        detail: 'Invalid webhook payload: transform: threw: no mapping for Broken',
      },
    ])
    expect(await stored(page)).toEqual([])
    await page.context().close()
  })
})
