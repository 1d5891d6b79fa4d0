/**
 * The dashboard on a large queue: how long its API takes to refresh over
 * real HTTP on a SQLite file holding a 1,000,000-event backlog and 100,000
 * dead letters, and how many bytes the page loads. Run on its own (it
 * prefills for a while): `npx tsx bench/dashboard.ts`; smaller:
 * `BENCH_DASHBOARD_EVENTS=100000 BENCH_DASHBOARD_DEAD=10000 npx tsx bench/dashboard.ts`.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { ReasonCode } from '@analytics-webhooks/core'
import { dashboard } from '../src/dashboard/handler.js'
import { nodeDashboard } from '../src/dashboard/node.js'
import { SqliteQueueStore } from '../src/store/sqlite/store.js'
import { quantile, sampleEvent, since, size } from './harness.js'

const EVENTS = size('BENCH_DASHBOARD_EVENTS', 1_000_000)
const DEAD = size('BENCH_DASHBOARD_DEAD', 100_000)
const ROUNDS = size('BENCH_DASHBOARD_ROUNDS', 50)
const QUEUE = 'default'
const TOKEN = 'bench-dashboard-token-0123456789'
const REASONS: ReasonCode[] = ['http_4xx', 'expired', 'tls']

const fmt = (n: number) => n.toLocaleString('en-US')
const ms = (n: number) => `${n.toFixed(2)} ms`

async function prefill(store: SqliteQueueStore): Promise<void> {
  const now = Date.now()
  for (let from = 0; from < EVENTS; from += 10_000) {
    const chunk = []
    for (let i = from; i < Math.min(EVENTS, from + 10_000); i++) {
      chunk.push({
        id: `d-${i}`,
        body: JSON.stringify({ type: 'track', ...sampleEvent(i) }),
        messageId: `bench-${i}`,
        enqueuedAt: now - EVENTS + i,
      })
    }
    await store.enqueue(QUEUE, chunk)
  }
  for (let from = 0; from < DEAD; from += 10_000) {
    const chunk = []
    for (let i = from; i < Math.min(DEAD, from + 10_000); i++) {
      chunk.push({
        id: `dead-${String(i).padStart(7, '0')}`,
        body: JSON.stringify({ type: 'track', ...sampleEvent(i), messageId: `dead-${i}` }),
        messageId: `dead-${i}`,
        enqueuedAt: now - 4 * 3_600_000,
        attempts: 3,
        // A few per millisecond, so pages cross letters that died at the same moment.
        deadAt: now - DEAD + Math.floor(i / 3),
        reason: REASONS[i % REASONS.length] as ReasonCode,
        lastStatus: 400,
        detail: 'HTTP 400 Bad Request',
      })
    }
    await store.enqueueDead(QUEUE, chunk)
  }
}

/** Times `get(path)` ROUNDS times; median and p95 in ms. */
async function time(get: () => Promise<unknown>): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < 3; i++) await get() // warm up
  const times: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now()
    await get()
    times.push(since(start))
  }
  times.sort((a, b) => a - b)
  return { p50: quantile(times, 0.5), p95: quantile(times, 0.95) }
}

const dir = mkdtempSync(join(tmpdir(), 'aw-bench-dashboard-'))
const store = new SqliteQueueStore({ path: join(dir, 'queue.sqlite') })
try {
  await store.open()
  let start = performance.now()
  await prefill(store)
  console.log(
    `prefilled ${fmt(EVENTS)} queued events and ${fmt(DEAD)} dead letters in ${(since(start) / 1000).toFixed(1)} s`,
  )
  // A fresh reading on every request: intervalMs 0 turns the shared reading's cache off.
  const board = dashboard({ store, queue: QUEUE, token: TOKEN, intervalMs: 0 })
  const server = createServer(nodeDashboard(board))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const auth = { authorization: `Bearer ${TOKEN}` }
  const get = async (path: string) => {
    const response = await fetch(base + path, { headers: auth })
    if (!response.ok) throw new Error(`${path}: ${response.status}`)
    return response.text()
  }

  const stats = JSON.parse(await get('api/stats')).reading.stats
  console.log(`stats: queued ${fmt(stats.queued)}, dead ${fmt(stats.dead)}`)

  // The page 100 pages (5,000 letters) down, reached by following cursors as the Older button does.
  let cursor = ''
  start = performance.now()
  for (let page = 0; page < 100; page++)
    cursor = JSON.parse(await get(`api/dead${cursor && `?before=${cursor}`}`)).next
  const walk = since(start) / 100

  const rows: [string, { p50: number; p95: number }][] = [
    ['GET api/stats (one fresh reading: stats + workers)', await time(() => get('api/stats'))],
    ['GET api/dead (newest 50)', await time(() => get('api/dead'))],
    ['GET api/dead, 100 pages down (cursor)', await time(() => get(`api/dead?before=${cursor}`))],
    ['GET api/dead?reason=tls', await time(() => get('api/dead?reason=tls'))],
    [
      'GET api/dead?messageId=… (search)',
      await time(() => get(`api/dead?messageId=dead-${Math.floor(DEAD / 2)}`)),
    ],
  ]
  console.log(`\nAPI over HTTP on 127.0.0.1, ${ROUNDS} rounds each:`)
  for (const [name, { p50, p95 }] of rows)
    console.log(`  ${name.padEnd(52)} median ${ms(p50)}, p95 ${ms(p95)}`)
  console.log(`  ${'walking 100 pages of 50 by cursor'.padEnd(52)} ${ms(walk)} a page`)

  const page = Buffer.from(await (await fetch(base, { headers: auth })).text())
  const page50 = Buffer.from(await get('api/dead'))
  console.log('\nWhat the page loads:')
  console.log(
    `  the page (HTML with its CSS and script inline)   ${fmt(page.byteLength)} B, ${fmt(gzipSync(page).byteLength)} B gzipped`,
  )
  console.log(
    `  a page of 50 dead letters (api/dead)             ${fmt(page50.byteLength)} B, ${fmt(gzipSync(page50).byteLength)} B gzipped`,
  )
  await board.close()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
} finally {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
