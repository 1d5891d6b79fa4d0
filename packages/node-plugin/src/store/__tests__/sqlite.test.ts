/** Runs the QueueStore contract against SQLite, plus what is SQLite-specific: files, migrations, processes sharing a file. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { DB_PATH_ENV, defaultSqlitePath, SqliteQueueStore } from '../sqlite.js'
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
  it('creates the file and its directory, in WAL mode, at schema version 1', async () => {
    const path = join(tempDir(), 'nested', 'dir', 'q.sqlite')
    const store = new SqliteQueueStore({ path })
    await store.open()
    await store.close()
    const db = new Database(path, { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(1)
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
