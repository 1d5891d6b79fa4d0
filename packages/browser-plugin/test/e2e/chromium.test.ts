/** End to end in real Chromium: analytics-next with the plugin on a local page, delivering to a local receiver. */

import { createHmac } from 'node:crypto'
import { describeChromium } from '@analytics-webhooks/testing'
import type { BrowserContext, Page } from 'playwright-core'
import { afterEach, expect, it } from 'vitest'
import { type Harness, holdLock, openPage, reportsOf, send } from './drive.js'
import { eventually } from './eventually.js'
import type { PageReport, SentEvent } from './page.js'
import { pageAndBrowser, type Received, Receiver } from './servers.js'

const SECRET = 'e2e-shared-secret'
/** A secret every scheme takes, so that requests carry both X-Signature and webhook-id. */
const BOTH_SECRET = `whsec_${Buffer.from(SECRET).toString('base64')}`

declare const harness: Harness

describeChromium('end to end in Chromium', () => {
  const chromium = pageAndBrowser()
  const offsite: string[] = []

  afterEach(() => {
    // Settings are inline and Segment.io is off: nothing may leave 127.0.0.1.
    expect(offsite).toEqual([])
  })

  /** A fresh profile (its own localStorage) whose every request is checked to stay on 127.0.0.1. */
  async function profile(init?: () => void): Promise<BrowserContext> {
    const context = await chromium.browser.newContext()
    if (init) await context.addInitScript(init)
    context.on('request', (request) => {
      if (new URL(request.url()).hostname !== '127.0.0.1') offsite.push(request.url())
    })
    return context
  }

  const open = (context: BrowserContext, query: Record<string, string | string[]>) =>
    openPage(context, chromium.site.origin, query)

  /** The paths of the scripts `context` loads from now on. */
  function scriptsLoaded(context: BrowserContext): string[] {
    const paths: string[] = []
    context.on('request', (request) => {
      if (request.resourceType() === 'script') paths.push(new URL(request.url()).pathname)
    })
    return paths
  }
  const signingChunk = (path: string) => /^\/sign-\w+\.js$/.test(path)

  /** The messageIds of the events a request carried, in order. */
  const idsIn = (request: Received) =>
    [JSON.parse(request.body)].flat().map((event: { messageId: string }) => event.messageId)

  /** How many events the `name` reports cover: core's reports come one per request, an id per event. */
  const count = (reports: PageReport[], name: string) =>
    reports.filter((r) => r.name === name).reduce((sum, r) => sum + r.ids.length, 0)

  const queueLength = (page: Page) =>
    page.evaluate(
      () => Object.keys(localStorage).filter((k) => k.startsWith('analytics-webhooks:')).length,
    )

  it('delivers every event type, with bodies and signatures that check out against core', async () => {
    const receiver = new Receiver()
    await receiver.up()
    const context = await profile()
    const scripts = scriptsLoaded(context)
    const warnings: string[] = []
    context.on('console', (message) => {
      if (message.type() === 'warning') warnings.push(message.text())
    })
    const page = await open(context, { hook: receiver.url, secret: SECRET })
    const sent = [
      await send(page, 'page', 'Pricing', { path: '/pricing' }),
      await send(page, 'screen', 'Home', { build: 88 }),
      await send(page, 'identify', 'user-1', { email: 'a@example.com', name: 'Ünïcode 👋' }),
      await send(page, 'track', 'Purchased an Item', { revenue: '39.95' }),
      await send(page, 'alias', 'user-1'),
      await send(page, 'group', 'group-1', { plan: 'Enterprise' }),
    ]
    await eventually(() => expect(receiver.received).toHaveLength(6))

    const byId = new Map(receiver.received.map((r) => [JSON.parse(r.body).messageId, r]))
    for (const { messageId, expected } of sent) {
      const request = byId.get(messageId)
      expect(request?.body).toBe(expected) // exactly core's encodeEvent(ctx.event)
      const body = request?.body as string
      const digest = createHmac('sha1', SECRET)
        .update(JSON.stringify(JSON.parse(body)), 'utf8')
        .digest('hex')
      expect(request?.headers['x-signature']).toBe(digest)
      expect(request?.headers['content-type']).toBe('application/json')
      expect(request?.headers['x-team']).toBe('growth')
      expect(request?.headers['user-agent']).not.toBe('Segment.io/1.0')
      expect(request?.method).toBe('POST')
    }
    expect(sent.map(({ messageId }) => JSON.parse(byId.get(messageId)?.body ?? '{}').type)).toEqual(
      ['page', 'screen', 'identify', 'track', 'alias', 'group'],
    )
    const alias = JSON.parse(byId.get(sent[4]?.messageId)?.body ?? '{}')
    expect(alias).toMatchObject({ version: 1, userId: 'user-1', previousId: 'anon-previous' })
    expect(alias).not.toHaveProperty('_metadata')

    await eventually(async () => expect(await queueLength(page)).toBe(0))
    const reports = await page.evaluate(() => harness.reports)
    expect(reports.map((r) => r.name)).toEqual(Array(6).fill('delivered'))
    expect(warnings.filter((w) => w.includes('sharedSecret'))).toHaveLength(1)
    expect(warnings.join('\n')).not.toContain(SECRET)
    // With a secret the signing code was loaded, once, as its own chunk.
    expect(scripts.filter(signingChunk)).toHaveLength(1)
    await context.close()
    await receiver.down()
  })

  it('works registered later with analytics.register()', async () => {
    const receiver = new Receiver()
    await receiver.up()
    const context = await profile()
    const scripts = scriptsLoaded(context)
    const page = await open(context, { hook: receiver.url, style: 'register' })
    const { messageId, expected } = await send(page, 'track', 'Registered Later')
    await eventually(() => expect(receiver.received.map((r) => r.body)).toEqual([expected]))
    expect(JSON.parse(expected).messageId).toBe(messageId)
    expect(receiver.received[0]?.headers).not.toHaveProperty('x-signature')
    // Without a secret the page never downloads the signing code.
    expect(scripts).toContain('/page.js')
    expect(scripts.filter(signingChunk)).toEqual([])
    await context.close()
    await receiver.down()
  })

  it('is the destination named Webhooks: a call with integrations: { Webhooks: false } skips it, and no other name does', async () => {
    const receiver = new Receiver()
    await receiver.up()
    const context = await profile()
    const page = await open(context, { hook: receiver.url })
    const skipped = await send(page, 'track', 'Skipped', {}, { integrations: { Webhooks: false } })
    // The plugin's former name is nothing to analytics-next now.
    const kept = await send(
      page,
      'track',
      'Kept',
      {},
      {
        integrations: { 'Analytics Webhooks': false },
      },
    )
    await eventually(() => expect(receiver.received.map((r) => r.body)).toEqual([kept.expected]))
    await new Promise((resolve) => setTimeout(resolve, 500)) // room for the skipped event to show up
    const sentIds = receiver.received.map((r) => JSON.parse(r.body).messageId)
    expect(sentIds).toEqual([kept.messageId])
    expect(sentIds).not.toContain(skipped.messageId)
    expect(await queueLength(page)).toBe(0) // never queued either
    expect(await reportsOf(page)).toEqual([
      { name: 'delivered', ids: [kept.messageId], reason: undefined, status: 200 },
    ])
    await context.close()
    await receiver.down()
  })

  it('receiver down, page reloaded, receiver up: the events arrive from the persisted queue', async () => {
    const receiver = new Receiver()
    await receiver.up()
    await receiver.down() // the port is known, nothing listens on it
    const context = await profile()
    const page = await open(context, { hook: receiver.url })
    const sent: SentEvent[] = []
    for (let i = 0; i < 3; i++) sent.push(await send(page, 'track', `Offline ${i}`))
    await eventually(async () => {
      const reports = await page.evaluate(() => harness.reports)
      expect(new Set(reports.filter((r) => r.name === 'retry').flatMap((r) => r.ids)).size).toBe(3)
    })
    expect(await queueLength(page)).toBe(3)

    await page.reload()
    await page.evaluate(() => harness.ready())
    expect(await queueLength(page)).toBe(3)
    await receiver.up()
    await eventually(() => expect(receiver.received).toHaveLength(3), 20_000)
    expect(receiver.received.map((r) => r.body).sort()).toEqual(sent.map((s) => s.expected).sort())
    await eventually(async () => expect(await queueLength(page)).toBe(0))
    await context.close()
    await receiver.down()
  })

  for (const [lock, init] of [
    ['Web Locks', undefined],
    [
      'the localStorage lease (no Web Locks)',
      () => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }),
    ],
  ] as const) {
    it(`two tabs sharing one queue send no duplicates, with ${lock}`, async () => {
      const receiver = new Receiver()
      receiver.delayMs = 30 // deliveries overlap, so both tabs are busy at once
      await receiver.up()
      await receiver.down()
      const context = await profile(init)
      const [tabA, tabB] = [
        await open(context, { hook: receiver.url }),
        await open(context, { hook: receiver.url }),
      ] as [Page, Page]
      expect(await tabA.evaluate(() => typeof navigator.locks)).toBe(init ? 'undefined' : 'object')

      // While the receiver is down both tabs queue events into the same localStorage.
      const sent = await Promise.all(
        Array.from({ length: 8 }, (_, i) => send(i % 2 ? tabB : tabA, 'track', `Tab event ${i}`)),
      )
      await eventually(async () => expect(await queueLength(tabA)).toBe(8))
      await receiver.up()
      // Both tabs try to flush the shared queue at once, again and again.
      for (let round = 0; round < 5; round++) {
        await Promise.all([
          tabA.evaluate(() => harness.flush()),
          tabB.evaluate(() => harness.flush()),
        ])
      }
      await eventually(() => expect(receiver.received.length).toBeGreaterThanOrEqual(8), 20_000)
      await eventually(async () => expect(await queueLength(tabA)).toBe(0))
      await new Promise((resolve) => setTimeout(resolve, 500)) // room for a late duplicate to show up
      const ids = receiver.received.map((r) => JSON.parse(r.body).messageId as string)
      expect(ids.sort()).toEqual(sent.map((s) => s.messageId).sort())
      const delivered = [
        ...(await tabA.evaluate(() => harness.reports)),
        ...(await tabB.evaluate(() => harness.reports)),
      ]
      expect(count(delivered, 'delivered')).toBe(8)
      await context.close()
      await receiver.down()
    })
  }

  it('a batch answered 500 is retried byte for byte under its webhook-id and X-Signature, and nothing is merged into it', async () => {
    const receiver = new Receiver()
    receiver.answer = () => ({ status: receiver.received.length === 0 ? 500 : 200 })
    await receiver.up()
    const context = await profile()
    const page = await open(context, {
      hook: receiver.url,
      secret: BOTH_SECRET,
      signature: 'both',
      batchSize: '10',
    })
    let release = await holdLock(page)
    const batch: SentEvent[] = []
    for (let i = 0; i < 3; i++) batch.push(await send(page, 'track', `Batched ${i}`))
    await release()
    await eventually(async () => expect(count(await reportsOf(page), 'retry')).toBe(3))
    const [first] = receiver.received as [Received]
    expect(first.status).toBe(500)
    expect(first.body).toBe(`[${batch.map((s) => s.expected)}]`)
    expect(first.headers['webhook-id']).toMatch(/^batch_ajs-next-[\w-]+_3_[0-9a-z]+$/)

    // Events queued while the batch waits; once its retry time has passed, both are due together.
    release = await holdLock(page)
    const later = [await send(page, 'track', 'Later 0'), await send(page, 'track', 'Later 1')]
    await new Promise((resolve) => setTimeout(resolve, 1_500)) // the first retry waits 0.5 to 1 s
    await release()
    await eventually(() => expect(receiver.received).toHaveLength(3))
    const retried = receiver.received.find(
      (r, i) => i > 0 && r.headers['webhook-id'] === first.headers['webhook-id'],
    ) as Received
    expect(retried.body).toBe(first.body)
    expect(retried.headers['x-signature']).toBe(first.headers['x-signature'])
    expect(retried.headers['x-signature']).toBe(
      createHmac('sha1', BOTH_SECRET)
        .update(batch[0]?.expected as string)
        .digest('hex'),
    )
    const other = receiver.received.find((r) => r !== first && r !== retried) as Received
    expect(idsIn(other)).toEqual(later.map((s) => s.messageId))
    expect(other.headers['webhook-id']).not.toBe(first.headers['webhook-id'])
    await eventually(async () => expect(count(await reportsOf(page), 'delivered')).toBe(5))
    expect(await queueLength(page)).toBe(0)
    await context.close()
    await receiver.down()
  })

  it('a batch waiting to be retried when the page reloads is sent by the next page byte for byte, under its webhook-id', async () => {
    const receiver = new Receiver()
    // The first answer asks for 3 s, so that the page reloads while the batch waits.
    receiver.answer = () =>
      receiver.received.length === 0
        ? { status: 500, headers: { 'Retry-After': '3' } }
        : { status: 200 }
    await receiver.up()
    const context = await profile()
    const query = { hook: receiver.url, secret: BOTH_SECRET, signature: 'both', batchSize: '10' }
    const page = await open(context, query)
    const release = await holdLock(page)
    const batch: SentEvent[] = []
    for (let i = 0; i < 3; i++) batch.push(await send(page, 'track', `Before reload ${i}`))
    await release()
    await eventually(async () => expect(count(await reportsOf(page), 'retry')).toBe(3))

    await page.reload()
    await page.evaluate(() => harness.ready())
    const reloadedAt = Date.now()
    expect(await queueLength(page)).toBe(1) // the batch, as one request
    const after = await send(page, 'track', 'After reload')
    await eventually(() => expect(receiver.received).toHaveLength(3), 20_000)
    const [first, ...rest] = receiver.received as [Received, ...Received[]]
    const retried = rest.find((r) => r.headers['webhook-id'] === first.headers['webhook-id'])
    expect(retried?.at).toBeGreaterThan(reloadedAt)
    expect(retried?.body).toBe(first.body)
    expect(retried?.body).toBe(`[${batch.map((s) => s.expected)}]`)
    expect(retried?.headers['x-signature']).toBe(first.headers['x-signature'])
    expect(rest.find((r) => r !== retried)?.body).toBe(`[${after.expected}]`)
    await eventually(async () => expect(await queueLength(page)).toBe(0))
    await context.close()
    await receiver.down()
  })

  it('413: a receiver with a 100 KB limit gets every event of a batch of ten 12 KB events in smaller requests; one 150 KB event is dead, http_413', async () => {
    const receiver = new Receiver()
    receiver.limitBytes = 100 * 1024
    await receiver.up()
    const context = await profile()
    const page = await open(context, {
      hook: receiver.url,
      secret: BOTH_SECRET,
      signature: 'standard',
      batchSize: '10',
    })
    const pad = 'x'.repeat(12 * 1024)
    const release = await holdLock(page)
    const events: SentEvent[] = []
    for (let i = 0; i < 10; i++) events.push(await send(page, 'track', `Large ${i}`, { pad }))
    await release()
    await eventually(async () => expect(count(await reportsOf(page), 'delivered')).toBe(10))
    const statuses = receiver.received.map((r) => [idsIn(r).length, r.status])
    expect(statuses).toEqual([
      [10, 413],
      [5, 200],
      [5, 200],
    ])
    const accepted = receiver.received.filter((r) => r.status === 200)
    for (const r of accepted) expect(Buffer.byteLength(r.body)).toBeLessThanOrEqual(100 * 1024)
    expect(accepted.flatMap(idsIn)).toEqual(events.map((s) => s.messageId)) // each once, in order
    const ids = receiver.received.map((r) => r.headers['webhook-id'])
    expect(new Set(ids).size).toBe(receiver.received.length)
    // One retry report for the batch split, covering its ten events.
    expect(
      (await reportsOf(page))
        .filter((r) => r.name === 'retry')
        .map((r) => [r.ids.length, r.reason, r.status]),
    ).toEqual([[10, 'http_413', 413]])

    const big = await send(page, 'track', 'Too large', { pad: 'x'.repeat(150 * 1024) })
    await eventually(async () =>
      expect((await reportsOf(page)).filter((r) => r.name === 'dead')).toEqual([
        { name: 'dead', ids: [big.messageId], reason: 'http_413', status: 413, detail: null },
      ]),
    )
    expect(receiver.received.filter((r) => idsIn(r).includes(big.messageId))).toHaveLength(1)
    expect(await queueLength(page)).toBe(0)
    await context.close()
    await receiver.down()
  })
})
