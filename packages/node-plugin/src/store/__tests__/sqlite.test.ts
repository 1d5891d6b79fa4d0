/** Runs the QueueStore contract against SQLite, plus what is SQLite-specific: files, migrations, processes sharing a file. */

import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { fixtureDeliveries, T0 as UPGRADE_T0 } from '../../../test/upgrade/state.js'
import { BLOCK_MAX } from '../blocks/block.js'
import { migrate, SQLITE_SCHEMA_VERSION } from '../sqlite/schema.js'
import { DB_PATH_ENV, defaultSqlitePath, SqliteQueueStore } from '../sqlite/store.js'
import type { ClaimedRequest, NewDelivery } from '../types.js'
import { byIds, type ClaimedDelivery, claimFlat, membersOf } from './requests.js'
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

describeQueueStoreContract(
  'sqlite',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aw-contract-'))
    return {
      store: new SqliteQueueStore({ path: join(dir, 'queue.sqlite') }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    }
  },
  (store) => new SqliteQueueStore({ path: store.path }),
)

describe('SqliteQueueStore', () => {
  it('creates the file and its directory, in WAL mode, at the newest schema version', async () => {
    const path = join(tempDir(), 'nested', 'dir', 'q.sqlite')
    const store = new SqliteQueueStore({ path })
    await store.open()
    await store.close()
    const db = new Database(path, { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_SCHEMA_VERSION)
    expect(SQLITE_SCHEMA_VERSION).toBe(6)
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
      (await claimFlat(second, 'q', { limit: 5, now: 2, leaseMs: 10, worker: 'w' })).map(
        (d) => d.id,
      ),
    ).toEqual(['a'])
    await second.close()
  })

  it('lets two connections share one file: a claim by one is invisible to the other', async () => {
    const path = join(tempDir(), 'q.sqlite')
    const a = new SqliteQueueStore({ path })
    const b = new SqliteQueueStore({ path })
    await Promise.all([a.open(), b.open()])
    await a.enqueue('q', [{ id: 'x', body: '{}', messageId: null, enqueuedAt: 1 }])
    expect(await claimFlat(b, 'q', { limit: 1, now: 1, leaseMs: 100, worker: 'b' })).toHaveLength(1)
    expect(await claimFlat(a, 'q', { limit: 1, now: 50, leaseMs: 100, worker: 'a' })).toHaveLength(
      0,
    )
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
    const claimed = await claimFlat(store, 'q', { limit: BLOCK_MAX * 2 + 5, now: 2000, ...LEASE })
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
    const blocks = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => [`${from + i}-b-0`, `${from + i}-b-1`]).flat()
    // 25 whole blocks of 2 fit in 51; the 26th would overflow it.
    const some = await claimFlat(store, 'q', { limit: 51, now: 5000, ...LEASE })
    expect(some.map((d) => d.id)).toEqual(blocks(0, 25))
    const rest = await claimFlat(store, 'q', { limit: 1000, now: 5000, ...LEASE })
    expect(rest.map((d) => d.id)).toEqual(blocks(25, 15))
    expect(await store.claim('q', { limit: 1000, now: 5000, ...LEASE })).toEqual([])
    await store.close()
  })

  it('after some are delivered and the rest given back, only the rest is sent again', async () => {
    const [store] = await openStores(1)
    const path = store.path
    await store.enqueue('q', items(4))
    const claimed = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    expect(membersOf(claimed)).toEqual([['b-0'], ['b-1'], ['b-2'], ['b-3']])
    const [b0, b1, b2, b3] = claimed as [
      ClaimedRequest,
      ClaimedRequest,
      ClaimedRequest,
      ClaimedRequest,
    ]
    await store.complete('q', [b0, b2])
    expect(blockRows(path)).toEqual([{ count: 4, done: 2, lease_until: 62_000 }])
    const stats = await store.stats('q')
    expect([stats.queued + stats.inFlight, stats.delivered]).toEqual([2, 2])
    await store.release('q', [b1, b3])
    const again = await claimFlat(store, 'q', { limit: 10, now: 2000, ...LEASE })
    expect(again.map((d) => d.id)).toEqual(['b-1', 'b-3'])
    expect(again.map((d) => d.body)).toEqual([b1.deliveries[0]?.body, b3.deliveries[0]?.body])
    await store.close()
  })

  it('a block held by a process that died is claimed whole by another once the lease expires', async () => {
    const [dying, next] = await openStores(2)
    await dying.enqueue('q', items(3))
    const claimed = await dying.claim('q', { limit: 10, now: 2000, leaseMs: 1000, worker: 'a' })
    expect(membersOf(claimed)).toEqual([['b-0'], ['b-1'], ['b-2']])
    await dying.complete('q', claimed.slice(0, 1))
    // The completion of one delivery is recorded with the block, which is only deleted once all
    // three have an outcome: after a crash the other two are sent again (never lost), the
    // delivered one is not.
    expect(await next.claim('q', { limit: 10, now: 2999, leaseMs: 1000, worker: 'b' })).toEqual([])
    const taken = await next.claim('q', { limit: 10, now: 3000, leaseMs: 1000, worker: 'b' })
    expect(membersOf(taken)).toEqual([['b-1'], ['b-2']])
    // The first process's late outcomes leave the block alone: it is no longer theirs.
    await dying.complete('q', claimed.slice(1))
    expect(await next.nextDueAt('q')).toBe(4000)
    await next.complete('q', taken)
    expect(await next.nextDueAt('q')).toBeNull()
    await Promise.all([dying.close(), next.close()])
  })

  it('claim hands out a block as requests and delivers them by request, with rows in due order', async () => {
    const [store] = await openStores(1)
    const path = store.path
    await store.enqueue('q', items(5))
    await store.enqueue('q', [
      { id: 'late', body: '{"late":1}', messageId: null, enqueuedAt: 1500 },
    ])
    // A retried delivery is a row, and is handed out with the blocks in due order.
    const first = await store.claim('q', { limit: 5, now: 2000, ...LEASE })
    expect(membersOf(first)).toEqual([['b-0'], ['b-1'], ['b-2'], ['b-3'], ['b-4']])
    await store.retry('q', first[4] as ClaimedRequest, {
      at: 1900,
      attempts: 1,
      reason: 'http_5xx',
      status: 503,
    })
    await store.release('q', first.slice(0, 4))
    // The block keeps its row and its cut; what left it (b-4) is recorded gone and not handed out.
    expect(blockRows(path)).toEqual([
      { count: 5, done: 1, lease_until: 0 },
      { count: 1, done: 0, lease_until: 0 },
    ])
    const requests = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    // batchSize 1 (the default): each delivery is a request of its own, sent alone.
    expect(requests.map((r) => [r.deliveries.map((d) => d.id), r.batch, r.attempts])).toEqual([
      [['b-0'], false, 0],
      [['b-1'], false, 0],
      [['b-2'], false, 0],
      [['b-3'], false, 0],
      [['late'], false, 0],
      [['b-4'], false, 1],
    ])
    expect(requests[5]).toMatchObject({ lastReason: 'http_5xx', lastStatus: 503, enqueuedAt: 1000 })
    expect(requests[1]?.deliveries[0]).toEqual({ ...items(5)[1], traceparent: null })
    await store.complete('q', [...requests.slice(0, 3), requests[4] as ClaimedRequest])
    expect(blockRows(path)).toEqual([{ count: 5, done: 4, lease_until: 62_000 }])
    const stats = await store.stats('q')
    expect([stats.delivered, stats.queued + stats.inFlight]).toEqual([4, 2])
    // What is left is still addressed by id: b-3 is given back and is the only block delivery left.
    await store.release('q', [byIds('b-3')])
    await store.complete('q', [byIds('b-4')])
    const again = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    expect(again.map((r) => [r.deliveries.map((d) => d.id), r.batch, r.attempts])).toEqual([
      [['b-3'], false, 0],
    ])
    await store.complete('q', again)
    expect(await store.nextDueAt('q')).toBeNull()
    expect(await store.stats('q')).toMatchObject({ delivered: 6, queued: 0, inFlight: 0 })
    expect(blockRows(path)).toEqual([])
    await store.close()
  })

  it('a delivery that left a block still held (rescheduled as a row) is given back as a row', async () => {
    const [store] = await openStores(1)
    await store.enqueue('q', items(3))
    const claimed = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    expect(membersOf(claimed)).toEqual([['b-0'], ['b-1'], ['b-2']])
    await store.retry('q', claimed[0] as ClaimedRequest, {
      at: 1500,
      attempts: 1,
      reason: 'http_5xx',
      status: 503,
    })
    // Its next attempt is claimed while the block (b-1, b-2 still unsent) is held, then given back.
    const retried = await store.claim('q', { limit: 10, now: 2000, ...LEASE })
    expect(membersOf(retried)).toEqual([['b-0']])
    await store.release('q', [...claimed.slice(1), ...retried])
    const again = await claimFlat(store, 'q', { limit: 10, now: 2000, ...LEASE })
    expect(again.map((d) => [d.id, d.attempts])).toEqual([
      ['b-1', 0],
      ['b-2', 0],
      ['b-0', 1],
    ])
    await store.close()
  })

  it('complete on a block split into rows meanwhile completes its deliveries by id', async () => {
    const [holder, other] = await openStores(2)
    const path = holder.path
    await holder.enqueue('q', items(3))
    const held = await holder.claim('q', { limit: 10, now: 2000, ...LEASE })
    expect(membersOf(held)).toEqual([['b-0'], ['b-1'], ['b-2']])
    // Another store names one of the block's deliveries: the block becomes rows (keeping the lease).
    await other.kill('q', [byIds('b-0')], {
      now: 2100,
      attempts: 1,
      reason: 'http_4xx',
      status: 400,
      detail: null,
    })
    expect(blockRows(path)).toEqual([])
    await holder.complete('q', held.slice(1))
    expect(await holder.stats('q')).toMatchObject({ delivered: 2, dead: 1, queued: 0, inFlight: 0 })
    expect(await holder.nextDueAt('q')).toBeNull()
    // A block another worker took over after the lease expired is left to that worker.
    await holder.enqueue('q', items(2, 5000))
    const lost = await holder.claim('q', { limit: 10, now: 5000, leaseMs: 10, worker: 'w' })
    expect(membersOf(lost)).toEqual([['b-0'], ['b-1']])
    const taken = await other.claim('q', { limit: 10, now: 5010, leaseMs: 10, worker: 'x' })
    expect(membersOf(taken)).toEqual([['b-0'], ['b-1']])
    expect(blockRows(path)).toEqual([{ count: 2, done: 0, lease_until: 5020 }])
    // Found out by a request it made by id first (a release), then by the claim's own requests:
    // dropped both times, and the other worker's block stays whole.
    await holder.release('q', [byIds('b-0')])
    await holder.complete('q', lost)
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
    const claimed = await claimFlat(store, 'q', { limit: 10, now: 1000, ...LEASE })
    expect(claimed.map((d) => [d.id, d.attempts, d.lastStatus])).toEqual([
      ['old-1', 2, 503],
      ['b-0', 0, null],
    ])
    expect(claimed[0]?.body).toBe('{"type":"track","old":true}')
    expect(claimed.map((d) => d.traceparent)).toEqual([null, null])
    await store.close()
  })

  it("keeps traceparents in a block's meta only when one of its deliveries has one, and in rows", async () => {
    const [store] = await openStores(1)
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    await store.enqueue('q', [...items(2), { ...items(3)[2], traceparent: null }] as NewDelivery[])
    const traced = items(2, 1001).map((d) => ({ ...d, id: `t-${d.id}` }))
    await store.enqueue('q', [
      { ...traced[0], traceparent } as NewDelivery,
      traced[1] as NewDelivery,
    ])
    const metas = () => {
      const db = new Database(store.path, { readonly: true })
      const rows = db.prepare('SELECT meta FROM delivery_block_bodies ORDER BY seq').pluck().all()
      db.close()
      return (rows as string[]).map((meta) => JSON.parse(meta))
    }
    const [untraced, withOne] = metas()
    // The common case stores nothing more than before traceparents were kept.
    expect(Object.keys(untraced)).toEqual(['ids', 'messageIds', 'enqueuedAt', 'lengths'])
    expect(withOne.traceparents).toEqual([traceparent, null])
    // Rescheduled, they leave their blocks as rows, with the traceparent in its own column.
    for (const request of await store.claim('q', { limit: 10, now: 2000, ...LEASE })) {
      await store.retry('q', request, { at: 3000, attempts: 1, reason: 'timeout', status: null })
    }
    const db = new Database(store.path, { readonly: true })
    const rows = db.prepare('SELECT id, traceparent FROM deliveries ORDER BY id').all()
    db.close()
    expect(rows).toEqual([
      { id: 'b-0', traceparent: null },
      { id: 'b-1', traceparent: null },
      { id: 'b-2', traceparent: null },
      { id: 't-b-0', traceparent },
      { id: 't-b-1', traceparent: null },
    ])
    expect(metas()).toEqual([])
    await store.close()
  })

  it('reads the blocks and rows an earlier release wrote (the upgrade fixture) with no traceparent', async () => {
    const path = join(tempDir(), 'q.sqlite')
    copyFileSync(join(import.meta.dirname, '../../../test/upgrade/release-0.sqlite'), path)
    const store = new SqliteQueueStore({ path })
    await store.open()
    const claimed: ClaimedDelivery[] = []
    for (const queue of ['default', 'retrying', 'leased']) {
      claimed.push(
        ...(await claimFlat(store, queue, { limit: 100, now: UPGRADE_T0 + 120_000, ...LEASE })),
      )
    }
    await store.close()
    const { waiting, retrying, leased } = fixtureDeliveries()
    expect(claimed.map((d) => d.id).sort()).toEqual(
      [...waiting, ...retrying, ...leased].map((d) => d.id).sort(),
    )
    expect(new Set(claimed.map((d) => d.traceparent))).toEqual(new Set([null]))
  })
})

