/** Upgrades: a queue written by an earlier release (committed fixtures) opens with this one and delivers everything it holds. */

import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { type Receiver, startReceiver } from '../src/__tests__/receiver.js'
import { webhookPlugin } from '../src/plugin.js'
import { SqliteQueueStore } from '../src/store/sqlite/store.js'
import type { DeadLetter } from '../src/store/types.js'
import {
  describePostgres,
  type PostgresStoreFixture,
  schemaFixture,
  uniqueSchemaName,
} from './postgres-database.js'
import { FIXTURE_SCHEMA, fixtureDeliveries, T0 } from './upgrade/state.js'

const RELEASES = ['release-0']
const FIXTURES = join(import.meta.dirname, 'upgrade')

/** A fresh copy of a release's queue; `connect()` gives a new store on it each time. */
type Restored = PostgresStoreFixture

function restoreSqlite(release: string): Restored {
  const dir = mkdtempSync(join(tmpdir(), 'aw-upgrade-'))
  const path = join(dir, 'queue.sqlite')
  copyFileSync(join(FIXTURES, `${release}.sqlite`), path)
  return {
    connect: () => new SqliteQueueStore({ path }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

async function restorePostgres(url: string, release: string): Promise<Restored> {
  const schema = uniqueSchemaName('aw_upgrade')
  // psql's \restrict lines are for psql only; the rest is plain SQL for the fixture's schema.
  const sql = readFileSync(join(FIXTURES, `${release}.postgres.sql`), 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('\\'))
    .join('\n')
    .replaceAll(FIXTURE_SCHEMA, schema)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
  return schemaFixture(url, schema)
}

function describeUpgrades(restore: (release: string) => Promise<Restored>): void {
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it.each(RELEASES)(
    '%s: every waiting, retrying and leased delivery is delivered; dead letters stay listed',
    async (release) => {
      const restored = await restore(release)
      cleanups.push(() => restored.cleanup())
      const receiver: Receiver = await startReceiver()
      cleanups.push(() => receiver.close())
      // A little after the fixture was written: retries are due and the dead process's lease has run out.
      const now = () => T0 + 120_000
      for (const queue of ['default', 'retrying', 'leased']) {
        const store = restored.connect()
        const plugin = webhookPlugin(
          { webhooks: [receiver.url], batchSize: queue === 'default' ? 5 : 1 },
          { store, queue, now, pollIntervalMs: 100 },
        )
        await plugin.load({} as never, {} as never)
        expect(await plugin.drain({ timeoutMs: 20_000 })).toEqual({ drained: true, remaining: 0 })
        const stats = await plugin.stats()
        await plugin.close()
        await store.close()
        expect(stats.dead).toBe(queue === 'default' ? 3 : 0)
      }
      const { waiting, retrying, leased } = fixtureDeliveries()
      const expected = [...waiting, ...retrying, ...leased].map((d) => d.messageId).sort()
      const received = receiver.requests
        .flatMap((request) => [JSON.parse(request.body)].flat() as { messageId: string }[])
        .map((event) => event.messageId)
        .sort()
      expect(received).toEqual(expected)

      const store = restored.connect()
      await store.open()
      const letters = await store.listDead({ queue: 'default' })
      await store.close()
      expect(letters.map((letter) => letter.reason).sort()).toEqual([
        'http_4xx',
        'invalid_payload',
        'invalid_payload',
      ])
      // That release stored a rendering of unsendable events as their body: they are never replayed.
      const rejected = letters.find((letter) => letter.reason === 'http_4xx') as DeadLetter
      const replaying = restored.connect()
      await replaying.open()
      expect(await replaying.replayDead({ all: true }, { now: now() })).toEqual({
        replayed: 1,
        unsendable: 2,
      })
      await replaying.close()
      const again = restored.connect()
      const plugin = webhookPlugin({ webhooks: [receiver.url] }, { store: again, now })
      await plugin.load({} as never, {} as never)
      const before = receiver.requests.length
      expect(await plugin.drain({ timeoutMs: 20_000 })).toEqual({ drained: true, remaining: 0 })
      await plugin.close()
      await again.close()
      expect(receiver.requests.slice(before).map((request) => request.body)).toEqual([
        rejected.body,
      ])
    },
  )
}

describe('upgrade from a SQLite queue file written by an earlier release', () => {
  describeUpgrades(async (release) => restoreSqlite(release))
})

describePostgres('upgrade from a PostgreSQL schema written by an earlier release', (url) => {
  describeUpgrades((release) => restorePostgres(url, release))
})
