/** The dashboard page in real Chromium, served by `analytics-webhooks ui` over a queue a real plugin is filling and delivering at the same time, on SQLite and on PostgreSQL. */

import { describeChromium, launchChromium } from '@analytics-webhooks/testing'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { describePostgres } from '../../../test/postgres-database.js'
import type { QueueStore } from '../../store/types.js'
import { type LiveQueue, liveQueue, type RunningUi, startUi } from './fixtures.js'

const count = (page: Page, name: string) => page.locator(`[data-count="${name}"]`).textContent()

const messageIds = (queue: LiveQueue) =>
  queue.receiver.requests.map((r) => (JSON.parse(r.body) as { messageId: string }).messageId)

/** Clicks `button` in a row, then the confirmation's own button. */
async function confirmIn(page: Page, button: ReturnType<Page['locator']>, verb: string) {
  await button.click()
  await expect.poll(() => page.locator('#confirm').isVisible()).toBe(true)
  await page.locator('#confirm').getByRole('button', { name: verb }).click()
}

function pageSuite(storage: 'sqlite' | 'postgres'): void {
  let browser: Browser
  let queue: LiveQueue
  let ui: RunningUi
  let page: Page

  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })
  beforeEach(async () => {
    queue = await liveQueue(storage)
    ui = await startUi(queue.uiArgs)
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(ui.url)
    await page.locator('#live', { hasText: 'live' }).waitFor()
  })
  afterEach(async () => {
    await page?.close()
    expect(await ui?.stop()).toBe(0)
    await queue?.cleanup()
  })

  it('shows the counts moving while the plugin delivers, and the chart adds them up', async () => {
    expect(await count(page, 'delivered')).toBe('0')
    for (let i = 0; i < 25; i++)
      queue.analytics.track({ userId: 'u1', event: 'Order Completed', messageId: `live-${i}` })
    await queue.receiver.waitFor(25)
    await expect.poll(() => count(page, 'delivered'), { timeout: 10_000 }).toBe('25')
    expect(await count(page, 'queued')).toBe('0')
    expect(await count(page, 'dead')).toBe('0')
    // Every delivery happened after the page's first reading, so the bars hold all 25.
    await expect
      .poll(
        async () => {
          const titles = await page.locator('#chart title').allTextContents()
          return titles.reduce((sum, t) => sum + Number(/: (\d+) delivered/.exec(t)?.[1] ?? 0), 0)
        },
        { timeout: 10_000 },
      )
      .toBe(25)
    expect(await page.locator('#chart-note').textContent()).toContain('since')
  })

  it('shows dead letters as they die; replaying one from the page delivers it, purging one removes it', async () => {
    queue.receiver.answer(() => ({ status: 400 }))
    for (const id of ['dead-1', 'dead-2', 'dead-3'])
      queue.analytics.track({ userId: 'u1', event: 'Refused', messageId: id })
    await expect.poll(() => count(page, 'dead'), { timeout: 10_000 }).toBe('3')
    const rows = page.locator('#letters tr')
    await expect.poll(() => rows.count()).toBe(3)
    expect(await rows.first().locator('.reason').textContent()).toBe('http_4xx')
    expect(await rows.first().textContent()).toContain('400')

    queue.receiver.answer(() => ({ status: 200 }))
    const before = queue.receiver.requests.length
    const second = page.locator('#letters tr', { hasText: 'dead-2' })
    await confirmIn(page, second.getByRole('button', { name: 'Replay' }), 'Replay')
    await expect.poll(() => page.locator('#notice').textContent()).toBe('Replayed 1 dead letter.')
    await vi.waitFor(() => expect(messageIds(queue).slice(before)).toContain('dead-2'), {
      timeout: 10_000,
    })
    await expect.poll(() => second.count()).toBe(0)

    const first = page.locator('#letters tr', { hasText: 'dead-1' })
    await confirmIn(page, first.getByRole('button', { name: 'Purge' }), 'Purge')
    await expect.poll(() => page.locator('#notice').textContent()).toBe('Purged 1 dead letter.')
    await expect.poll(() => first.count()).toBe(0)
    await expect.poll(() => count(page, 'dead'), { timeout: 10_000 }).toBe('1')
    const reader: QueueStore = queue.connect()
    await reader.open()
    expect((await reader.listDead({ queue: queue.plugin.queue })).map((l) => l.messageId)).toEqual([
      'dead-3',
    ])
    // Sent once, refused; never again after the purge.
    expect(messageIds(queue).filter((id) => id === 'dead-1')).toHaveLength(1)
  })

  it('filters by reason, searches by messageId, pages through letters, and never replays an unsendable one', async () => {
    const reader = queue.connect()
    await reader.open()
    const now = Date.now()
    const letter = (i: number, reason: 'http_4xx' | 'invalid_payload') => ({
      id: `letter-${String(i).padStart(3, '0')}`,
      body: reason === 'invalid_payload' ? '' : `{"type":"track","messageId":"m-${i}","n":${i}}`,
      messageId: `m-${i}`,
      enqueuedAt: now - 60_000,
      attempts: reason === 'invalid_payload' ? 0 : 1,
      deadAt: now - 1000 + i,
      reason,
      lastStatus: reason === 'invalid_payload' ? null : 400,
      detail: reason === 'invalid_payload' ? 'Invalid webhook payload: BigInt' : 'HTTP 400',
    })
    await reader.enqueueDead(queue.plugin.queue, [
      ...Array.from({ length: 55 }, (_, i) => letter(i, 'http_4xx')),
      ...Array.from({ length: 5 }, (_, i) => letter(100 + i, 'invalid_payload')),
    ])
    await expect.poll(() => count(page, 'dead'), { timeout: 10_000 }).toBe('60')
    const rows = page.locator('#letters tr')
    await expect.poll(() => rows.count()).toBe(50)
    // Newest first: the invalid_payload letters died last.
    expect(await rows.first().locator('.reason').textContent()).toBe('invalid_payload')
    await page.getByRole('button', { name: 'Older →' }).click()
    await expect.poll(() => rows.count()).toBe(10)
    expect(await rows.last().textContent()).toContain('m-0')
    await page.getByRole('button', { name: '← Newer' }).click()
    await expect.poll(() => rows.count()).toBe(50)

    await page.locator('#message-id').fill('m-42')
    await page.getByRole('button', { name: 'Search' }).click()
    await expect.poll(() => rows.count()).toBe(1)
    expect(await rows.first().textContent()).toContain('m-42')
    await page.locator('#message-id').fill('')
    await page.getByRole('button', { name: 'Search' }).click()

    await page.locator('#reason').selectOption('invalid_payload')
    await expect.poll(() => rows.count()).toBe(5)
    expect(await rows.first().getByRole('button', { name: 'Replay' }).isDisabled()).toBe(true)
    await confirmIn(page, page.getByRole('button', { name: 'Replay all of this reason' }), 'Replay')
    await expect
      .poll(() => page.locator('#notice').textContent())
      .toBe('Replayed 0 dead letters. Skipped 5 with no sendable body (invalid_payload).')
    await expect.poll(() => rows.count()).toBe(5)

    await page.locator('#reason').selectOption('http_4xx')
    await expect.poll(() => rows.count()).toBe(50)
    await confirmIn(page, page.getByRole('button', { name: 'Purge all of this reason' }), 'Purge')
    await expect.poll(() => page.locator('#notice').textContent()).toBe('Purged 55 dead letters.')
    await expect.poll(() => count(page, 'dead'), { timeout: 10_000 }).toBe('5')
  })

  it("shows the destination's state as its workers (in other processes) report it", async () => {
    const other = queue.connect()
    await other.open()
    const now = Date.now()
    const until = now + 60 * 60_000
    await other.reportState?.(queue.plugin.queue, 'host-a:1', {
      state: 'sending',
      until: null,
      at: now,
    })
    await other.reportState?.(queue.plugin.queue, 'host-b:2', { state: 'paused', until, at: now })
    const time = new Date(until).toTimeString().slice(0, 8)
    await expect
      .poll(() => page.locator('#state').textContent(), { timeout: 10_000 })
      .toBe(`Paused by Retry-After until ${time}`)
    const workers = await page.locator('#workers li').allTextContents()
    expect(workers.some((w) => w.startsWith('host-a:1 sending'))).toBe(true)
    expect(workers.some((w) => w.startsWith(`host-b:2 paused by Retry-After until ${time}`))).toBe(
      true,
    )
  })
}

describeChromium('the dashboard page in Chromium', () => {
  describe('on SQLite', () => pageSuite('sqlite'))
  describePostgres('on PostgreSQL', () => pageSuite('postgres'))
})
