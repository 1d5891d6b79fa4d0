/** The built `analytics-webhooks` CLI, run as a child process against a real queue file. */

import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Receiver, startReceiver, testAnalytics } from '../src/__tests__/receiver.js'
import { webhookPlugin } from '../src/plugin.js'
import { SqliteQueueStore } from '../src/store/sqlite/store.js'
import type { DeadLetter } from '../src/store/types.js'
import { onLines } from './fixtures/lines.js'

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js')
const run = promisify(execFile)

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args])
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe('analytics-webhooks CLI', () => {
  let dir: string
  let receiver: Receiver | undefined
  beforeAll(() => {
    if (!existsSync(CLI))
      throw new Error(`${CLI} is missing: build the package first (npm run build)`)
  })
  afterEach(async () => {
    await receiver?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** A queue file holding dead letters made by a receiver that answers 400. */
  async function withDeadLetters(count: number): Promise<{ db: string; r: Receiver }> {
    dir = mkdtempSync(join(tmpdir(), 'aw-cli-'))
    const db = join(dir, 'queue.sqlite')
    receiver = await startReceiver(() => ({ status: 400 }))
    const plugin = webhookPlugin({ webhooks: [receiver.url] }, { store: { sqlite: { path: db } } })
    const analytics = testAnalytics()
    await analytics.register(plugin)
    for (let i = 0; i < count; i++)
      analytics.track({ userId: 'u1', event: 'E', messageId: `m${i}` })
    await analytics.closeAndFlush()
    await plugin.drain({ timeoutMs: 10_000 })
    await plugin.close()
    return { db, r: receiver }
  }

  it('replaying a dead delivery delivers it', async () => {
    const { db, r } = await withDeadLetters(2)
    const listed = await cli('dead', 'list', '--db', db, '--json')
    expect(listed.code).toBe(0)
    const letters = JSON.parse(listed.stdout) as DeadLetter[]
    expect(letters.map((l) => [l.messageId, l.reason, l.lastStatus])).toEqual([
      ['m0', 'http_4xx', 400],
      ['m1', 'http_4xx', 400],
    ])
    r.answer(() => ({ status: 200 }))
    const replayed = await cli('dead', 'replay', letters[0]?.id as string, '--db', db)
    expect(replayed).toMatchObject({ code: 0, stdout: 'Replayed 1 dead letter.\n' })

    const before = r.requests.length
    const plugin = webhookPlugin({ webhooks: [r.url] }, { store: { sqlite: { path: db } } })
    expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    await plugin.close()
    expect(r.requests.slice(before).map((req) => JSON.parse(req.body).messageId)).toEqual(['m0'])

    const stats = JSON.parse((await cli('stats', '--db', db, '--json')).stdout)
    expect(stats).toMatchObject({ delivered: 1, dead: 1, deadByReason: { http_4xx: 1 }, queued: 0 })
  })

  it('never replays an invalid_payload letter; a 400 letter is replayed with its original bytes and messageId', async () => {
    const { db, r } = await withDeadLetters(1)
    const first = r.requests[0] as { body: string }
    // An event JSON cannot carry, dead-lettered without a body.
    const plugin = webhookPlugin({ webhooks: [r.url] }, { store: { sqlite: { path: db } } })
    const analytics = testAnalytics()
    await analytics.register(plugin)
    analytics.track({ userId: 'u1', event: 'Big', messageId: 'm-big', properties: { n: 10n } })
    await analytics.closeAndFlush({ timeout: 1000 })
    await plugin.close()
    const letters = JSON.parse(
      (await cli('dead', 'list', '--db', db, '--json')).stdout,
    ) as DeadLetter[]
    const invalid = letters.find((l) => l.reason === 'invalid_payload') as DeadLetter
    expect(invalid).toMatchObject({ messageId: 'm-big', body: '' })

    const refused = await cli('dead', 'replay', invalid.id, '--db', db)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(
      `dead letter ${invalid.id} has no sendable body (invalid_payload)`,
    )

    r.answer(() => ({ status: 200 }))
    const all = await cli('dead', 'replay', '--all', '--db', db)
    expect(all).toMatchObject({ code: 0 })
    expect(all.stdout).toContain('Replayed 1 dead letter.')
    expect(all.stdout).toContain('Skipped 1 with no sendable body')

    const before = r.requests.length
    const again = webhookPlugin({ webhooks: [r.url] }, { store: { sqlite: { path: db } } })
    expect(await again.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
    await again.close()
    const sent = r.requests.slice(before)
    expect(sent.map((req) => req.body)).toEqual([first.body])
    expect(JSON.parse(sent[0]?.body as string).messageId).toBe('m0')
    const remaining = JSON.parse((await cli('dead', 'list', '--db', db, '--json')).stdout)
    expect(remaining.map((l: DeadLetter) => l.id)).toEqual([invalid.id])
  })

  it('lists, replays and purges by reason, and finds a letter by its messageId', async () => {
    dir = mkdtempSync(join(tmpdir(), 'aw-cli-'))
    const db = join(dir, 'queue.sqlite')
    const store = new SqliteQueueStore({ path: db })
    await store.open()
    const now = Date.now()
    const dead = (i: number, reason: 'http_4xx' | 'timeout' | 'invalid_payload', body = '{}') => ({
      id: `dead-${i}`,
      body,
      messageId: `m${i}`,
      enqueuedAt: now,
      attempts: 1,
      deadAt: now + i,
      reason,
      lastStatus: null,
      detail: null,
    })
    await store.enqueueDead('default', [
      dead(0, 'http_4xx'),
      dead(1, 'timeout'),
      dead(2, 'http_4xx'),
      dead(3, 'timeout'),
      dead(4, 'invalid_payload', ''),
    ])
    await store.enqueueDead('other', [dead(5, 'timeout')])
    await store.close()
    const ids = async (...args: string[]) => {
      const listed = await cli('dead', 'list', '--db', db, '--json', ...args)
      expect(listed.code).toBe(0)
      return (JSON.parse(listed.stdout) as DeadLetter[]).map((l) => l.id)
    }
    expect(await ids('--reason', 'timeout')).toEqual(['dead-1', 'dead-3', 'dead-5'])
    expect(await ids('--reason', 'timeout', '--queue', 'default')).toEqual(['dead-1', 'dead-3'])
    expect(await ids('--message-id', 'm2')).toEqual(['dead-2'])
    expect(await ids('--message-id', 'm')).toEqual([])
    expect(
      (await cli('dead', 'list', '--db', db, '--reason', 'http_4xx', '--message-id', 'm1')).stdout,
    ).toBe('No dead letters.\n')

    const unsendable = await cli('dead', 'replay', '--reason', 'invalid_payload', '--db', db)
    expect(unsendable.code).toBe(0)
    expect(unsendable.stdout).toContain('Replayed 0 dead letters.')
    expect(unsendable.stdout).toContain('Skipped 1 with no sendable body')
    expect(
      await cli('dead', 'replay', '--reason', 'timeout', '--queue', 'default', '--db', db),
    ).toMatchObject({ code: 0, stdout: 'Replayed 2 dead letters.\n' })
    expect(await cli('dead', 'purge', '--reason', 'http_4xx', '--db', db, '--json')).toMatchObject({
      code: 0,
      stdout: '{\n  "purged": 2\n}\n',
    })
    const stats = JSON.parse((await cli('stats', '--db', db, '--json')).stdout)
    expect(stats).toMatchObject({
      queued: 2,
      dead: 2,
      deadByReason: { invalid_payload: 1, timeout: 1 },
    })
    expect(await ids()).toEqual(['dead-4', 'dead-5'])

    expect(await cli('dead', 'purge', '--reason', 'timeout', '--all', '--db', db)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('give ids, --all or --reason, only one of them'),
    })
    expect(await cli('dead', 'replay', 'dead-4', '--message-id', 'm4', '--db', db)).toMatchObject({
      code: 2,
    })
    expect(await cli('stats', '--reason', 'timeout', '--db', db)).toMatchObject({ code: 2 })
    expect((await cli('--help')).stdout).toContain('--message-id M')
  })

  it('prints human-readable tables, purges, and fails clearly', async () => {
    const { db } = await withDeadLetters(2)
    const stats = await cli('stats', '--db', db, '--queue', 'default')
    expect(stats.code).toBe(0)
    expect(stats.stdout).toMatch(/dead: http_4xx\s+2/)
    const list = await cli('dead', 'list', '--db', db)
    expect(list.stdout.split('\n')[0]).toMatch(/^id\s+queue\s+reason\s+status\s+attempts/)
    expect(list.stdout).toContain('webhooks[0]: http_4xx (HTTP 400)')

    expect(await cli('dead', 'purge', 'no-such-id', '--db', db)).toMatchObject({ code: 1 })
    expect(await cli('dead', 'purge', '--all', '--db', db, '--json')).toMatchObject({
      code: 0,
      stdout: '{\n  "purged": 2\n}\n',
    })
    expect((await cli('dead', 'list', '--db', db)).stdout).toBe('No dead letters.\n')

    expect(await cli('--help')).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('Usage: analytics-webhooks'),
    })
    expect(await cli('dead', 'explode', '--db', db)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown command'),
    })
    expect(await cli('dead', 'replay', '--db', db)).toMatchObject({ code: 2 })
    expect(await cli('stats', '--db', join(dir, 'missing.sqlite'))).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no queue database'),
    })
  })
  it('ui serves the dashboard over the same file until stopped, and refuses options that do not go together', async () => {
    const { db } = await withDeadLetters(1)
    const child = spawn(process.execPath, [
      CLI,
      'ui',
      '--db',
      db,
      '--queue',
      'default',
      '--port',
      '0',
    ])
    try {
      const first = await new Promise<string>((resolve) => onLines(child.stdout, resolve))
      const url = /Dashboard: (http:\/\/127\.0\.0\.1:\d+\/) \(this machine only\)/.exec(first)?.[1]
      expect(url, first).toBeDefined()
      const stats = (await fetch(new URL('api/stats', url)).then((r) => r.json())) as {
        reading: { stats: unknown }
      }
      expect(stats.reading.stats).toMatchObject({ dead: 1, deadByReason: { http_4xx: 1 } })
      const letters = await fetch(new URL('api/dead', url)).then((r) => r.json())
      expect(JSON.stringify(letters)).toContain('m0')
    } finally {
      child.kill('SIGTERM')
    }
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0)
    expect(await cli('ui', '--db', db, '--database-url', 'postgres://x@127.0.0.1/x')).toMatchObject(
      {
        code: 2,
        stderr: expect.stringContaining('give --db or --database-url, not both'),
      },
    )
  })
})
