/** The inspector's page in real Chromium: a delivery just sent shows up live, a fault-mode switch changes what the sender sees, and a screenshot for the README. */

import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeEvent, singleBody } from '@analytics-webhooks/core'
import { describeChromium, launchChromium } from '@analytics-webhooks/testing'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest'
import { createInspector, type Inspector } from '../index.js'
import { batchBody, headersFor, post, SECRET } from './deliveries.js'

// Every run takes the screenshot; it replaces the README's copy only when asked, so a test run leaves the tree clean.
const SCREENSHOT = fileURLToPath(
  process.env.UPDATE_SCREENSHOT === '1'
    ? new URL('../../../../docs/inspector.png', import.meta.url)
    : new URL('../../test-results/inspector.png', import.meta.url),
)

describeChromium('the inspector page in Chromium', () => {
  let browser: Browser
  let inspector: Inspector
  let page: Page

  beforeAll(async () => {
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
  })

  beforeEach(async () => {
    inspector = await createInspector({ port: 0, secret: SECRET })
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
    await page.goto(inspector.url)
    await page.getByText('live', { exact: true }).waitFor()
  })

  afterEach(async () => {
    await page?.close()
    await inspector?.close()
  })

  it('shows a delivery that was just sent, with its verdict and answer', async () => {
    await post(inspector.hooksUrl, { secret: SECRET })
    const row = page.locator('li[data-delivery-id="1"]')
    await row.waitFor()
    await expect(row.getByTestId('verdict').textContent()).resolves.toBe('verified')
    await expect(row.getByTestId('answer').textContent()).resolves.toBe('200')
    await expect(page.getByTestId('body').textContent()).resolves.toContain('"Order Completed"')
  })

  it('clicking a fault-mode switch changes what the sender sees', async () => {
    await page.getByRole('button', { name: '500 error' }).click()
    await expect.poll(() => page.getByTestId('mode').textContent()).toContain('500: answer 500')
    expect((await post(inspector.hooksUrl, { secret: SECRET })).status).toBe(500)
    await expect(
      page.locator('li[data-delivery-id="1"]').getByTestId('answer').textContent(),
    ).resolves.toBe('500')

    await page.getByRole('button', { name: 'Normal 200' }).click()
    await expect.poll(() => inspector.mode().mode).toBe('normal')
    expect((await post(inspector.hooksUrl, { secret: SECRET })).status).toBe(200)
    await page.locator('li[data-delivery-id="2"]').waitFor()
  })

  it('takes the README screenshot with a few deliveries showing', async () => {
    const send = (event: Record<string, unknown>, secret = SECRET) => {
      const body = singleBody(encodeEvent({ timestamp: new Date(), ...event } as never))
      return fetch(inspector.hooksUrl, {
        method: 'POST',
        headers: { ...headersFor(body, secret), 'x-team': 'growth' },
        body: body.json,
      })
    }
    await send({
      type: 'page',
      userId: '019mr8mf4r',
      messageId: 'ajs-page-1',
      properties: { path: '/pricing', title: 'Pricing' },
    })
    await send(
      {
        type: 'identify',
        userId: '019mr8mf4r',
        messageId: 'node-identify-1',
        traits: { email: 'achilles@example.com', plan: 'Premium' },
      },
      'an old secret',
    )
    inspector.setMode({ mode: '429', times: 1 })
    await send({
      type: 'group',
      userId: '019mr8mf4r',
      groupId: 'initech',
      messageId: 'node-group-1',
      traits: { name: 'Initech', employees: 329 },
    })
    await post(inspector.hooksUrl, { secret: SECRET, body: batchBody(3) })
    await send({
      type: 'track',
      event: 'Order Completed',
      userId: '019mr8mf4r',
      messageId: 'node-track-1',
      properties: {
        orderId: '50314b8e',
        revenue: 39.95,
        currency: 'USD',
        products: [{ sku: 'G-32', quantity: 1 }],
      },
      context: { library: { name: '@segment/analytics-node', version: '3.1.0' } },
    })
    await page.locator('li[data-delivery-id="5"]').waitFor()
    expect(await page.locator('#deliveries li').count()).toBe(5)
    const verdicts = await page.locator('#deliveries [data-testid="verdict"]').allTextContents()
    expect(verdicts).toEqual(['verified', 'verified', 'verified', 'signature mismatch', 'verified'])
    mkdirSync(dirname(SCREENSHOT), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: false })
    expect(existsSync(SCREENSHOT)).toBe(true)
  })
})