describe('SqliteQueueStore dead-letter counts (schema version 6)', () => {
  /** Inserts dead letters as any release writes them: straight into the table. */
  const insertDead = (
    db: Database.Database,
    rows: [queue: string, id: string, reason: string][],
  ) => {
    const insert = db.prepare(
      `INSERT OR IGNORE INTO dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason)
       VALUES (?, ?, '{}', ?, 1, 1, 2, ?)`,
    )
    for (const [queue, id, reason] of rows) insert.run(queue, id, `m-${id}`, reason)
  }
  const countRows = (path: string) => {
    const db = new Database(path, { readonly: true })
    const rows = db.prepare('SELECT queue, reason, n FROM dead_counts ORDER BY queue, reason').all()
    db.close()
    return rows
  }

  it('upgrades a version 5 file: counts the dead letters it holds once, then keeps counting', async () => {
    const path = join(tempDir(), 'q.sqlite')
    const old = new Database(path)
    migrate(old, 5)
    expect(old.pragma('user_version', { simple: true })).toBe(5)
    insertDead(old, [
      ['a', 'd1', 'http_4xx'],
      ['a', 'd2', 'http_4xx'],
      ['a', 'd3', 'timeout'],
      ['b', 'd4', 'tls'],
    ])
    old.close()
    const store = new SqliteQueueStore({ path })
    await store.open()
    expect(await store.stats('a')).toMatchObject({
      dead: 3,
      deadByReason: { http_4xx: 2, timeout: 1 },
    })
    expect(await store.stats()).toMatchObject({ dead: 4 })
    await store.enqueueDead('a', [
      {
        id: 'd5',
        body: '',
        messageId: null,
        enqueuedAt: 1,
        attempts: 0,
        deadAt: 3,
        reason: 'invalid_payload',
        lastStatus: null,
        detail: null,
      },
    ])
    expect(await store.purgeDead({ reason: 'http_4xx' }, { queue: 'a' })).toBe(2)
    await store.close()
    expect(countRows(path)).toEqual([
      { queue: 'a', reason: 'http_4xx', n: 0 },
      { queue: 'a', reason: 'invalid_payload', n: 1 },
      { queue: 'a', reason: 'timeout', n: 1 },
      { queue: 'b', reason: 'tls', n: 1 },
    ])
    // Opening again migrates nothing more: the counts are not added twice.
    const again = new SqliteQueueStore({ path })
    await again.open()
    expect(await again.stats()).toMatchObject({
      dead: 3,
      deadByReason: { invalid_payload: 1, timeout: 1, tls: 1 },
    })
    await again.close()
  })

  it('keeps the counts exact when a process of an earlier release writes dead letters into the file', async () => {
    const path = join(tempDir(), 'q.sqlite')
    const store = new SqliteQueueStore({ path })
    await store.open()
    // An earlier release opens a newer file without migrating it and writes the table as it knows it.
    const earlier = new Database(path)
    insertDead(earlier, [
      ['q', 'e1', 'http_4xx'],
      ['q', 'e2', 'http_4xx'],
      ['q', 'e2', 'timeout'],
      ['q', 'e3', 'expired'],
    ])
    earlier.prepare("UPDATE dead_letters SET reason = 'tls' WHERE id = 'e1'").run()
    earlier.prepare("UPDATE dead_letters SET detail = 'seen' WHERE id = 'e2'").run()
    earlier.prepare("DELETE FROM dead_letters WHERE id = 'e3'").run()
    earlier.close()
    expect(await store.stats('q')).toMatchObject({ dead: 2, deadByReason: { http_4xx: 1, tls: 1 } })
    await store.close()
  })

  it('stats read the counts, not the letters', async () => {
    const path = join(tempDir(), 'q.sqlite')
    const store = new SqliteQueueStore({ path })
    await store.open()
    const db = new Database(path)
    insertDead(db, [['q', 'x', 'http_4xx']])
    db.prepare("UPDATE dead_counts SET n = 1000000 WHERE queue = 'q' AND reason = 'http_4xx'").run()
    db.close()
    expect(await store.stats('q')).toMatchObject({
      dead: 1_000_000,
      deadByReason: { http_4xx: 1_000_000 },
    })
    await store.close()
  })
})
