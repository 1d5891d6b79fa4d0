/** Runs the QueueStore contract against SQLite, plus what is SQLite-specific: files, migrations, processes sharing a file. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { BLOCK_MAX } from '../block.js'
import { DB_PATH_ENV, defaultSqlitePath, SqliteQueueStore } from '../sqlite.js'
import type { BlockRange, BlockRequest, ClaimedBlock } from '../types.js'
import { describeQueueStoreContract } from './store-contract.js'

const dirs: string[] = []
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'aw-sqlite-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describeQueueStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'aw-contract-'))
  return {
    store: new SqliteQueueStore({ path: join(dir, 'queue.sqlite') }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
})

describe('SqliteQueueStore', () => {
  it('creates the file and its directory, in WAL mode, at the newest schema version', async () => {
    const path = join(tempDir(), 'nested', 'dir', 'q.sqlite')
    const store = new SqliteQueueStore({ path })
    await store.open()
    await store.close()
    const db = new Database(path, { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(4)
    db.close()
  })

  it('keeps what was committed across close and reopen, and migrates once', async () => {
    const path = join(tempDir(), 'q.sqlite')
    const first = new SqliteQueueStore({ path })
    await first.open()
    await first.enqueue('q', [{ id: 'a', body: '{}', messageId: 'm', enqueuedAt: 1 }])
    await first.close()
    const second = new SqliteQueueStore({ path })
    await second.open()
    expect(
      (await second.claim('q', { limit: 5, now: 2, leaseMs: 10, worker: 'w' })).map((d) => d.id),
    ).toEqual(['a'])
    await second.close()
  })

  it('lets two connections share one file: a claim by one is invisible to the other', async () => {
    const path = join(tempDir(), 'q.sqlite')
    const a = new SqliteQueueStore({ path })
    const b = new SqliteQueueStore({ path })
    await Promise.all([a.open(), b.open()])
    await a.enqueue('q', [{ id: 'x', body: '{}', messageId: null, enqueuedAt: 1 }])
    expect(await b.claim('q', { limit: 1, now: 1, leaseMs: 100, worker: 'b' })).toHaveLength(1)
    expect(await a.claim('q', { limit: 1, now: 50, leaseMs: 100, worker: 'a' })).toHaveLength(0)
    await Promise.all([a.close(), b.close()])
  })

  it('throws a coded error when used before open', async () => {
    const store = new SqliteQueueStore({ path: ':memory:' })
    await expect(store.nextDueAt('q')).rejects.toMatchObject({ code: 'store_closed' })
  })

  it('defaults to ./.data/analytics-webhooks.sqlite, or $ANALYTICS_WEBHOOKS_DB', () => {
    const saved = process.env[DB_PATH_ENV]
    try {
      delete process.env[DB_PATH_ENV]
      expect(defaultSqlitePath()).toBe(join(process.cwd(), '.data', 'analytics-webhooks.sqlite'))
      process.env[DB_PATH_ENV] = '/tmp/elsewhere.sqlite'
      expect(defaultSqlitePath()).toBe('/tmp/elsewhere.sqlite')
    } finally {
      if (saved === undefined) delete process.env[DB_PATH_ENV]
      else process.env[DB_PATH_ENV] = saved
    }
  })
})

describe('SqliteQueueStore blocks (many never-attempted deliveries a row)', () => {
  const LEASE = { leaseMs: 60_000, worker: 'w' }
  const items = (count: number, enqueuedAt = 1000) =>
    Array.from({ length: count }, (_, i) => ({
      id: `b-${i}`,
      body: JSON.stringify({ type: 'track', i }),
      messageId: `m-${i}`,
      enqueuedAt,
    }))
  const blockRows = (path: string) => {
    const db = new Database(path, { readonly: true })
    const rows = db.prepare('SELECT count, done, lease_until FROM delivery_blocks').all()
    db.close()
    return rows
  }
  /** The blocks a claim's requests come from, in order. */
  const blocksOf = (requests: readonly BlockRequest[]): ClaimedBlock[] => [
    ...new Set(requests.flatMap((r) => r.ranges.map((range) => range.block))),
  ]
  const idsOf = (range: BlockRange): string[] =>
    range.block.deliveries.slice(range.from, range.to).map((d) => d.id)
  /** `count` stores on one new file, open (the file is `store.path`). */
  const openStores = async (count: number) => {
    const path = join(tempDir(), 'q.sqlite')
    const stores = Array.from({ length: count }, () => new SqliteQueueStore({ path }))
    await Promise.all(stores.map((store) => store.open()))
    return stores as [SqliteQueueStore, SqliteQueueStore]
  }

  it('stores an enqueue call as rows of at most BLOCK_MAX deliveries, claimed whole', async () => {
    const [store] = await openStores(1)
    const path = store.path
    await store.enqueue('q', items(BLOCK_MAX * 2 + 10))
    expect(blockRows(path).map((r) => (r as { count: number }).count)).toEqual([
      BLOCK_MAX,
      BLOCK_MAX,
      10,
    ])
    const claimed = await store.claim('q', { limit: BLOCK_MAX * 2 + 5, now: 2000, ...LEASE })
    // Two whole blocks fit; the third would overflow the limit and waits for the next claim.
    expect(claimed).toHaveLength(BLOCK_MAX * 2)
    expect(claimed.map((d) => d.id).slice(0, 3)).toEqual(['b-0', 'b-1', 'b-2'])
    await store.close()
  })

  it('one claim takes as many whole blocks as fit, however many pages of candidates that reads', async () => {
    const [store] = await openStores(1)
    for (let b = 0; b < 40; b++) {
      await store.enqueue(
        'q',
        items(2, 1000 + b).map((d) => ({ ...d, id: `${b}-${d.id}` })),
      )
    }
    const some = await store.claimBlocks('q', { limit: 51, now: 5000, ...LEASE })
    expect(blocksOf(some.requests)).toHaveLength(25)
    const rest = await store.claim('q', { limit: 1000, now: 5000, ...LEASE })
    expect(rest.map((d) => d.id)).toEqual(
      Array.from({ length: 15 }, (_, i) => [`${i + 25}-b-0`, `${i + 25}-b-1`]).flat(),
    )
    expect(await store.claim('q', { limit: 1000, now: 5000, ...LEASE })).toEqual([])
    await store.close()
  })

  it('after some are delivered and the rest given back, only the rest is sent again', async () => {
    const [store] = await openStores(1)
    const path = store.path
    await store.enqueue('q', items(4))
    const claimed = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    await store.complete('q', [claimed[0]?.id as string, claimed[2]?.id as string])
    expect(blockRows(path)).toEqual([{ count: 4, done: 2, lease_until: 62_000 }])
    const stats = await store.stats('q')
    expect([stats.queued + stats.inFlight, stats.delivered]).toEqual([2, 2])
    await store.release('q', [claimed[1]?.id as string, claimed[3]?.id as string])
    const again = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    expect(again.map((d) => d.id)).toEqual(['b-1', 'b-3'])
    expect(again.map((d) => d.body)).toEqual([claimed[1]?.body, claimed[3]?.body])
    await store.close()
  })

  it('a block held by a process that died is claimed whole by another once the lease expires', async () => {
    const [dying, next] = await openStores(2)
    await dying.enqueue('q', items(3))
    const claimed = await dying.claim('q', { limit: 10, now: 2000, leaseMs: 1000, worker: 'a' })
    await dying.complete('q', [claimed[0]?.id as string])
    // The completion of one delivery is recorded with the block, which is only deleted once all
    // three have an outcome: after a crash the other two are sent again (never lost), the
    // delivered one is not.
    expect(await next.claim('q', { limit: 10, now: 2999, leaseMs: 1000, worker: 'b' })).toEqual([])
    const taken = await next.claim('q', { limit: 10, now: 3000, leaseMs: 1000, worker: 'b' })
    expect(taken.map((d) => d.id)).toEqual(['b-1', 'b-2'])
    // The first process's late outcomes leave the block alone: it is no longer theirs.
    await dying.complete('q', [claimed[1]?.id as string, claimed[2]?.id as string])
    expect(await next.nextDueAt('q')).toBe(4000)
    await next.complete(
      'q',
      taken.map((d) => d.id),
    )
    expect(await next.nextDueAt('q')).toBeNull()
    await Promise.all([dying.close(), next.close()])
  })

  it('claimBlocks hands out blocks as requests, rows first; completeRanges delivers them by range', async () => {
    const [store] = await openStores(1)
    const path = store.path
    await store.enqueue('q', items(5))
    await store.enqueue('q', [
      { id: 'late', body: '{"late":1}', messageId: null, enqueuedAt: 1500 },
    ])
    // A retried delivery is a row, and is handed out as a delivery ahead of the blocks.
    const first = await store.claim('q', { limit: 5, now: 2000, ...LEASE })
    await store.retry('q', [first[4]?.id as string], {
      at: 1900,
      attempts: 1,
      reason: 'http_5xx',
      status: 503,
    })
    await store.release(
      'q',
      first.slice(0, 4).map((d) => d.id),
    )
    // The block keeps its row and its cut; what left it (b-4) is recorded gone and not handed out.
    expect(blockRows(path)).toEqual([
      { count: 5, done: 1, lease_until: 0 },
      { count: 1, done: 0, lease_until: 0 },
    ])
    const { deliveries, requests } = await store.claimBlocks('q', {
      limit: 10,
      now: 2000,
      ...LEASE,
    })
    expect(deliveries.map((d) => [d.id, d.attempts])).toEqual([['b-4', 1]])
    // batchSize 1 (the default): each delivery is a request of its own, sent alone.
    expect(requests.map((r) => [r.ranges.flatMap(idsOf), r.batch])).toEqual([
      [['b-0'], false],
      [['b-1'], false],
      [['b-2'], false],
      [['b-3'], false],
      [['late'], false],
    ])
    const blocks = blocksOf(requests)
    expect(blocks[0]?.deliveries[1]).toEqual(items(5)[1])
    await store.completeRanges('q', [
      { block: blocks[0] as ClaimedBlock, from: 0, to: 3 },
      { block: blocks[1] as ClaimedBlock, from: 0, to: 1 },
    ])
    expect(blockRows(path)).toEqual([{ count: 5, done: 4, lease_until: 62_000 }])
    const stats = await store.stats('q')
    expect([stats.delivered, stats.queued + stats.inFlight]).toEqual([4, 2])
    // What is left is still addressed by id: b-3 is given back and is the only block delivery left.
    await store.release('q', ['b-3'])
    await store.complete('q', ['b-4'])
    const again = await store.claimBlocks('q', { limit: 10, now: 2000, ...LEASE })
    expect(again.deliveries).toEqual([])
    expect(again.requests.map((r) => r.ranges.flatMap(idsOf))).toEqual([['b-3']])
    await store.completeRanges('q', again.requests[0]?.ranges ?? [])
    expect(await store.nextDueAt('q')).toBeNull()
    expect(await store.stats('q')).toMatchObject({ delivered: 6, queued: 0, inFlight: 0 })
    expect(blockRows(path)).toEqual([])
    await store.close()
  })

  it('a delivery that left a block still held (rescheduled as a row) is given back as a row', async () => {
    const [store] = await openStores(1)
    await store.enqueue('q', items(3))
    const claimed = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    await store.retry('q', ['b-0'], { at: 1500, attempts: 1, reason: 'http_5xx', status: 503 })
    // Its next attempt is claimed while the block (b-1, b-2 still unsent) is held, then given back.
    expect((await store.claim('q', { limit: 10, now: 2000, ...LEASE })).map((d) => d.id)).toEqual([
      'b-0',
    ])
    await store.release(
      'q',
      claimed.map((d) => d.id),
    )
    const again = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    expect(again.map((d) => [d.id, d.attempts])).toEqual([
      ['b-1', 0],
      ['b-2', 0],
      ['b-0', 1],
    ])
    await store.close()
  })

  it('completeRanges on a block split into rows meanwhile completes its deliveries by id', async () => {
    const [holder, other] = await openStores(2)
    const path = holder.path
    await holder.enqueue('q', items(3))
    const blocks = blocksOf((await holder.claimBlocks('q', { limit: 10, now: 2000, ...LEASE })).requests)
    // Another store names one of the block's deliveries: the block becomes rows (keeping the lease).
    await other.kill('q', ['b-0'], {
      now: 2100,
      attempts: 1,
      reason: 'http_4xx',
      status: 400,
      detail: null,
    })
    expect(blockRows(path)).toEqual([])
    await holder.completeRanges('q', [{ block: blocks[0] as ClaimedBlock, from: 1, to: 3 }])
    expect(await holder.stats('q')).toMatchObject({ delivered: 2, dead: 1, queued: 0, inFlight: 0 })
    expect(await holder.nextDueAt('q')).toBeNull()
    // A block another worker took over after the lease expired is left to that worker.
    await holder.enqueue('q', items(2, 5000))
    const lost = await holder.claimBlocks('q', { limit: 10, now: 5000, leaseMs: 10, worker: 'w' })
    const taken = await other.claimBlocks('q', { limit: 10, now: 5010, leaseMs: 10, worker: 'x' })
    expect(blocksOf(taken.requests)).toHaveLength(1)
    // Found out by a call by id first (a release), then by range: dropped both times, and the
    // other worker's block stays whole.
    await holder.release('q', ['b-0'])
    await holder.completeRanges('q', [
      { block: blocksOf(lost.requests)[0] as ClaimedBlock, from: 0, to: 1 },
      { block: blocksOf(lost.requests)[0] as ClaimedBlock, from: 1, to: 2 },
    ])
    expect(await holder.stats('q')).toMatchObject({ delivered: 2 })
    expect(blockRows(path)).toEqual([{ count: 2, done: 0, lease_until: 5020 }])
    expect(await other.nextDueAt('q')).toBe(5020)
    await Promise.all([holder.close(), other.close()])
  })

  it('upgrades a file made at schema version 1, keeping its deliveries', async () => {
    const path = join(tempDir(), 'q.sqlite')
    const old = new Database(path)
    old.exec(`CREATE TABLE deliveries (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL UNIQUE,
      message_id TEXT, enqueued_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL,
      lease_until INTEGER NOT NULL DEFAULT 0, ready_at INTEGER NOT NULL, worker TEXT, last_reason TEXT, last_status INTEGER);
      CREATE INDEX deliveries_ready ON deliveries (queue, ready_at, seq);
      CREATE TABLE delivery_bodies (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE dead_letters (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
      message_id TEXT, enqueued_at INTEGER NOT NULL, attempts INTEGER NOT NULL, dead_at INTEGER NOT NULL, reason TEXT NOT NULL,
      last_status INTEGER, detail TEXT);
      CREATE INDEX dead_letters_queue ON dead_letters (queue, seq);
      CREATE TABLE queue_counters (queue TEXT PRIMARY KEY, delivered INTEGER NOT NULL DEFAULT 0, retried INTEGER NOT NULL DEFAULT 0);
      INSERT INTO deliveries (seq, queue, id, message_id, enqueued_at, attempts, due_at, ready_at, last_reason, last_status)
        VALUES (1, 'q', 'old-1', 'm-old', 500, 2, 900, 900, 'http_5xx', 503);
      INSERT INTO delivery_bodies (seq, body) VALUES (1, '{"type":"track","old":true}');
      PRAGMA user_version = 1;`)
    old.close()
    const store = new SqliteQueueStore({ path })
    await store.open()
    await store.enqueue('q', items(1, 950))
    const claimed = await store.claim('q', { limit: 10, now: 1000, ...LEASE })
    expect(claimed.map((d) => [d.id, d.attempts, d.lastStatus])).toEqual([
      ['old-1', 2, 503],
      ['b-0', 0, null],
    ])
    expect(claimed[0]?.body).toBe('{"type":"track","old":true}')
    await store.close()
  })
})
