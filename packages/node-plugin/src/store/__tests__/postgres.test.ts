/** Runs the QueueStore contract against PostgreSQL, plus its own rules: migrations, exclusive claims, lease takeover, shared counters, LISTEN/NOTIFY, errors. */

import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeEach, expect, it } from 'vitest'
import {
  databaseUrl,
  describePostgres,
  dropSchemas,
  uniqueSchemaName,
} from '../../../test/postgres-database.js'
import { PostgresStoreError, redactConnectionStrings } from '../postgres/errors.js'
import {
  migratePostgres,
  POSTGRES_MIGRATIONS,
  POSTGRES_SCHEMA_VERSION,
} from '../postgres/schema.js'
import { PostgresQueueStore } from '../postgres/store.js'
import type { ClaimedRequest, NewDelivery } from '../types.js'
import { byIds, claimFlat, flatten, membersOf, requestOf } from './requests.js'
import { describeQueueStoreContract } from './store-contract.js'

const schemas = new Set<string>()
const stores: PostgresQueueStore[] = []

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()))
  if (databaseUrl) await dropSchemas(databaseUrl, schemas)
})

function makeStore(
  url: string,
  schema = uniqueSchemaName(),
  extra: { max?: number } = {},
): PostgresQueueStore {
  schemas.add(schema)
  const store = new PostgresQueueStore({ connectionString: url, schema, ...extra })
  stores.push(store)
  return store
}

function deliveries(n: number, at = 1_000): NewDelivery[] {
  return Array.from({ length: n }, (_, i) => ({
    id: randomUUID(),
    body: JSON.stringify({ type: 'track', event: `e${i}`, messageId: `m${i}` }),
    messageId: `m${i}`,
    enqueuedAt: at + i,
  }))
}

const Q = 'default'

describePostgres('PostgreSQL', (url) => {
  describeQueueStoreContract(
    'postgres',
    async () => {
      const schema = uniqueSchemaName()
      return {
        store: new PostgresQueueStore({ connectionString: url, schema, max: 4 }),
        cleanup: () => dropSchemas(url, [schema]),
      }
    },
    (store) => new PostgresQueueStore({ connectionString: url, schema: store.schema, max: 4 }),
  )
})

describePostgres('PostgreSQL schema migrations', (url) => {
  it('creates the schema with a migrations table at the newest version', async () => {
    const store = makeStore(url)
    await store.open()
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const { rows } = await client.query(
        `SELECT version FROM "${store.schema}".schema_migrations ORDER BY version`,
      )
      expect(rows.map((r) => r.version)).toEqual(
        Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
      )
    } finally {
      await client.end()
    }
  })

  it('applies each migration once when many processes open at the same moment', async () => {
    const schema = uniqueSchemaName()
    const many = Array.from({ length: 6 }, () => makeStore(url, schema, { max: 1 }))
    await Promise.all(many.map((s) => s.open()))
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM "${schema}".schema_migrations`,
      )
      expect(rows[0].n).toBe(POSTGRES_SCHEMA_VERSION)
    } finally {
      await client.end()
    }
  })

  it('upgrades a database made by an older version, keeping its deliveries', async () => {
    const schema = uniqueSchemaName()
    schemas.add(schema)
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    const client = await pool.connect()
    try {
      await migratePostgres(client, `"${schema}"`, schema, POSTGRES_MIGRATIONS.slice(0, 1))
      await client.query(
        `INSERT INTO "${schema}".deliveries (queue, id, body, enqueued_at, next_attempt_at) VALUES ('default', 'old', '{}', 1, 1)`,
      )
    } finally {
      client.release()
    }
    const store = makeStore(url, schema)
    await store.open()
    const { rows } = await pool.query(
      `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
    )
    await pool.end()
    expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version))
    expect(
      (await claimFlat(store, Q, { limit: 5, now: 10, leaseMs: 1, worker: 'w' })).map((d) => d.id),
    ).toEqual(['old'])
  })

  it('reads the blocks and rows a version 4 schema holds with no traceparent', async () => {
    const schema = uniqueSchemaName()
    schemas.add(schema)
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    const client = await pool.connect()
    const body = '{"type":"track"}'
    try {
      await migratePostgres(client, `"${schema}"`, schema, POSTGRES_MIGRATIONS.slice(0, 4))
      // A block's meta as version 4 wrote it, and a retried row.
      const meta = JSON.stringify({
        ids: ['old-block'],
        messageIds: ['m1'],
        enqueuedAt: [5],
        lengths: [body.length],
      })
      await client.query(
        `INSERT INTO "${schema}".delivery_blocks (queue, count, first_at, last_at, ready_at, meta, bodies)
         VALUES ('default', 1, 5, 5, 5, $1, $2)`,
        [meta, body],
      )
      await client.query(
        `INSERT INTO "${schema}".deliveries (queue, id, body, enqueued_at, next_attempt_at, attempts)
         VALUES ('default', 'old-row', $1, 1, 1, 1)`,
        [body],
      )
    } finally {
      client.release()
      await pool.end()
    }
    const store = makeStore(url, schema)
    await store.open()
    const claimed = await claimFlat(store, Q, { limit: 5, now: 10, leaseMs: 1, worker: 'w' })
    expect(claimed.map((d) => [d.id, d.traceparent])).toEqual([
      ['old-row', null],
      ['old-block', null],
    ])
  })

  it('refuses a database migrated by a newer plugin, with code future_schema', async () => {
    const store = makeStore(url)
    await store.open()
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(
      `INSERT INTO "${store.schema}".schema_migrations (version, name, applied_at) VALUES (9999, 'from the future', 0)`,
    )
    await client.end()
    const again = makeStore(url, store.schema)
    await expect(again.open()).rejects.toMatchObject({
      name: 'PostgresStoreError',
      code: 'future_schema',
    })
  })
})

