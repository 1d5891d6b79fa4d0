/** The built demo page in real Chromium: clicking each call button delivers it to a real inspector, and nothing goes to Segment's servers. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInspector, type Inspector } from '@analytics-webhooks/inspector'
import { describeChromium, launchChromium } from '@analytics-webhooks/testing'
import type { Browser } from 'playwright-core'
import { build, type PreviewServer, preview } from 'vite'
import { afterAll, beforeAll, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))

describeChromium('the demo page in Chromium', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'browser-demo-page-'))
  let inspector: Inspector
  let server: PreviewServer
  let browser: Browser

  beforeAll(async () => {
    inspector = await createInspector({ port: 0 })
    await build({ root, logLevel: 'silent', build: { outDir, emptyOutDir: true } })
    server = await preview({ root, logLevel: 'silent', build: { outDir }, preview: { port: 0 } })
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await new Promise<void>((resolve) => server?.httpServer.close(() => resolve()))
    await inspector?.close()
    rmSync(outDir, { recursive: true, force: true })
  })

  it('delivers every call type to the inspector from the page, and never calls Segment', async () => {
    const page = await browser.newPage()
    const requested: string[] = []
    page.on('request', (request) => requested.push(request.url()))
    const pageUrl = server.resolvedUrls?.local[0]
    expect(pageUrl).toBeDefined()
    await page.goto(`${pageUrl}?hooks=${encodeURIComponent(inspector.hooksUrl)}`)
    const types = ['page', 'screen', 'identify', 'track', 'alias', 'group']
    for (const type of types) await page.getByRole('button', { name: type, exact: true }).click()

    await expect
      .poll(
        () =>
          inspector
            .deliveries()
            .flatMap((d) => d.eventTypes)
            .sort(),
        { timeout: 15_000 },
      )
      .toEqual([...types].sort())
    expect(inspector.deliveries().every((d) => d.answer.status === 200)).toBe(true)
    expect(inspector.deliveries().every((d) => d.verdict.status === 'unsigned')).toBe(true)
    await page.locator('#log li.delivered').nth(5).waitFor()
    expect(requested.filter((url) => /segment\.(com|io)/.test(url))).toEqual([])
    await page.close()
  })
})
