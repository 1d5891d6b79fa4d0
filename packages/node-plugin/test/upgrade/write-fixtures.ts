/**
 * Writes the upgrade fixtures with the code of the release they stand for:
 * a SQLite queue file and a PostgreSQL schema dump holding every kind of
 * state that release leaves behind. Run once per release, never again for an
 * old one (the files must stay what that release wrote):
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
 *     npx tsx test/upgrade/write-fixtures.ts release-0
 */

import { execFileSync } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { PostgresQueueStore } from '../../src/store/postgres/store.js'
import { SqliteQueueStore } from '../../src/store/sqlite/store.js'
import type { QueueStore } from '../../src/store/types.js'
import { FIXTURE_SCHEMA, fixtureDeliveries, fixtureLetters, T0 } from './state.js'

async function fill(store: QueueStore): Promise<void> {
  await store.open()
  const { waiting, retrying, leased } = fixtureDeliveries()
  // Never attempted, in two commits (the SQLite store keeps each commit's deliveries as a block).
  await store.enqueue('default', waiting.slice(0, 12))
  await store.enqueue('default', waiting.slice(12))
  // Tried once and waiting for their retry.
  await store.enqueue('retrying', retrying)
  const lease = { now: T0, leaseMs: 60_000, worker: 'a-process-that-died' }
  for (const request of await store.claim('retrying', { ...lease, limit: 100 })) {
    await store.retry('retrying', request, {
      at: T0 + 30_000,
      attempts: 1,
      reason: 'http_5xx',
      status: 503,
    })
  }
  // Claimed by a process that died before recording anything: the lease runs out at T0 + 60 s.
  await store.enqueue('leased', leased)
  await store.claim('leased', { ...lease, limit: 100 })
  await store.enqueueDead('default', fixtureLetters())
  await store.close()
}

const release = process.argv[2]
if (!release) throw new Error('usage: write-fixtures.ts <release name>')
const here = import.meta.dirname

const sqlitePath = join(here, `${release}.sqlite`)
rmSync(sqlitePath, { force: true })
await fill(new SqliteQueueStore({ path: sqlitePath }))

const url = process.env.DATABASE_URL
if (!url) throw new Error('DATABASE_URL is needed for the PostgreSQL fixture')
const client = new pg.Client({ connectionString: url })
await client.connect()
await client.query(`DROP SCHEMA IF EXISTS ${FIXTURE_SCHEMA} CASCADE`)
await client.end()
await fill(new PostgresQueueStore({ connectionString: url, schema: FIXTURE_SCHEMA }))
const dump = execFileSync(
  'pg_dump',
  ['--dbname', url, '--schema', FIXTURE_SCHEMA, '--inserts', '--no-owner', '--no-privileges'],
  { encoding: 'utf8' },
)
writeFileSync(join(here, `${release}.postgres.sql`), dump)
const cleanup = new pg.Client({ connectionString: url })
await cleanup.connect()
await cleanup.query(`DROP SCHEMA ${FIXTURE_SCHEMA} CASCADE`)
await cleanup.end()
console.log(`wrote ${release}.sqlite and ${release}.postgres.sql`)