describePostgres('PostgreSQL store options and errors', (url) => {
  it('rejects a schema name that is not a plain identifier', () => {
    expect(
      () => new PostgresQueueStore({ connectionString: url, schema: 'x"; DROP TABLE y; --' }),
    ).toThrow(expect.objectContaining({ code: 'invalid_schema' }))
  })

  it('needs a connection string or a pool', () => {
    expect(() => new PostgresQueueStore({})).toThrow(
      expect.objectContaining({ code: 'missing_connection' }),
    )
  })

  it('refuses calls before open() with code not_open', async () => {
    const store = makeStore(url)
    await expect(store.stats()).rejects.toMatchObject({ code: 'not_open' })
  })

  it('reports an unreachable server as connection_failed without the password', async () => {
    const store = new PostgresQueueStore({
      connectionString: 'postgres://app:hunter2-secret@127.0.0.1:1/nowhere',
      schema: uniqueSchemaName(),
    })
    const error = await store.open().then(
      () => null,
      (e: unknown) => e,
    )
    await store.close()
    expect(error).toBeInstanceOf(PostgresStoreError)
    expect((error as PostgresStoreError).code).toBe('connection_failed')
    expect(String((error as Error).message)).not.toContain('hunter2')
  })

  it('redacts passwords in connection strings', () => {
    expect(redactConnectionStrings('see postgres://app:s3cret@db:5432/app now')).toBe(
      'see postgres://app:***@db:5432/app now',
    )
    expect(redactConnectionStrings('postgresql://app@db/app')).toBe('postgresql://app@db/app')
  })
})

