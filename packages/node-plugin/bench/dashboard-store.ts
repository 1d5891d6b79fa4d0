/**
 * What the store side of the dashboard costs on a large queue: `stats`, pages
 * of dead letters and worker states, timed on a SQLite file (and a PostgreSQL
 * schema when `DATABASE_URL` is set) holding a 1,000,000-event backlog and
 * 100,000 dead letters. Slow to fill, so not part of `npm run bench`:
 * `npx tsx bench/dashboard-store.ts`; smaller:
 * `BENCH_STORE_EVENTS=100000 BENCH_STORE_DEAD=10000 npx tsx bench/dashboard-store.ts`.
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ReasonCode } from '@analytics-webhooks/core'
import Database from 'better-sqlite3'
import pg from 'pg'
import { PostgresQueueStore } from '../src/store/postgres/store.js'
import { SqliteQueueStore } from '../src/store/sqlite/store.js'
import type { DeadCursor, DeadLetter, NewDelivery, QueueStore } from '../src/store/types.js'
import { dropSchemas, uniqueSchemaName } from '../test/postgres-database.js'
import { quantile, sampleEvent, since, size } from './harness.js'

const EVENTS = size('BENCH_STORE_EVENTS', 1_000_000)
const DEAD = size('BENCH_STORE_DEAD', 100_000)
const ROUNDS = size('BENCH_STORE_ROUNDS', 20)
/** The plugin commits a burst of hooks in one enqueue call of up to 256 (see commit.ts). */
const ENQUEUE_CALL = 256
const QUEUE = 'default'
const REASONS: ReasonCode[] = ['http_4xx', 'expired', 'tls', 'timeout', 'invalid_payload']
/** The cursor before every letter: where the newest page starts. */
const NEWEST: DeadCursor = { deadAt: Number.MAX_SAFE_INTEGER, id: '' }
/** How far down the list the deep cursor sits. */
const DEPTH = Math.floor(DEAD * 0.9)

const fmt = (n: number) => n.toLocaleString('en-US')

/** Fills `store` as the plugin would: the backlog in enqueue calls of 256, then the dead letters. */
async function fill(store: QueueStore): Promise<void> {
  const now = Date.now()
  for (let from = 0; from < EVENTS; from += ENQUEUE_CALL) {
    const call: NewDelivery[] = []
    for (let i = from; i < Math.min(EVENTS, from + ENQUEUE_CALL); i++) {
      call.push({
        id: `q-${i}`,
        body: JSON.stringify({ type: 'track', ...sampleEvent(i) }),
        messageId: `bench-${i}`,
        enqueuedAt: now - EVENTS + i,
      })
    }
    await store.enqueue(QUEUE, call)
  }
  for (let from = 0; from < DEAD; from += ENQUEUE_CALL) {
    const letters: Omit<DeadLetter, 'queue'>[] = []
    for (let i = from; i < Math.min(DEAD, from + ENQUEUE_CALL); i++) {
      const reason = REASONS[i % REASONS.length] as ReasonCode
      letters.push({
        id: `dead-${i}`,
        body:
          reason === 'invalid_payload'
            ? ''
            : JSON.stringify({ type: 'track', ...sampleEvent(i), messageId: `dead-${i}` }),
        messageId: `dead-${i}`,
        enqueuedAt: now - 4 * 3_600_000,
        attempts: 3,
        // Three a millisecond, so cursors fall among letters that died at the same moment.
        deadAt: now - DEAD + Math.floor(i / 3),
        reason,
        lastStatus: reason === 'http_4xx' ? 400 : null,
        detail: 'bench',
      })
    }
    await store.enqueueDead(QUEUE, letters)
  }
  for (let w = 0; w < 10; w++) {
    await store.reportState?.(QUEUE, `host-${w}:${4000 + w}`, {
      state: w % 2 === 0 ? 'sending' : 'backing_off',
      until: w % 2 === 0 ? null : now + 5_000,
      at: now + w,
    })
  }
}

/** The median of ROUNDS runs of `work` after 3 to warm up, in ms. */
async function median(work: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await work()
  const times: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now()
    await work()
    times.push(since(start))
  }
  return quantile(
    times.sort((a, b) => a - b),
    0.5,
  )
}

