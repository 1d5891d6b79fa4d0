/** The delivery rules of DESIGN.md, end to end: a real analytics-node pipeline, real receivers, a real store. */

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SettingsError } from '@analytics-webhooks/core'
import type { Analytics } from '@segment/analytics-node'
import express from 'express'
import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { DeadEvent, RetryEvent } from '../events.js'
import { type WebhookPlugin, type WebhookPluginOptions, webhookPlugin } from '../plugin.js'
import type { QueueStore } from '../store/types.js'
import { type Receiver, specSignature, startReceiver, testAnalytics } from './receiver.js'
import { type StoreFixture, storeFactories } from './stores.js'

const SECRET = 'test-shared-secret'
const FAST: WebhookPluginOptions = {
  retry: { baseDelayMs: 20, maxDelayMs: 100 },
  backoff: { baseDelayMs: 50, maxDelayMs: 200 },
  pollIntervalMs: 200,
}

describe.each(storeFactories)('delivery with the $name store', (factory) => {
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function fixture(): Promise<StoreFixture> {
    const made = await factory.make()
    cleanups.push(() => made.cleanup())
    return made
  }

  async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
    const r = await startReceiver(...args)
    cleanups.push(() => r.close())
    return r
  }

  /** A plugin on a fresh store, registered in a fresh pipeline. */
  async function pipeline(
    settings: Parameters<typeof webhookPlugin>[0],
    options: WebhookPluginOptions = {},
    store?: QueueStore,
  ): Promise<{ analytics: Analytics; plugin: WebhookPlugin; store: QueueStore }> {
    const queueStore = store ?? (await fixture()).connect()
    const plugin = webhookPlugin(settings, { ...FAST, ...options, store: queueStore })
    cleanups.push(async () => {
      await plugin.close()
      await queueStore.close()
    })
    const analytics = testAnalytics()
    cleanups.push(() => analytics.closeAndFlush())
    await analytics.register(plugin)
    return { analytics, plugin, store: queueStore }
  }

  function collect<T>(plugin: WebhookPlugin, name: 'dead' | 'retry'): T[] {
    const seen: T[] = []
    plugin.on(name, (e: DeadEvent | RetryEvent) => seen.push(e as T))
    return seen
  }

  describe('wire format', () => {
    it('sends every event type and a delete with the exact body, headers and X-Signature', async () => {
      const r = await receiver()
      const { analytics, plugin } = await pipeline({
        webhooks: [r.url],
        headers: { 'X-Team': 'growth' },
        sharedSecret: SECRET,
      })
      const timestamp = new Date('2012-12-02T00:30:08.276Z')
      analytics.track({
        userId: 'u1',
        event: 'Purchased an Item',
        properties: { revenue: '39.95' },
        timestamp,
      })
      analytics.identify({
        userId: 'u1',
        traits: { email: 'a@example.com', name: 'Ünïcødé 👋' },
        timestamp,
      })
      analytics.page({ userId: 'u1', name: 'Pricing', properties: { path: '/pricing' }, timestamp })
      analytics.screen({ userId: 'u1', name: 'Main Screen', timestamp })
      analytics.group({ userId: 'u1', groupId: 'g1', traits: { plan: 'Enterprise' }, timestamp })
      analytics.alias({ userId: 'u2', previousId: 'u1', timestamp })
      await analytics.closeAndFlush()
      await plugin.delete({ userId: 'u1', timestamp })
      expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })

      expect(r.requests).toHaveLength(7)
      const byType = new Map(r.requests.map((req) => [JSON.parse(req.body).type as string, req]))
      expect([...byType.keys()].sort()).toEqual([
        'alias',
        'delete',
        'group',
        'identify',
        'page',
        'screen',
        'track',
      ])
      for (const req of r.requests) {
        expect(req.method).toBe('POST')
        expect(req.path).toBe('/hook')
        expect(req.headers['user-agent']).toBe('Segment.io/1.0')
        expect(req.headers['content-type']).toBe('application/json')
        expect(req.headers['x-team']).toBe('growth')
        expect(req.headers['x-signature']).toBe(specSignature(SECRET, req.body))
        expect(JSON.stringify(JSON.parse(req.body))).toBe(req.body)
      }
      const track = JSON.parse(byType.get('track')?.body as string)
      expect(track).toMatchObject({
        version: 1,
        type: 'track',
        userId: 'u1',
        event: 'Purchased an Item',
        properties: { revenue: '39.95' },
        timestamp: '2012-12-02T00:30:08.276Z',
      })
      expect(typeof track.messageId).toBe('string')
      expect(track.context.library.name).toBe('@segment/analytics-node')
      expect(track).not.toHaveProperty('_metadata')
      expect(track).not.toHaveProperty('writeKey')
      expect(Object.keys(track)[0]).toBe('version')
      expect(JSON.parse(byType.get('alias')?.body as string)).toMatchObject({
        previousId: 'u1',
        userId: 'u2',
      })
      expect(JSON.parse(byType.get('identify')?.body as string).traits.name).toBe('Ünïcødé 👋')
      expect(byType.get('delete')?.body).toBe(
        '{"type":"delete","userId":"u1","timestamp":"2012-12-02T00:30:08.276Z"}',
      )
      const stats = await plugin.stats()
      expect(stats).toMatchObject({ delivered: 7, queued: 0, inFlight: 0, dead: 0 })
    })

    it('batches: JSON arrays of events, X-Signature over the first event, each event once', async () => {
      const r = await receiver()
      const { analytics, plugin } = await pipeline({
        webhooks: [r.url],
        sharedSecret: SECRET,
        batchSize: 10,
      })
      for (let i = 0; i < 25; i++) analytics.track({ userId: 'u1', event: 'E', properties: { i } })
      await analytics.closeAndFlush()
      await plugin.drain({ timeoutMs: 10_000 })
      const events = r.requests.flatMap((req) => {
        expect(req.headers['x-signature']).toBe(specSignature(SECRET, req.body))
        const body = JSON.parse(req.body)
        expect(Array.isArray(body)).toBe(true)
        expect(body.length).toBeLessThanOrEqual(10)
        return body as { properties: { i: number } }[]
      })
      expect(events.map((e) => e.properties.i).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 25 }, (_, i) => i),
      )
      expect(r.requests.length).toBeLessThan(25)
    })

    it('signs with Standard Webhooks too: webhook-id is the messageId, stable across retries', async () => {
      const r = await receiver((_req, i) => (i === 0 ? { status: 503 } : { status: 200 }))
      const { analytics, plugin } = await pipeline({
        webhooks: [r.url],
        sharedSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        signature: 'both',
      })
      analytics.track({ userId: 'u1', event: 'E', messageId: 'msg-1' })
      await analytics.closeAndFlush()
      await plugin.drain({ timeoutMs: 10_000 })
      expect(r.requests).toHaveLength(2)
      expect(r.requests.map((req) => req.headers['webhook-id'])).toEqual(['msg-1', 'msg-1'])
      expect(r.requests[1]?.headers['webhook-signature']).toMatch(/^v1,/)
      expect(r.requests[1]?.headers['x-signature']).toBe(
        specSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', r.requests[1]?.body as string),
      )
    })

    it('takes an unpadded whsec_ secret, as standardwebhooks does, and that package verifies every request', async () => {
      const secret = 'whsec_c2VjcmV0LWtleS1mb3ItdW5wYWRkZWQ' // 23 bytes: padded base64 would end in '='
      const r = await receiver()
      const { analytics, plugin } = await pipeline({
        webhooks: [r.url],
        sharedSecret: secret,
        signature: 'standard',
      })
      analytics.track({ userId: 'u1', event: 'E' })
      analytics.identify({ userId: 'u1', traits: { name: 'Ünïcødé' } })
      await analytics.closeAndFlush()
      await plugin.drain({ timeoutMs: 10_000 })
      expect(r.requests).toHaveLength(2)
      for (const req of r.requests) {
        const headers = req.headers as Record<string, string>
        expect(new Webhook(secret).verify(req.body, headers)).toEqual(JSON.parse(req.body))
      }
    })
  })

  describe('fan-out', () => {
    it('five URLs, four failing: delivered once, not retried anywhere', async () => {
      const failing = await Promise.all([1, 2, 3, 4].map(() => receiver(() => ({ status: 500 }))))
      const ok = await receiver()
      const { analytics, plugin } = await pipeline({
        webhooks: [...failing.map((f) => f.url), ok.url],
      })
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      await plugin.drain({ timeoutMs: 10_000 })
      await new Promise((resolve) => setTimeout(resolve, 200))
      for (const f of failing) expect(f.requests).toHaveLength(1)
      expect(ok.requests).toHaveLength(1)
      expect(await plugin.stats()).toMatchObject({ delivered: 1, retried: 0, dead: 0 })
    })
  })

  describe('temporary failures are retried', () => {
    it('all 503, then recovery: delivered', async () => {
      let failing = true
      const r = await receiver(() => (failing ? { status: 503 } : { status: 200 }))
      const { analytics, plugin } = await pipeline({ webhooks: [r.url] })
      const retries = collect<RetryEvent>(plugin, 'retry')
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      await r.waitFor(3)
      failing = false
      expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      expect(retries.length).toBeGreaterThanOrEqual(2)
      expect(retries[0]).toMatchObject({ reason: 'http_5xx', status: 503, attempts: 1 })
      const stats = await plugin.stats()
      expect(stats).toMatchObject({ delivered: 1, dead: 0 })
      expect(stats.retried).toBeGreaterThanOrEqual(2)
    })

    it('a failed batch is retried together: the same events in one request, one retry event', async () => {
      const r = await receiver((_req, i) => (i === 0 ? { status: 503 } : { status: 200 }))
      const { analytics, plugin } = await pipeline({ webhooks: [r.url], batchSize: 10 })
      const retries = collect<RetryEvent>(plugin, 'retry')
      for (let i = 0; i < 10; i++) analytics.track({ userId: 'u1', event: `E${i}` })
      await analytics.closeAndFlush()
      expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      // Each delivery drawing its own random wait (10-20 ms here) would split the retry over several requests.
      const ids = (body: string) =>
        (JSON.parse(body) as { messageId: string }[]).map((e) => e.messageId)
      expect(r.requests).toHaveLength(2)
      expect(ids(r.requests[0]?.body as string)).toHaveLength(10)
      expect(ids(r.requests[1]?.body as string)).toEqual(ids(r.requests[0]?.body as string))
      expect(retries).toHaveLength(1)
      expect(retries[0]?.ids).toHaveLength(10)
      expect(await plugin.stats()).toMatchObject({ delivered: 10, retried: 10, dead: 0 })
    })

    it('a server that hangs: the exchange times out and is retried', async () => {
      const r = await receiver((_req, i) => (i === 0 ? 'hang' : { status: 200 }))
      const { analytics, plugin } = await pipeline({ webhooks: [r.url], timeoutMs: 300 })
      const retries = collect<RetryEvent>(plugin, 'retry')
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      await plugin.drain({ timeoutMs: 10_000 })
      expect(retries).toEqual([expect.objectContaining({ reason: 'timeout', attempts: 1 })])
      expect(r.requests).toHaveLength(2)
      expect((r.requests[1]?.at as number) - (r.requests[0]?.at as number)).toBeGreaterThanOrEqual(
        290,
      )
    })

    it('with the default settings, a hanging server is cut off at 5 s and the event retried', async () => {
      const r = await receiver((_req, i) => (i === 0 ? 'hang' : { status: 200 }))
      const { analytics, plugin } = await pipeline(
        { webhooks: [r.url] },
        { retry: { baseDelayMs: 10, maxDelayMs: 20 } },
      )
      const retries = collect<RetryEvent>(plugin, 'retry')
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      expect(await plugin.drain({ timeoutMs: 15_000 })).toEqual({ drained: true, remaining: 0 })
      expect(retries).toEqual([expect.objectContaining({ reason: 'timeout', attempts: 1 })])
      expect(r.requests).toHaveLength(2)
      const gap = (r.requests[1]?.at as number) - (r.requests[0]?.at as number)
      // The whole exchange gets 5 s (a shared deadline may add up to 50 ms), then a 10-20 ms backoff.
      expect(gap).toBeGreaterThanOrEqual(4_990)
      expect(gap).toBeLessThan(6_500)
    })

    it('drain times out on a monotonic clock: a wall-clock step forward does not end it early', async () => {
      const r = await receiver((_req, i) => (i === 0 ? { status: 503 } : { status: 200 }))
      const { analytics, plugin } = await pipeline(
        { webhooks: [r.url] },
        { retry: { baseDelayMs: 300, maxDelayMs: 300 } },
      )
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      await r.waitFor(1)
      const draining = plugin.drain({ timeoutMs: 5_000 })
      await new Promise((resolve) => setTimeout(resolve, 50))
      // The wall clock jumps a minute ahead (an NTP step) while drain waits for the retry.
      const wall = Date.now.bind(Date)
      const step = vi.spyOn(Date, 'now').mockImplementation(() => wall() + 60_000)
      try {
        expect(await draining).toEqual({ drained: true, remaining: 0 })
      } finally {
        step.mockRestore()
      }
      expect(r.requests).toHaveLength(2)
    })

    it('the timeout defaults to 5 s', () => {
      const plugin = webhookPlugin(
        { webhooks: ['https://example.com/hook'] },
        { store: { sqlite: { path: ':memory:' } } },
      )
      expect(plugin.settings.timeoutMs).toBe(5000)
      return plugin.close()
    })

    it('honours Retry-After', async () => {
      const r = await receiver((_req, i) =>
        i === 0 ? { status: 429, headers: { 'Retry-After': '1' } } : { status: 200 },
      )
      const { analytics, plugin } = await pipeline({ webhooks: [r.url] })
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      await plugin.drain({ timeoutMs: 10_000 })
      expect(r.requests).toHaveLength(2)
      expect((r.requests[1]?.at as number) - (r.requests[0]?.at as number)).toBeGreaterThanOrEqual(
        950,
      )
    })
  })

  describe('permanent failures are dead-lettered, never retried', () => {
    it('400: dead-lettered with reason, status and attempts', async () => {
      const r = await receiver(() => ({ status: 400 }))
      const { analytics, plugin, store } = await pipeline({ webhooks: [r.url] })
      const dead = collect<DeadEvent>(plugin, 'dead')
      analytics.track({ userId: 'u1', event: 'E', messageId: 'm-400' })
      await analytics.closeAndFlush()
      await plugin.drain({ timeoutMs: 10_000 })
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(r.requests).toHaveLength(1)
      expect(dead).toEqual([
        expect.objectContaining({ reason: 'http_4xx', status: 400, attempts: 1 }),
      ])
      const [letter] = await store.listDead({ queue: 'default' })
      expect(letter).toMatchObject({
        messageId: 'm-400',
        reason: 'http_4xx',
        lastStatus: 400,
        attempts: 1,
      })
      expect(letter?.detail).toBe('webhooks[0]: http_4xx (HTTP 400)')
      expect((await plugin.stats()).deadByReason).toEqual({ http_4xx: 1 })
    })

    it('a redirect is not followed: dead as http_3xx, the target never hit', async () => {
      const target = await receiver()
      const r = await receiver(() => ({ status: 302, headers: { Location: target.url } }))
      const { analytics, plugin } = await pipeline({ webhooks: [r.url] })
      const dead = collect<DeadEvent>(plugin, 'dead')
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      await plugin.drain({ timeoutMs: 10_000 })
      expect(dead).toEqual([expect.objectContaining({ reason: 'http_3xx', status: 302 })])
      expect(r.requests).toHaveLength(1)
      expect(target.requests).toHaveLength(0)
    })
  })

  describe('TLS is verified', () => {
    it('a self-signed certificate: dead-lettered as tls, the request handler never runs', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'aw-tls-'))
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      )
      let handled = 0
      const server = createHttpsServer(
        { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
        (_req, res) => {
          handled++
          res.end()
        },
      )
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      cleanups.push(() => new Promise((resolve) => server.close(resolve)))
      const { port } = server.address() as AddressInfo
      const { analytics, plugin } = await pipeline({ webhooks: [`https://127.0.0.1:${port}/hook`] })
      const dead = collect<DeadEvent>(plugin, 'dead')
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      expect(dead).toEqual([expect.objectContaining({ reason: 'tls', attempts: 1 })])
      expect(handled).toBe(0)
    })
  })

  describe('the retry window', () => {
    it('on a fake clock, a delivery still failing after 4 h is dead-lettered as expired', async () => {
      let clock = Date.parse('2026-01-01T00:00:00Z')
      const r = await receiver(() => ({ status: 503 }))
      const { analytics, plugin, store } = await pipeline(
        { webhooks: [r.url] },
        { now: () => clock, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } },
      )
      const dead = collect<DeadEvent>(plugin, 'dead')
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      await r.waitFor(1)
      // Walk the clock through the window in one-hour steps; the worker retries as deliveries fall due.
      for (let hour = 1; hour <= 5 && dead.length === 0; hour++) {
        clock += 60 * 60 * 1000
        await plugin.drain({ timeoutMs: 600 })
      }
      expect(await plugin.drain({ timeoutMs: 5000 })).toEqual({ drained: true, remaining: 0 })
      expect(dead).toEqual([expect.objectContaining({ reason: 'expired', status: 503 })])
      const [letter] = await store.listDead()
      expect(letter).toMatchObject({ reason: 'expired', lastStatus: 503 })
      expect(letter?.attempts).toBeGreaterThanOrEqual(2)
      expect(letter?.detail).toContain('http_5xx')
      const stats = await plugin.stats()
      expect(stats.delivered + stats.dead).toBe(1)
    })
  })

  describe('one request, one identity', () => {
    /**
     * A receiver written as the README tells receivers to: it processes a
     * request's events unless it has seen its webhook-id, and it records every
     * body sent under each id. It processes the first request but answers 500,
     * then 503 for `outageMs`, then 200.
     */
    async function dedupingReceiver(outageMs: number) {
      const processed: string[] = []
      const bodies = new Map<string, Set<string>>()
      let outageEnds = Number.POSITIVE_INFINITY
      const r = await receiver((request, index) => {
        const id = String(request.headers['webhook-id'])
        const seen = bodies.get(id)
        if (seen) seen.add(request.body)
        else {
          bodies.set(id, new Set([request.body]))
          for (const event of [JSON.parse(request.body)].flat()) processed.push(event.messageId)
        }
        if (index === 0) {
          outageEnds = Date.now() + outageMs
          return { status: 500 }
        }
        return Date.now() < outageEnds ? { status: 503 } : { status: 200 }
      })
      return { r, processed, bodies }
    }

    const settings = (url: string) => ({
      webhooks: [url],
      batchSize: 10,
      sharedSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      signature: 'standard' as const,
    })
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    /** Tracks three events and resolves once the plugin has committed them (`total` in all). */
    async function group(analytics: Analytics, plugin: WebhookPlugin, g: number, total: number) {
      for (let i = 0; i < 3; i++)
        analytics.track({ userId: 'u1', event: 'E', messageId: `m-${g}-${i}` })
      for (let tries = 0; tries < 500; tries++) {
        const { queued, inFlight, delivered, dead } = await plugin.stats()
        if (queued + inFlight + delivered + dead >= total) return
        await sleep(10)
      }
      throw new Error(`the plugin did not commit ${total} events`)
    }
    const everyEvent = Array.from({ length: 9 }, (_, i) => `m-${Math.floor(i / 3)}-${i % 3}`)

    it('events arriving during an outage: each is processed once, and each webhook-id carries one body', async () => {
      const { r, processed, bodies } = await dedupingReceiver(1000)
      const { analytics, plugin } = await pipeline(settings(r.url))
      for (let g = 0; g < 3; g++) {
        await group(analytics, plugin, g, 3 * (g + 1))
        await sleep(800)
      }
      expect(await plugin.drain({ timeoutMs: 20_000 })).toEqual({ drained: true, remaining: 0 })
      expect(processed.sort()).toEqual(everyEvent)
      for (const [id, sent] of bodies) expect([id, sent.size]).toEqual([id, 1])
      // The first batch was retried under its id: the receiver saw it more than once.
      expect(r.requests.length).toBeGreaterThan(bodies.size)
      expect(await plugin.stats()).toMatchObject({ delivered: 9, dead: 0 })
    })

    it('the same with the process restarted during the outage', async () => {
      const { r, processed, bodies } = await dedupingReceiver(1500)
      const made = await fixture()
      const first = await pipeline(settings(r.url), {}, made.connect())
      await group(first.analytics, first.plugin, 0, 3)
      await sleep(800)
      await group(first.analytics, first.plugin, 1, 6)
      await sleep(300)
      // A restart: the plugin stops and gives back what it holds; a new process opens the same queue.
      await first.plugin.close()
      await first.store.close()
      const second = await pipeline(settings(r.url), {}, made.connect())
      await group(second.analytics, second.plugin, 2, 9)
      expect(await second.plugin.drain({ timeoutMs: 20_000 })).toEqual({
        drained: true,
        remaining: 0,
      })
      expect(processed.sort()).toEqual(everyEvent)
      for (const [id, sent] of bodies) expect([id, sent.size]).toEqual([id, 1])
    })
  })

  describe('413 Payload Too Large', () => {
    /** The spec's own receiver: Express with express.json() and its 100 KB default limit. */
    async function expressReceiver(): Promise<{
      url: string
      requests: { id: string; status: number; events: { messageId: string }[] }[]
    }> {
      const requests: { id: string; status: number; events: { messageId: string }[] }[] = []
      const app = express()
      app.use(express.json())
      app.post('/hook', (req, res) => {
        const events = [req.body].flat() as { messageId: string }[]
        requests.push({ id: String(req.headers['webhook-id']), status: 200, events })
        res.sendStatus(200)
      })
      app.use(
        (
          error: { status?: number },
          req: express.Request,
          res: express.Response,
          _next: express.NextFunction,
        ) => {
          requests.push({
            id: String(req.headers['webhook-id']),
            status: error.status ?? 500,
            events: [],
          })
          res.sendStatus(error.status ?? 500)
        },
      )
      const server = createHttpServer(app)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      cleanups.push(() => new Promise((resolve) => server.close(resolve)))
      const { port } = server.address() as AddressInfo
      return { url: `http://127.0.0.1:${port}/hook`, requests }
    }

    it('a batch of ten 12 KB events over a 100 KB limit reaches the receiver in smaller requests, each event once', async () => {
      const r = await expressReceiver()
      const { analytics, plugin } = await pipeline({
        webhooks: [r.url],
        batchSize: 10,
        sharedSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        signature: 'standard',
      })
      const padding = 'x'.repeat(12 * 1024)
      for (let i = 0; i < 10; i++) {
        analytics.track({ userId: 'u1', event: 'Big', messageId: `m${i}`, properties: { padding } })
      }
      await analytics.closeAndFlush()
      expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      expect(r.requests[0]).toMatchObject({ status: 413 })
      const accepted = r.requests.filter((request) => request.status === 200)
      expect(accepted.length).toBeGreaterThanOrEqual(2)
      const delivered = accepted.flatMap((request) => request.events.map((e) => e.messageId))
      expect(delivered.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort())
      // Each half is a new request with an id of its own, never the refused batch's.
      const ids = r.requests.map((request) => request.id)
      expect(new Set(ids).size).toBe(ids.length)
      expect(await plugin.stats()).toMatchObject({ delivered: 10, dead: 0 })
    })

    it('one event over the limit is dead-lettered http_413', async () => {
      const r = await expressReceiver()
      const { analytics, plugin, store } = await pipeline({ webhooks: [r.url] })
      analytics.track({
        userId: 'u1',
        event: 'Huge',
        properties: { padding: 'x'.repeat(150 * 1024) },
      })
      await analytics.closeAndFlush()
      expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      expect(r.requests.map((request) => request.status)).toEqual([413])
      const [letter] = await store.listDead()
      expect(letter).toMatchObject({ reason: 'http_413', lastStatus: 413, attempts: 1 })
    })
  })

  describe('expiry is on time, attempted or not', () => {
    it('5,000 queued while the destination is down all expire at the next probe after the window closes: none sent, none lost', async () => {
      let clock = Date.parse('2026-01-01T00:00:00Z')
      const r = await receiver(() => ({ status: 503 }))
      const { analytics, plugin, store } = await pipeline(
        { webhooks: [r.url] },
        { now: () => clock, concurrency: 4, backoff: { baseDelayMs: 50, maxDelayMs: 100 } },
      )
      const total = 5000
      for (let i = 0; i < total; i++)
        analytics.track({ userId: 'u1', event: 'E', properties: { i } })
      await analytics.closeAndFlush()
      // The first requests fail and the destination backs off: most deliveries were never attempted.
      await r.waitFor(3)
      await plugin.drain({ timeoutMs: 300 })
      const before = await plugin.stats()
      expect(before.queued + before.inFlight).toBe(total)
      expect(before.dead).toBe(0)

      clock += 4 * 60 * 60 * 1000 + 1 // the window has just closed for every delivery
      const sentBefore = r.requests.length
      expect(await plugin.drain({ timeoutMs: 20_000 })).toEqual({ drained: true, remaining: 0 })
      // Nothing was sent after the window closed: the probe that woke first found them all expired.
      expect(r.requests.length - sentBefore).toBeLessThanOrEqual(1)
      const stats = await plugin.stats()
      expect(stats).toMatchObject({ queued: 0, inFlight: 0, delivered: 0, dead: total })
      expect(stats.deadByReason).toEqual({ expired: total })
      const letters = await store.listDead({ limit: total + 1 })
      expect(letters).toHaveLength(total)
      expect(new Set(letters.map((l) => l.messageId)).size).toBe(total)
      const neverTried = letters.filter((l) => l.attempts === 0)
      expect(neverTried.length).toBeGreaterThan(total - 100)
      expect(neverTried[0]?.detail).toContain('never attempted')
    })
  })

  describe('a failing destination does not turn into a retry storm', () => {
    it('during an all-5xx outage the request rate is bounded by the probe, then the backlog drains', async () => {
      let down = true
      const r = await receiver(() => (down ? { status: 503 } : { status: 200 }))
      const { analytics, plugin } = await pipeline(
        { webhooks: [r.url] },
        {
          concurrency: 4,
          retry: { baseDelayMs: 10, maxDelayMs: 20 },
          backoff: { baseDelayMs: 100, maxDelayMs: 200 },
        },
      )
      const backlog = 300
      for (let i = 0; i < backlog; i++)
        analytics.track({ userId: 'u1', event: 'E', properties: { i } })
      await analytics.closeAndFlush()
      await r.waitFor(3)
      await new Promise((resolve) => setTimeout(resolve, 300))
      const start = r.requests.length
      const windowMs = 1500
      await new Promise((resolve) => setTimeout(resolve, windowMs))
      const during = r.requests.length - start
      // One probe per 50–200 ms at most; per-event retry clocks (10–20 ms, 300 events) would be thousands.
      console.log(`outage: ${during} requests in ${windowMs} ms with a backlog of ${backlog}`)
      expect(during).toBeLessThanOrEqual(Math.ceil(windowMs / 50) + 4)
      down = false
      expect(await plugin.drain({ timeoutMs: 20_000 })).toEqual({ drained: true, remaining: 0 })
      const stats = await plugin.stats()
      expect(stats).toMatchObject({ delivered: backlog, dead: 0 })
    })
  })

  describe('bad input', () => {
    it('an event that cannot be serialised is dead-lettered with its reason; others keep flowing', async () => {
      const r = await receiver()
      const { analytics, plugin, store } = await pipeline({ webhooks: [r.url] })
      const errors: unknown[] = []
      analytics.on('error', (e) => errors.push(e))
      const circular: Record<string, unknown> = { name: 'loop' }
      circular.self = circular
      analytics.track({ userId: 'u1', event: 'Before' })
      analytics.track({ userId: 'u1', event: 'Circular', properties: { circular } })
      analytics.track({ userId: 'u1', event: 'Big', properties: { big: 10n } })
      analytics.track({ userId: 'u1', event: 'After' })
      // analytics-node's own Segment publisher never settles a batch JSON cannot carry, so bound its wait.
      await analytics.closeAndFlush({ timeout: 1000 })
      expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      expect(r.requests.map((req) => JSON.parse(req.body).event).sort()).toEqual([
        'After',
        'Before',
      ])
      const dead = await store.listDead()
      expect(dead.map((d) => d.reason)).toEqual(['invalid_payload', 'invalid_payload'])
      const details = dead.map((d) => d.detail as string).sort()
      expect(details[0]).toMatch(
        /^Invalid webhook payload: event: contains a BigInt value, which JSON cannot carry; event: \{.*"big":"10n"/,
      )
      expect(details[1]).toMatch(
        /^Invalid webhook payload: event: contains a circular reference; event: \{.*"\[Circular\]"/,
      )
      // Nothing that could be signed and sent is kept, and a replay refuses them.
      expect(dead.map((d) => d.body)).toEqual(['', ''])
      expect(details.join()).not.toContain('_metadata')
      expect(await store.replayDead({ all: true }, { now: Date.now() })).toEqual({
        replayed: 0,
        unsendable: 2,
      })
      expect(errors.length).toBeGreaterThanOrEqual(2)
    })

    it('invalid settings throw a clear error at webhookPlugin(...)', () => {
      expect(() => webhookPlugin({ webhooks: [] })).toThrow(SettingsError)
      expect(() => webhookPlugin({ webhooks: ['ftp://example.com'] })).toThrow(/webhooks\[0\]/)
      expect(() =>
        webhookPlugin({ webhooks: ['https://a.example'], headers: { 'Content-Type': 'x' } }),
      ).toThrow(expect.objectContaining({ code: 'reserved_header' }))
      expect(() => webhookPlugin({ webhooks: ['https://a.example'] }, { concurrency: 0 })).toThrow(
        expect.objectContaining({ code: 'invalid_option' }),
      )
    })

    it('a second plugin on the same store and queue is refused; another queue name is fine', async () => {
      const f = await fixture()
      const store = f.connect()
      const first = webhookPlugin({ webhooks: ['https://a.example'] }, { store })
      expect(() => webhookPlugin({ webhooks: ['https://b.example'] }, { store })).toThrow(
        expect.objectContaining({ code: 'queue_in_use' }),
      )
      const second = webhookPlugin({ webhooks: ['https://b.example'] }, { store, queue: 'b' })
      await first.close()
      const third = webhookPlugin({ webhooks: ['https://a.example'] }, { store })
      await Promise.all([second.close(), third.close()])
      await store.close()
    })

    it('a failed commit marks the event failed, so analytics-node emits error', async () => {
      const f = await fixture()
      const store = f.connect()
      const broken: QueueStore = Object.assign(Object.create(store) as QueueStore, {
        open: () => store.open(),
        enqueue: async () => {
          throw new Error('disk full')
        },
      })
      const { analytics } = await pipeline({ webhooks: ['http://127.0.0.1:9/hook'] }, {}, broken)
      const errors: { code?: string; reason?: unknown }[] = []
      analytics.on('error', (e) => errors.push(e as { code?: string }))
      analytics.track({ userId: 'u1', event: 'E' })
      await analytics.closeAndFlush()
      expect(errors).toEqual([expect.objectContaining({ code: 'delivery_failure' })])
      expect(errors[0]?.reason).toMatchObject({ code: 'commit_failed' })
    })
  })

  describe('durability', () => {
    it('what a closed process left in the queue is delivered by the next one', async () => {
      const f = await fixture()
      const r = await receiver(() => ({ status: 503 }))
      const first = await pipeline({ webhooks: [r.url] }, {}, f.connect())
      for (let i = 0; i < 5; i++)
        first.analytics.track({ userId: 'u1', event: 'E', messageId: `m${i}` })
      await first.analytics.closeAndFlush()
      await r.waitFor(1)
      await first.plugin.close()
      r.answer(() => ({ status: 200 }))
      const second = await pipeline({ webhooks: [r.url] }, {}, f.connect())
      await second.plugin.drain({ timeoutMs: 10_000 })
      const delivered = new Set(r.requests.map((req) => JSON.parse(req.body).messageId as string))
      expect([...delivered].sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
      expect(await second.plugin.stats()).toMatchObject({ delivered: 5, queued: 0, inFlight: 0 })
    })
  })
})