describePostgres('PostgreSQL enqueue', (url) => {
  let store: PostgresQueueStore
  beforeEach(async () => {
    store = makeStore(url)
    await store.open()
  })

  it('commits a large batch in one statement and keeps timestamps past 2^31 exact', async () => {
    const at = 1_790_000_000_123
    const batch = deliveries(5_000, at)
    await store.enqueue(Q, batch)
    expect((await store.stats(Q)).queued).toBe(5_000)
    const claimed = await store.claim(Q, {
      limit: 1,
      now: at + 10_000,
      leaseMs: 1_000,
      worker: 'w',
    })
    // A claimed delivery may carry more than NewDelivery's fields (the store's own); these must be exact.
    expect(claimed).toMatchObject([
      {
        deliveries: [batch[0]],
        batch: false,
        attempts: 0,
        enqueuedAt: at,
        lastReason: null,
        lastStatus: null,
      },
    ])
    expect(claimed).toHaveLength(1)
    expect(claimed[0]?.deliveries).toHaveLength(1)
    expect(await store.nextDueAt(Q)).toBe(at + 1)
  })

  it("keeps traceparents in a block's meta only when one of its deliveries has one, and in rows", async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
    const [plain, nulled, traced, other] = deliveries(4) as [
      NewDelivery,
      NewDelivery,
      NewDelivery,
      NewDelivery,
    ]
    await store.enqueue(Q, [plain, { ...nulled, traceparent: null }])
    await store.enqueue(Q, [{ ...traced, traceparent }, other])
    const read = async (sql: string) => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        return (await client.query(sql)).rows
      } finally {
        await client.end()
      }
    }
    const metas = await read(`SELECT meta FROM "${store.schema}".delivery_blocks ORDER BY seq`)
    const [untraced, withOne] = metas.map((r) => JSON.parse(r.meta))
    // The common case stores nothing more than before traceparents were kept.
    expect(Object.keys(untraced)).toEqual(['ids', 'messageIds', 'enqueuedAt', 'lengths'])
    expect(withOne.traceparents).toEqual([traceparent, null])
    // Rescheduled, they leave their blocks as rows, with the traceparent in its own column.
    const claimed = await store.claim(Q, { limit: 10, now: 10_000, leaseMs: 1_000, worker: 'w' })
    for (const request of claimed) {
      await store.retry(Q, request, { at: 20_000, attempts: 1, reason: 'timeout', status: null })
    }
    const rows = await read(
      `SELECT id, traceparent FROM "${store.schema}".deliveries ORDER BY enqueued_at`,
    )
    expect(rows).toEqual([
      { id: plain.id, traceparent: null },
      { id: nulled.id, traceparent: null },
      { id: traced.id, traceparent },
      { id: other.id, traceparent: null },
    ])
    expect(await read(`SELECT seq FROM "${store.schema}".delivery_blocks`)).toEqual([])
  })

  it('is all or nothing: one row PostgreSQL refuses leaves none of the batch', async () => {
    const batch = deliveries(10)
    const bad = { ...deliveries(1)[0], body: 'NUL \u0000 is not valid text' } as NewDelivery
    await expect(store.enqueue(Q, [...batch, bad])).rejects.toThrow()
    expect((await store.stats(Q)).queued).toBe(0)
  })
})

describePostgres('PostgreSQL claims and leases', (url) => {
  let store: PostgresQueueStore
  beforeEach(async () => {
    store = makeStore(url)
    await store.open()
  })

  it('gives each delivery to one worker when many claim at once (SKIP LOCKED)', async () => {
    await store.enqueue(Q, deliveries(400))
    const workers = Array.from({ length: 4 }, () => makeStore(url, store.schema, { max: 2 }))
    await Promise.all(workers.map((w) => w.open()))
    const seen = new Map<string, string>()
    const now = Date.now()
    const claimUntilEmpty = async (w: PostgresQueueStore, name: string) => {
      for (let round = 0; round < 200; round++) {
        const got = await claimFlat(w, Q, { limit: 7, now, leaseMs: 60_000, worker: name })
        if (got.length === 0) return
        for (const d of got) {
          expect(seen.get(d.id)).toBeUndefined()
          seen.set(d.id, name)
        }
      }
    }
    await Promise.all(
      workers.flatMap((w, i) => [claimUntilEmpty(w, `w${i}a`), claimUntilEmpty(w, `w${i}b`)]),
    )
    expect(seen.size).toBe(400)
    expect(new Set(seen.values()).size).toBeGreaterThan(1)
    expect(await store.stats(Q)).toMatchObject({ queued: 0, inFlight: 400 })
  })

  it("takes over a dead worker's deliveries once its lease expires, not before", async () => {
    await store.enqueue(Q, deliveries(3))
    const held = await store.claim(Q, { limit: 3, now: 5_000, leaseMs: 1_000, worker: 'dead' })
    expect(flatten(held)).toHaveLength(3)
    expect(
      await store.claim(Q, { limit: 3, now: 5_999, leaseMs: 1_000, worker: 'live' }),
    ).toHaveLength(0)
    expect(await store.nextDueAt(Q)).toBe(6_000)
    const taken = await store.claim(Q, { limit: 3, now: 6_000, leaseMs: 1_000, worker: 'live' })
    expect(membersOf(taken)).toEqual(membersOf(held))
    expect(taken.map((r) => r.attempts)).toEqual([0, 0, 0])
  })

  it('claims oldest due first and leaves deliveries that are not due', async () => {
    const [a, b, c] = deliveries(3)
    await store.enqueue(Q, [c as NewDelivery, a as NewDelivery, b as NewDelivery])
    const first = await store.claim(Q, { limit: 1, now: 10_000, leaseMs: 1, worker: 'w' })
    expect(membersOf(first)).toEqual([[a?.id]])
    await store.retry(Q, first[0] as ClaimedRequest, {
      at: 50_000,
      attempts: 1,
      reason: 'http_5xx',
      status: 503,
    })
    const got = await claimFlat(store, Q, { limit: 10, now: 20_000, leaseMs: 1_000, worker: 'w' })
    expect(got.map((d) => d.id)).toEqual([b?.id, c?.id])
  })

  it('two workers finishing overlapping sets in opposite orders never deadlock', async () => {
    const other = makeStore(url, store.schema, { max: 2 })
    await other.open()
    for (let round = 0; round < 10; round++) {
      const batch = deliveries(40)
      await store.enqueue(Q, batch)
      const reversed = [...batch].reverse()
      await Promise.all([
        store.complete(
          Q,
          batch.map((d) => requestOf(d)),
        ),
        other.retry(Q, requestOf(...reversed), {
          at: 0,
          attempts: 1,
          reason: 'timeout',
          status: null,
        }),
        store.kill(
          Q,
          reversed.slice(0, 20).map((d) => requestOf(d)),
          {
            now: 1,
            attempts: 1,
            reason: 'http_4xx',
            status: 400,
            detail: null,
          },
        ),
        other.release(
          Q,
          batch.slice(10).map((d) => requestOf(d)),
        ),
        other.wake(Q, 10),
      ])
    }
    const stats = await store.stats(Q)
    expect(stats.delivered + stats.dead + stats.queued).toBe(400)
  })

  it('keeps queues apart in one schema', async () => {
    await store.enqueue('one', deliveries(2))
    await store.enqueue('two', deliveries(3))
    expect(
      await claimFlat(store, 'one', { limit: 10, now: 10_000, leaseMs: 1_000, worker: 'w' }),
    ).toHaveLength(2)
    expect((await store.stats('two')).queued).toBe(3)
    expect((await store.stats()).queued + (await store.stats()).inFlight).toBe(5)
  })
})

