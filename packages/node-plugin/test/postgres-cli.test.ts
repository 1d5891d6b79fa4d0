/** The built `analytics-webhooks` CLI on a PostgreSQL queue: `--database-url` or `$DATABASE_URL`, stats, dead list/replay/purge, no password in output. */

import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startReceiver } from '../src/__tests__/receiver.js'
import { webhookPlugin } from '../src/plugin.js'
import { migratePostgres, POSTGRES_MIGRATIONS } from '../src/store/postgres/schema.js'
import { PostgresQueueStore } from '../src/store/postgres/store.js'
import type { DeadLetter } from '../src/store/types.js'
import { describePostgres, dropSchemas, uniqueSchemaName } from './postgres-database.js'

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js')
const run = promisify(execFile)

async function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv = {
    ...process.env,
    DATABASE_URL: undefined,
    ANALYTICS_WEBHOOKS_DB: undefined,
    ...env,
  }
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: childEnv as NodeJS.ProcessEnv,
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

/** The test database's URL with a password added: trust auth ignores it, and no output may show it. */
function withPassword(url: string, password: string): string {
  const u = new URL(url)
  u.password = password
  return u.toString()
}

const PASSWORD = 'cli-secret-9f2'

describePostgres('analytics-webhooks CLI on PostgreSQL', (url) => {
  const schema = uniqueSchemaName('aw_cli')
  const databaseUrl = withPassword(url, PASSWORD)
  let store: PostgresQueueStore

  beforeAll(async () => {
    if (!existsSync(CLI))
      throw new Error(`${CLI} is missing: build the package first (npm run build)`)
    store = new PostgresQueueStore({ connectionString: url, schema })
    await store.open()
    const now = Date.now()
    await store.enqueueDead(
      'default',
      [0, 1, 2].map((i) => ({
        id: `dead-${i}`,
        body: JSON.stringify({ type: 'track', event: 'E', messageId: `m${i}`, version: 1 }),
        messageId: `m${i}`,
        enqueuedAt: now,
        attempts: 1,
        deadAt: now + i,
        reason: 'http_4xx' as const,
        lastStatus: 400,
        detail: 'webhooks[0]: HTTP 400',
      })),
    )
  })

  afterAll(async () => {
    await store?.close()
    await dropSchemas(url, [schema])
  })

  it('reads stats and dead letters with --database-url and --schema', async () => {
    const stats = await cli(['stats', '--database-url', databaseUrl, '--schema', schema, '--json'])
    expect(stats.code).toBe(0)
    expect(JSON.parse(stats.stdout)).toMatchObject({ dead: 3, deadByReason: { http_4xx: 3 } })
    const listed = await cli([
      'dead',
      'list',
      '--database-url',
      databaseUrl,
      '--schema',
      schema,
      '--json',
    ])
    expect((JSON.parse(listed.stdout) as DeadLetter[]).map((l) => l.id)).toEqual([
      'dead-0',
      'dead-1',
      'dead-2',
    ])
    const text = await cli(['dead', 'list', '--database-url', databaseUrl, '--schema', schema])
    expect(text.stdout).toContain('http_4xx')
    expect(`${stats.stdout}${listed.stdout}${text.stdout}${text.stderr}`).not.toContain(PASSWORD)
  })

  it('uses $DATABASE_URL when neither --db nor $ANALYTICS_WEBHOOKS_DB is given', async () => {
    const stats = await cli(['stats', '--schema', schema, '--json'], { DATABASE_URL: databaseUrl })
    expect(stats.code).toBe(0)
    expect(JSON.parse(stats.stdout)).toMatchObject({ dead: 3 })
  })

  it('replaying a dead delivery delivers it; purge deletes the rest', async () => {
    const receiver = await startReceiver()
    try {
      const replayed = await cli([
        'dead',
        'replay',
        'dead-1',
        '--database-url',
        databaseUrl,
        '--schema',
        schema,
      ])
      expect(replayed).toMatchObject({ code: 0, stdout: 'Replayed 1 dead letter.\n' })
      const plugin = webhookPlugin(
        { webhooks: [receiver.url] },
        { store: { postgres: { connectionString: url, schema } }, pollIntervalMs: 50 },
      )
      expect(await plugin.drain({ timeoutMs: 10_000 })).toEqual({ drained: true, remaining: 0 })
      await plugin.close()
      expect(receiver.requests.map((r) => JSON.parse(r.body).messageId)).toEqual(['m1'])
      const purged = await cli([
        'dead',
        'purge',
        '--all',
        '--database-url',
        databaseUrl,
        '--schema',
        schema,
        '--json',
      ])
      expect(JSON.parse(purged.stdout)).toEqual({ purged: 2 })
    } finally {
      await receiver.close()
    }
  })

  it('lists, replays and purges by reason, and finds a letter by its messageId', async () => {
    const own = uniqueSchemaName('aw_cli')
    const other = new PostgresQueueStore({ connectionString: url, schema: own })
    try {
      await other.open()
      const now = Date.now()
      await other.enqueueDead(
        'default',
        (['http_4xx', 'timeout', 'http_4xx', 'timeout', 'invalid_payload'] as const).map(
          (reason, i) => ({
            id: `dead-${i}`,
            body: reason === 'invalid_payload' ? '' : '{}',
            messageId: `m${i}`,
            enqueuedAt: now,
            attempts: 1,
            deadAt: now + i,
            reason,
            lastStatus: null,
            detail: null,
          }),
        ),
      )
      const at = ['--database-url', databaseUrl, '--schema', own]
      const ids = async (...args: string[]) =>
        (
          JSON.parse((await cli(['dead', 'list', ...at, '--json', ...args])).stdout) as DeadLetter[]
        ).map((l) => l.id)
      expect(await ids('--reason', 'timeout')).toEqual(['dead-1', 'dead-3'])
      expect(await ids('--message-id', 'm2')).toEqual(['dead-2'])
      expect(await ids('--message-id', 'm2', '--reason', 'timeout')).toEqual([])
      const replayed = await cli(['dead', 'replay', '--reason', 'invalid_payload', ...at])
      expect(replayed).toMatchObject({ code: 0 })
      expect(replayed.stdout).toContain('Skipped 1 with no sendable body')
      expect(await cli(['dead', 'replay', '--reason', 'timeout', ...at])).toMatchObject({
        code: 0,
        stdout: 'Replayed 2 dead letters.\n',
      })
      const purged = await cli(['dead', 'purge', '--reason', 'http_4xx', ...at, '--json'])
      expect(JSON.parse(purged.stdout)).toEqual({ purged: 2 })
      const stats = JSON.parse((await cli(['stats', ...at, '--json'])).stdout)
      expect(stats).toMatchObject({ queued: 2, dead: 1, deadByReason: { invalid_payload: 1 } })
    } finally {
      await other.close()
      await dropSchemas(url, [own])
    }
  })

  it('reads a schema an earlier release made without migrating it: counts its dead letters', async () => {
    const old = uniqueSchemaName('aw_cli')
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    const client = await pool.connect()
    try {
      await migratePostgres(client, `"${old}"`, old, POSTGRES_MIGRATIONS.slice(0, 5))
      await client.query(
        `INSERT INTO "${old}".dead_letters (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason)
         VALUES ('default', 'a', '{}', 'ma', 1, 1, 2, 'http_4xx'), ('default', 'b', '{}', 'mb', 1, 1, 3, 'timeout')`,
      )
      const at = ['--database-url', databaseUrl, '--schema', old]
      const stats = await cli(['stats', ...at, '--json'])
      expect(stats.code).toBe(0)
      expect(JSON.parse(stats.stdout)).toMatchObject({
        dead: 2,
        deadByReason: { http_4xx: 1, timeout: 1 },
      })
      const listed = await cli(['dead', 'list', ...at, '--reason', 'timeout', '--json'])
      expect((JSON.parse(listed.stdout) as DeadLetter[]).map((l) => l.id)).toEqual(['b'])
      const { rows } = await client.query(
        `SELECT max(version) AS v FROM "${old}".schema_migrations`,
      )
      expect(rows[0].v).toBe(5)
    } finally {
      client.release()
      await pool.end()
      await dropSchemas(url, [old])
    }
  })

  it('never creates a queue, and never prints the password in errors', async () => {
    const missing = await cli(['stats', '--database-url', databaseUrl, '--schema', 'aw_cli_absent'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(
      'No analytics-webhooks queue in PostgreSQL schema aw_cli_absent',
    )
    const unreachable = await cli([
      'stats',
      '--database-url',
      `postgres://app:${PASSWORD}@127.0.0.1:1/none`,
    ])
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toContain('Cannot connect to PostgreSQL')
    expect(`${missing.stderr}${unreachable.stderr}${unreachable.stdout}`).not.toContain(PASSWORD)
    const both = await cli(['stats', '--db', 'x.sqlite', '--database-url', databaseUrl])
    expect(both.code).toBe(2)
  })
})
