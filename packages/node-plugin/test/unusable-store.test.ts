/** A SQLite queue that cannot be used is reported when the plugin is created, naming the file, before any event is acknowledged. */

import { randomBytes, randomUUID } from 'node:crypto'
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { WebhookPluginError } from '../src/errors.js'
import { webhookPlugin } from '../src/plugin.js'
import { SqliteQueueStore } from '../src/store/sqlite/store.js'

const SETTINGS = { webhooks: ['http://127.0.0.1:9/hook'] }

/** A real queue file holding `count` events, closed. */
async function filledQueue(path: string, count: number): Promise<void> {
  const store = new SqliteQueueStore({ path })
  await store.open()
  const body = JSON.stringify({ type: 'track', event: 'E', properties: { pad: 'x'.repeat(400) } })
  for (let i = 0; i < count; i += 256) {
    await store.enqueue(
      'default',
      Array.from({ length: Math.min(256, count - i) }, (_, k) => ({
        id: randomUUID(),
        body,
        messageId: `m${i + k}`,
        enqueuedAt: Date.now(),
      })),
    )
  }
  await store.close()
}

/** What creating a plugin on `path` throws (it must throw). */
function refusal(path: string): WebhookPluginError {
  try {
    const plugin = webhookPlugin(SETTINGS, { store: { sqlite: { path } } })
    void plugin.close()
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookPluginError)
    return error as WebhookPluginError
  }
  throw new Error(`webhookPlugin accepted ${path}`)
}

describe('an unusable SQLite queue is refused when the plugin is created', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aw-unusable-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('random bytes: not a database', () => {
    const path = join(dir, 'queue.sqlite')
    writeFileSync(path, randomBytes(8192))
    const error = refusal(path)
    expect(error.code).toBe('store_unavailable')
    expect(error.message).toContain(path)
    expect(error.message).toContain('SQLITE_NOTADB')
  })

  it('a directory at the path', () => {
    const path = join(dir, 'queue.sqlite')
    mkdirSync(path)
    const error = refusal(path)
    expect(error.code).toBe('store_unavailable')
    expect(error.message).toContain(path)
    expect(error.message).toContain('SQLITE_CANTOPEN')
  })

  it('a place no file can be created (root ignores mode bits, so /proc stands in for an unwritable directory)', () => {
    const path = join('/proc', `aw-queue-${process.pid}.sqlite`)
    const error = refusal(path)
    expect(error.code).toBe('store_unavailable')
    expect(error.message).toContain(path)
  })

  it('a truncated queue file', async () => {
    const path = join(dir, 'queue.sqlite')
    await filledQueue(path, 2000)
    truncateSync(path, Math.floor(statSync(path).size / 2))
    const error = refusal(path)
    expect(error.code).toBe('store_unavailable')
    expect(error.message).toContain(path)
  })

  it('damaged interior pages: the integrity check on open finds them', async () => {
    const path = join(dir, 'queue.sqlite')
    await filledQueue(path, 2000)
    // Overwrite a few pages in the middle of the file (not the header): the file still opens.
    const size = statSync(path).size
    const fd = openSync(path, 'r+')
    try {
      for (let page = 4; page < 8; page++)
        writeSync(fd, randomBytes(4096), 0, 4096, Math.floor(size / 2 / 4096 + page) * 4096)
    } finally {
      closeSync(fd)
    }
    const error = refusal(path)
    expect(error.code).toBe('store_unavailable')
    expect(error.message).toContain(path)
  })

  it('frees the queue name: a plugin on a usable file can take it next', () => {
    const path = join(dir, 'queue.sqlite')
    mkdirSync(path)
    refusal(path)
    rmSync(path, { recursive: true })
    const plugin = webhookPlugin(SETTINGS, { store: { sqlite: { path } } })
    return plugin.close()
  })

  it('a healthy file opens, and keeps its deliveries', async () => {
    const path = join(dir, 'queue.sqlite')
    await filledQueue(path, 300)
    const plugin = webhookPlugin(SETTINGS, { store: { sqlite: { path } } })
    try {
      expect((await plugin.stats()).queued).toBe(300)
    } finally {
      await plugin.close()
    }
  })
})