describePostgres('PostgreSQL counters across processes', (url) => {
  it('adds delivered and retried from many store instances, and counts an id completed twice once', async () => {
    const schema = uniqueSchemaName()
    const instances = Array.from({ length: 5 }, () => makeStore(url, schema, { max: 2 }))
    await Promise.all(instances.map((s) => s.open()))
    const [first] = instances as [PostgresQueueStore]
    await first.enqueue(Q, deliveries(100))
    await Promise.all(
      instances.map(async (s, i) => {
        for (let round = 0; round < 100; round++) {
          const got = await s.claim(Q, { limit: 3, now: 10_000, leaseMs: 60_000, worker: `w${i}` })
          if (got.length === 0) return
          const [retried, ...done] = got
          if (retried && retried.attempts === 0) {
            await s.retry(Q, retried, { at: 0, attempts: 1, reason: 'timeout', status: null })
            await s.complete(Q, done)
          } else {
            await s.complete(Q, got)
          }
        }
      }),
    )
    const stats = await first.stats(Q)
    expect(stats.delivered).toBe(100)
    expect(stats.queued + stats.inFlight).toBe(0)
    expect(stats.retried).toBeGreaterThan(0)
    await first.complete(Q, [byIds('not-there')])
    expect((await first.stats(Q)).delivered).toBe(100)
  })
})

