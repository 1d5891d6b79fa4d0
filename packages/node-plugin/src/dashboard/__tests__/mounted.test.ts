/** The dashboard mounted in real apps (Express, Fastify, and Hono through its documented one-liner), over real HTTP: the page under the mount, logging in, the live feed, listing, replaying and purging. */

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { QueueStore } from '../../store/types.js'
import { fastifyDashboard } from '../fastify.js'
import { type DashboardHandler, dashboard } from '../handler.js'
import { nodeDashboard } from '../node.js'
import { ACTION_HEADERS, type LiveQueue, liveQueue, raw } from './fixtures.js'

/** An app serving the dashboard under /webhooks, on a free port of 127.0.0.1. */
type Mount = (board: DashboardHandler) => Promise<{ origin: string; close(): Promise<void> }>

async function listening(server: ReturnType<typeof createServer>) {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const MOUNTS: [string, Mount][] = [
  [
    'Express (after express.json())',
    async (board) => {
      const app = express()
      app.use(express.json())
      app.get('/', (_req, res) => {
        res.send('the app')
      })
      app.use('/webhooks', nodeDashboard(board))
      const server = createServer(app)
      const origin = await listening(server)
      return { origin, close: () => closeServer(server) }
    },
  ],
  [
    'Fastify',
    async (board) => {
      const app = Fastify()
      app.get('/', async () => 'the app')
      await app.register(fastifyDashboard(board), { prefix: '/webhooks' })
      const origin = await app.listen({ port: 0, host: '127.0.0.1' })
      return { origin, close: () => app.close() }
    },
  ],
  [
    'Hono',
    async (board) => {
      const app = new Hono()
      app.get('/', (c) => c.text('the app'))
      app.all('/webhooks/*', (c) => board(c.req.raw))
      // Hono's own fetch on node:http, through the same adapter an app without a framework uses.
      const server = createServer(nodeDashboard((request) => Promise.resolve(app.fetch(request))))
      const origin = await listening(server)
      return { origin, close: () => closeServer(server) }
    },
  ],
]

async function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
}

const TOKEN = 'mounted-app-dashboard-token'

describe.each(MOUNTS)('mounted in %s', (_name, mount) => {
  let queue: LiveQueue
  let reader: QueueStore
  let board: DashboardHandler
  let app: { origin: string; close(): Promise<void> }

  beforeEach(async () => {
    queue = await liveQueue('sqlite')
    queue.receiver.answer(() => ({ status: 400 }))
    for (const id of ['m-1', 'm-2', 'm-3'])
      queue.analytics.track({ userId: 'u1', event: 'Refused', messageId: id })
    await vi.waitFor(async () => expect((await queue.plugin.stats()).dead).toBe(3), {
      timeout: 10_000,
    })
    queue.receiver.answer(() => ({ status: 200 }))
    reader = await queue.open()
    board = dashboard({ store: reader, queue: queue.plugin.queue, token: TOKEN, intervalMs: 100 })
    app = await mount(board)
  })
  afterEach(async () => {
    await board.close()
    await app.close()
    await queue.cleanup()
  })

  it('leaves the rest of the app alone, and moves /webhooks to /webhooks/ so relative links work', async () => {
    expect((await raw(`${app.origin}/`)).body).toBe('the app')
    const moved = await raw(`${app.origin}/webhooks?x=1`)
    expect(moved.status).toBe(308)
    expect(moved.headers.location).toBe('/webhooks/?x=1')
  })

  it('logs in with ?token= under the mount, then serves the page, the counts and the live feed with the cookie', async () => {
    const login = await raw(`${app.origin}/webhooks/?token=${TOKEN}`)
    expect(login.status).toBe(303)
    expect(login.headers.location).toBe('/webhooks/')
    const cookie = (login.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? ''
    const page = await raw(`${app.origin}/webhooks/`, { headers: { cookie } })
    expect(page.status).toBe(200)
    expect(page.body).toContain('<title>Webhook queue</title>')
    const stats = await raw(`${app.origin}/webhooks/api/stats`, { headers: { cookie } })
    expect(JSON.parse(stats.body).reading.stats).toMatchObject({ dead: 3, queued: 0 })
    const feed = await raw(`${app.origin}/webhooks/api/events`, {
      headers: { cookie },
      streamMs: 350,
    })
    expect(feed.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(feed.body).toContain('event: snapshot')
    expect(feed.body).toContain('event: sample')
  })

  it('lists the dead letters newest first, replays one to the receiver, and purges one', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` }
    const listed = JSON.parse(
      (await raw(`${app.origin}/webhooks/api/dead`, { headers: auth })).body,
    )
    type Listed = { id: string; messageId: string; deadAt: number }
    const letters = listed.letters as Listed[]
    expect(letters.map((l) => l.messageId).sort()).toEqual(['m-1', 'm-2', 'm-3'])
    // Newest first; letters that died in the same millisecond, by id, descending.
    const newestFirst = (a: Listed, b: Listed) =>
      b.deadAt - a.deadAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
    expect(letters).toEqual([...letters].sort(newestFirst))
    const byMessageId = (id: string) => letters.find((l) => l.messageId === id)
    const [third, second] = [byMessageId('m-3'), byMessageId('m-2')]
    const replay = await raw(`${app.origin}/webhooks/api/dead/replay`, {
      method: 'POST',
      headers: { ...auth, ...ACTION_HEADERS },
      body: JSON.stringify({ id: second?.id }),
    })
    expect(JSON.parse(replay.body)).toEqual({ replayed: 1, unsendable: 0 })
    await vi.waitFor(
      () =>
        expect(queue.receiver.requests.map((r) => JSON.parse(r.body).messageId)).toContain('m-2'),
      { timeout: 10_000 },
    )
    const purge = await raw(`${app.origin}/webhooks/api/dead/purge`, {
      method: 'POST',
      headers: { ...auth, ...ACTION_HEADERS },
      body: JSON.stringify({ id: third?.id }),
    })
    expect(JSON.parse(purge.body)).toEqual({ purged: 1 })
    expect((await reader.listDead({ queue: queue.plugin.queue })).map((l) => l.messageId)).toEqual([
      'm-1',
    ])
  })
})