/** Each timed operation's name and how to run it on a filled store. */
function operations(
  store: QueueStore,
  deep: DeadCursor,
  scanCounts: () => Promise<unknown>,
): [string, () => Promise<unknown>][] {
  const letter = `dead-${Math.floor(DEAD / 2)}`
  let at = Date.now()
  return [
    ['stats(queue)', () => store.stats(QUEUE)],
    ['  for comparison: counting dead letters by reason (what stats did before)', scanCounts],
    ['listDead({ limit: 50 })', () => store.listDead({ limit: 50 })],
    ["listDead({ limit: 50, reason: 'tls' })", () => store.listDead({ limit: 50, reason: 'tls' })],
    [
      `listDead({ limit: 50, before }), ${fmt(DEPTH)} letters down`,
      () => store.listDead({ limit: 50, before: deep }),
    ],
    ['listDead({ messageId })', () => store.listDead({ messageId: letter })],
    [
      'listDead({ queue, limit: 50, before: newest })',
      () => store.listDead({ queue: QUEUE, limit: 50, before: NEWEST }),
    ],
    [
      "listDead({ queue, limit: 50, reason: 'tls', before: newest })",
      () => store.listDead({ queue: QUEUE, limit: 50, reason: 'tls', before: NEWEST }),
    ],
    [
      `listDead({ queue, limit: 50, before }), ${fmt(DEPTH)} letters down`,
      () => store.listDead({ queue: QUEUE, limit: 50, before: deep }),
    ],
    ['listDead({ queue, messageId })', () => store.listDead({ queue: QUEUE, messageId: letter })],
    ['workerStates(queue), 10 workers', () => store.workerStates?.(QUEUE) ?? Promise.resolve()],
    [
      'reportState(queue, worker, state)',
      () =>
        store.reportState?.(QUEUE, 'host-0:4000', { state: 'idle', until: null, at: at++ }) ??
        Promise.resolve(),
    ],
  ]
}

/** Fills the store, finds the deep cursor (untimed) and times every operation. */
async function measure(
  name: string,
  store: QueueStore,
  scanCounts: () => Promise<unknown>,
  prepare: () => Promise<void> = async () => {},
): Promise<Map<string, number>> {
  await store.open()
  const start = performance.now()
  await fill(store)
  await prepare()
  console.log(
    `${name}: filled ${fmt(EVENTS)} queued events and ${fmt(DEAD)} dead letters in ${(since(start) / 1000).toFixed(1)} s`,
  )
  const [at] = await store.listDead({ queue: QUEUE, limit: 1, offset: DEPTH - 1, before: NEWEST })
  if (!at) throw new Error('no letter that deep')
  const stats = await store.stats(QUEUE)
  if (stats.queued !== EVENTS || stats.dead !== DEAD)
    throw new Error(`unexpected stats: ${JSON.stringify(stats)}`)
  const timings = new Map<string, number>()
  for (const [op, work] of operations(store, { deadAt: at.deadAt, id: at.id }, scanCounts)) {
    timings.set(op, await median(work))
  }
  return timings
}

const results: [string, Map<string, number>][] = []
const dir = mkdtempSync(join(tmpdir(), 'aw-bench-dashboard-store-'))
try {
  const path = join(dir, 'queue.sqlite')
  const sqlite = new SqliteQueueStore({ path })
  sqlite.openSync()
  const raw = new Database(path, { readonly: true })
  try {
    const scan = raw.prepare(
      'SELECT reason, count(*) AS n FROM dead_letters WHERE queue = ? GROUP BY reason',
    )
    results.push(['SQLite', await measure('SQLite', sqlite, async () => scan.all(QUEUE))])
  } finally {
    raw.close()
    await sqlite.close()
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const url = process.env.DATABASE_URL
if (url) {
  const schema = uniqueSchemaName('aw_bench_dashboard')
  const store = new PostgresQueueStore({ connectionString: url, schema })
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  try {
    const scan = () =>
      pool.query(
        `SELECT reason, count(*) AS n FROM "${schema}".dead_letters WHERE queue = $1 GROUP BY reason`,
        [QUEUE],
      )
    // What autovacuum does soon after a large fill in a real database: plans from fresh statistics.
    const analyze = async () => {
      await pool.query(`VACUUM ANALYZE "${schema}".dead_letters, "${schema}".delivery_blocks`)
    }
    results.push(['PostgreSQL', await measure('PostgreSQL', store, scan, analyze)])
  } finally {
    await store.close()
    await pool.end()
    await dropSchemas(url, [schema])
  }
} else {
  console.log('PostgreSQL: skipped (set DATABASE_URL to measure it too)')
}

const names = [...(results[0]?.[1].keys() ?? [])]
console.log(
  `\nNode ${process.version}, ${new Date().toISOString().slice(0, 10)}: ${fmt(EVENTS)} queued events, ${fmt(DEAD)} dead letters over ${REASONS.length} reasons in one queue, median of ${ROUNDS} (ms)\n`,
)
console.log(`| operation | ${results.map(([name]) => name).join(' | ')} |`)
console.log(`| --- | ${results.map(() => '---').join(' | ')} |`)
for (const op of names) {
  console.log(
    `| ${op} | ${results.map(([, t]) => (t.get(op) ?? Number.NaN).toFixed(3)).join(' | ')} |`,
  )
}