describePostgres('PostgreSQL dead-letter counts (schema version 6)', (url) => {
  /** A pool on `url` for raw SQL, ended after `work`. */
  async function withPool<T>(work: (pool: pg.Pool) => Promise<T>): Promise<T> {
    const pool = new pg.Pool({ connectionString: url, max: 2 })
    try {
      return await work(pool)
    } finally {
      await pool.end()
    }
  }
  /** Inserts dead letters as any release writes them: straight into the table. */
  const insertDead = (pool: pg.Pool, schema: string, rows: [string, string, string][]) =>
    pool.query(
      `INSERT INTO "${schema}".dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason)
       SELECT q, id, '{}', 'm-' || id, 1, 1, 2, r FROM unnest($1::text[], $2::text[], $3::text[]) AS t(q, id, r)`,
      [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
    )
  /** A new schema at version 5 (before dead letters were counted), holding these letters. */
  const version5WithDead = async (rows: [string, string, string][]) => {
    const schema = uniqueSchemaName()
    schemas.add(schema)
    await withPool(async (pool) => {
      const client = await pool.connect()
      try {
        await migratePostgres(client, `"${schema}"`, schema, POSTGRES_MIGRATIONS.slice(0, 5))
      } finally {
        client.release()
      }
      await insertDead(pool, schema, rows)
    })
    return schema
  }
  /** The exact counts, from the letters themselves. */
  const countLetters = (pool: pg.Pool, schema: string) =>
    pool
      .query(
        `SELECT queue, reason, count(*)::int AS n FROM "${schema}".dead_letters GROUP BY queue, reason ORDER BY queue, reason`,
      )
      .then((r) => r.rows)
  const sumCounts = (pool: pg.Pool, schema: string) =>
    pool
      .query(
        `SELECT queue, reason, sum(n)::int AS n FROM "${schema}".dead_counts GROUP BY queue, reason
         HAVING sum(n) <> 0 ORDER BY queue, reason`,
      )
      .then((r) => r.rows)
  const letterOf = (d: NewDelivery, reason: 'http_4xx' | 'timeout') => ({
    ...d,
    attempts: 1,
    deadAt: 5_000,
    reason,
    lastStatus: null,
    detail: null,
  })

  it('upgrades a version 5 schema: counts the dead letters it holds once', async () => {
    const schema = await version5WithDead([
      ['a', 'd1', 'http_4xx'],
      ['a', 'd2', 'http_4xx'],
      ['a', 'd3', 'timeout'],
      ['b', 'd4', 'tls'],
    ])
    const store = makeStore(url, schema)
    await store.open()
    expect(await store.stats('a')).toMatchObject({
      dead: 3,
      deadByReason: { http_4xx: 2, timeout: 1 },
    })
    expect(await store.stats()).toMatchObject({ dead: 4 })
    const again = makeStore(url, schema)
    await again.open()
    expect(await again.stats()).toMatchObject({ dead: 4 })
    expect(await again.purgeDead({ reason: 'http_4xx' })).toBe(2)
    expect(await store.stats()).toMatchObject({ dead: 2, deadByReason: { timeout: 1, tls: 1 } })
  })

  it('stay exact when many store instances kill, store, replay and purge at once, on several shards', async () => {
    const schema = uniqueSchemaName()
    const instances = Array.from({ length: 4 }, () => makeStore(url, schema, { max: 2 }))
    await Promise.all(instances.map((s) => s.open()))
    const [first] = instances as [PostgresQueueStore]
    for (let i = 0; i < 8; i++) await first.enqueue(Q, deliveries(25))
    await Promise.all(
      instances.map(async (s, i) => {
        for (let round = 0; round < 100; round++) {
          const got = await s.claim(Q, { limit: 7, now: 10_000, leaseMs: 60_000, worker: `w${i}` })
          if (got.length === 0) return
          const reason = round % 2 === 0 ? 'http_4xx' : 'timeout'
          await s.kill(Q, got, {
            now: 10_000 + round,
            attempts: 1,
            reason,
            status: null,
            detail: null,
          })
          await s.enqueueDead(Q, [letterOf(deliveries(1)[0] as NewDelivery, reason)])
          if (round % 5 === 4) await s.purgeDead({ reason: 'timeout' }, { queue: Q })
          if (round % 7 === 6) await s.replayDead({ reason: 'http_4xx' }, { now: 10_000, queue: Q })
        }
      }),
    )
    await withPool(async (pool) => {
      const exact = await countLetters(pool, schema)
      expect(exact.length).toBeGreaterThan(0)
      expect(await sumCounts(pool, schema)).toEqual(exact)
      const shards = await pool.query(
        `SELECT count(DISTINCT shard)::int AS n FROM "${schema}".dead_counts`,
      )
      expect(shards.rows[0].n).toBeGreaterThan(1)
      const stats = await first.stats(Q)
      expect(stats.dead).toBe(exact.reduce((sum, r) => sum + r.n, 0))
      expect(stats.deadByReason).toEqual(Object.fromEntries(exact.map((r) => [r.reason, r.n])))
    })
  })

  it('move a count when a kill rewrites a letter already dead, and follow updates and TRUNCATE by hand', async () => {
    const store = makeStore(url)
    await store.open()
    const [item] = deliveries(1) as [NewDelivery]
    await store.enqueueDead(Q, [letterOf(item, 'http_4xx')])
    // The same id queued again and killed: PostgreSQL rewrites the letter (ON CONFLICT DO UPDATE).
    await store.enqueue(Q, [item])
    const got = await store.claim(Q, { limit: 1, now: 10_000, leaseMs: 1_000, worker: 'w' })
    await store.kill(Q, got, {
      now: 10_000,
      attempts: 2,
      reason: 'timeout',
      status: null,
      detail: null,
    })
    expect(await store.listDead({ queue: Q })).toMatchObject([{ id: item.id, reason: 'timeout' }])
    expect(await store.stats(Q)).toMatchObject({ dead: 1, deadByReason: { timeout: 1 } })
    await withPool(async (pool) => {
      await insertDead(pool, store.schema, [
        [Q, 'x1', 'http_4xx'],
        ['other', 'x2', 'http_4xx'],
      ])
      await pool.query(`UPDATE "${store.schema}".dead_letters SET reason = 'tls' WHERE id = 'x1'`)
      await pool.query(`UPDATE "${store.schema}".dead_letters SET queue = $1 WHERE id = 'x2'`, [Q])
      expect(await store.stats(Q)).toMatchObject({
        dead: 3,
        deadByReason: { timeout: 1, tls: 1, http_4xx: 1 },
      })
      expect(await sumCounts(pool, store.schema)).toEqual(await countLetters(pool, store.schema))
      await pool.query(`TRUNCATE "${store.schema}".dead_letters`)
      expect(await store.stats()).toMatchObject({ dead: 0, deadByReason: {} })
    })
  })

  it('stats read the counts, not the letters', async () => {
    const store = makeStore(url)
    await store.open()
    await withPool(async (pool) => {
      await insertDead(pool, store.schema, [[Q, 'x', 'http_4xx']])
      await pool.query(`UPDATE "${store.schema}".dead_counts SET n = 1000000`)
    })
    expect(await store.stats(Q)).toMatchObject({
      dead: 1_000_000,
      deadByReason: { http_4xx: 1_000_000 },
    })
  })

  it('a store that must not migrate (the CLI) reads an older schema: counts from the letters, pages, no worker states', async () => {
    const schema = await version5WithDead([
      ['a', 'd1', 'http_4xx'],
      ['a', 'd2', 'timeout'],
      ['b', 'd3', 'http_4xx'],
    ])
    const store = new PostgresQueueStore({ connectionString: url, schema, migrate: false })
    stores.push(store)
    await store.open()
    expect(await store.stats()).toMatchObject({
      dead: 3,
      deadByReason: { http_4xx: 2, timeout: 1 },
    })
    const page = await store.listDead({ reason: 'http_4xx', before: { deadAt: 3, id: '' } })
    expect(page.map((l) => l.id)).toEqual(['d3', 'd1'])
    expect(await store.purgeDead({ reason: 'timeout' }, { queue: 'a' })).toBe(1)
    await store.reportState('a', 'w', { state: 'idle', until: null, at: 1 })
    expect(await store.workerStates('a')).toEqual([])
    await withPool(async (pool) => {
      const { rows } = await pool.query(
        `SELECT max(version) AS v FROM "${schema}".schema_migrations`,
      )
      expect(rows[0].v).toBe(5)
    })
  })
})

describePostgres('PostgreSQL dead letters', (url) => {
  let store: PostgresQueueStore
  beforeEach(async () => {
    store = makeStore(url)
    await store.open()
  })

  it('kills, lists by reason, replays with a fresh window and purges', async () => {
    const batch = deliveries(4)
    await store.enqueue(Q, batch)
    const got = await store.claim(Q, { limit: 4, now: 10_000, leaseMs: 1_000, worker: 'w' })
    expect(membersOf(got)).toEqual(batch.map((d) => [d.id]))
    await store.kill(Q, got.slice(0, 1), {
      now: 11_000,
      attempts: 1,
      reason: 'http_4xx',
      status: 400,
      detail: 'HTTP 400',
    })
    await store.kill(Q, got.slice(1, 2), {
      now: 12_000,
      attempts: 9,
      reason: 'expired',
      status: 503,
      detail: null,
    })
    await store.release(Q, got.slice(2))
    const stats = await store.stats(Q)
    expect(stats).toMatchObject({
      queued: 2,
      inFlight: 0,
      dead: 2,
      deadByReason: { http_4xx: 1, expired: 1 },
    })
    const dead = await store.listDead({ queue: Q })
    expect(dead.map((d) => [d.id, d.reason, d.attempts, d.deadAt, d.lastStatus])).toEqual([
      [batch[0]?.id, 'http_4xx', 1, 11_000, 400],
      [batch[1]?.id, 'expired', 9, 12_000, 503],
    ])
    expect(dead[0]?.body).toBe(batch[0]?.body)
    expect(await store.listDead({ queue: Q, limit: 1, offset: 1 })).toHaveLength(1)

    expect(await store.replayDead({ ids: [batch[0]?.id ?? ''] }, { now: 20_000 })).toEqual({
      replayed: 1,
      unsendable: 0,
    })
    const replayed = await claimFlat(store, Q, {
      limit: 10,
      now: 20_000,
      leaseMs: 1_000,
      worker: 'w',
    })
    expect(replayed.find((d) => d.id === batch[0]?.id)).toMatchObject({
      attempts: 0,
      enqueuedAt: 20_000,
    })

    await store.enqueueDead(Q, [
      {
        ...deliveries(1)[0],
        attempts: 0,
        deadAt: 30_000,
        reason: 'invalid_payload',
        lastStatus: null,
        detail: 'circular',
      } as never,
    ])
    expect(await store.purgeDead({ all: true }, { queue: 'other' })).toBe(0)
    expect(await store.purgeDead({ all: true }, { queue: Q })).toBe(2)
    expect((await store.stats(Q)).dead).toBe(0)
  })

  it('wake makes waiting deliveries due now and says how many', async () => {
    await store.enqueue(Q, deliveries(3))
    const got = await store.claim(Q, { limit: 3, now: 10_000, leaseMs: 1_000, worker: 'w' })
    for (const request of got.slice(0, 2)) {
      await store.retry(Q, request, { at: 99_000, attempts: 1, reason: 'http_5xx', status: 500 })
    }
    expect(await store.wake(Q, 20_000)).toBe(2)
    expect(await store.nextDueAt(Q)).toBe(11_000) // the third is still leased until 11 000
    expect(
      await claimFlat(store, Q, { limit: 3, now: 20_000, leaseMs: 1_000, worker: 'w' }),
    ).toHaveLength(3)
  })
})

describePostgres('PostgreSQL LISTEN/NOTIFY wakeups', (url) => {
  it('wakes a subscriber in another store instance when deliveries are enqueued', async () => {
    const schema = uniqueSchemaName()
    const producer = makeStore(url, schema)
    const worker = makeStore(url, schema)
    await producer.open()
    await worker.open()
    const calls: string[] = []
    const woke = new Promise<void>((resolve) => {
      void worker
        .subscribe(Q, () => {
          calls.push(Q)
          resolve()
        })
        .then(() => producer.enqueue(Q, deliveries(3)))
    })
    const stopOther = await worker.subscribe('other-queue', () => calls.push('other'))
    await woke
    expect(calls).toEqual([Q])
    await stopOther()
  })

  it('reconnects after the listening connection is killed, and wakes once to catch up', async () => {
    const store = makeStore(url)
    await store.open()
    let wakes = 0
    const stop = await store.subscribe(Q, () => {
      wakes++
    })
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    try {
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN "aw_wake_${store.schema}"'`,
      )
      expect(killed.rowCount).toBe(1)
    } finally {
      await admin.end()
    }
    for (let i = 0; i < 100 && wakes === 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(wakes).toBe(1)
    await store.enqueue(Q, deliveries(1))
    for (let i = 0; i < 100 && wakes === 1; i++) await new Promise((r) => setTimeout(r, 50))
    expect(wakes).toBe(2)
    await stop()
  })

  it('unsubscribing stops the wakeups', async () => {
    const store = makeStore(url)
    await store.open()
    let wakes = 0
    const stop = await store.subscribe(Q, () => {
      wakes++
    })
    await stop()
    await store.enqueue(Q, deliveries(1))
    await new Promise((r) => setTimeout(r, 200))
    expect(wakes).toBe(0)
  })
})
