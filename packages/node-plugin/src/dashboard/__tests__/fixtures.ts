/** What the dashboard tests share: a real plugin on a real analytics-node pipeline delivering to a local receiver over SQLite or PostgreSQL, the `ui` server started as the CLI does, and raw HTTP requests that can set any header. */

import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { WebhookSettingsInput } from '@analytics-webhooks/core'
import type { Analytics } from '@segment/analytics-node'
import { databaseUrl, dropSchemas, uniqueSchemaName } from '../../../test/postgres-database.js'
import { type Receiver, startReceiver, testAnalytics } from '../../__tests__/receiver.js'
import { type WebhookPlugin, webhookPlugin } from '../../plugin.js'
import type { StoreOption } from '../../store/index.js'
import { PostgresQueueStore } from '../../store/postgres/store.js'
import { SqliteQueueStore } from '../../store/sqlite/store.js'
import type { QueueStore } from '../../store/types.js'
import { runUi } from '../ui.js'

/** The plugin's shared secret in every dashboard test: no answer may ever contain it. */
export const SHARED_SECRET = 'dashboard-test-shared-secret-0f9e8d7c'

/** A custom header's value in the plugin's settings: the dashboard never shows settings, so this never appears either. */
export const SECRET_HEADER_VALUE = 'team-header-value-5b4a3c2d'

/** A queue being filled and delivered by a real plugin, and how to reach its storage. */
export interface LiveQueue {
  readonly analytics: Analytics
  readonly plugin: WebhookPlugin
  readonly receiver: Receiver
  /** `runUi` arguments naming this storage and queue. */
  readonly uiArgs: readonly string[]
  /** Another connection to the same storage (another process, as the `ui` server is). */
  connect(): QueueStore
  /** {@link LiveQueue.connect}, opened. */
  open(): Promise<QueueStore>
  cleanup(): Promise<void>
}

/**
 * A plugin on `storage` signing with {@link SHARED_SECRET}, registered on a
 * fresh pipeline, delivering to a fresh receiver (200 until told otherwise).
 *
 * @example
 * const queue = await liveQueue('sqlite')
 * queue.analytics.track({ userId: 'u1', event: 'Signed Up' })
 */
export async function liveQueue(
  storage: 'sqlite' | 'postgres',
  settings: { events?: { exclude: string[] } } = {},
): Promise<LiveQueue> {
  const receiver = await startReceiver()
  const dir = mkdtempSync(join(tmpdir(), 'aw-dashboard-'))
  const path = join(dir, 'queue.sqlite')
  const schema = uniqueSchemaName('aw_dashboard')
  const url = databaseUrl ?? ''
  const store: StoreOption =
    storage === 'sqlite'
      ? { sqlite: { path } }
      : { postgres: { connectionString: url, schema, max: 4 } }
  const plugin = webhookPlugin(
    {
      webhooks: [receiver.url],
      sharedSecret: SHARED_SECRET,
      headers: { 'X-Team': SECRET_HEADER_VALUE },
      ...settings,
    } as WebhookSettingsInput,
    { store, pollIntervalMs: 100, retry: { baseDelayMs: 50, maxDelayMs: 200 } },
  )
  const analytics = testAnalytics()
  await analytics.register(plugin)
  // Opens the store (PostgreSQL: creates the schema) before a reader that never migrates comes.
  await plugin.stats()
  const opened: QueueStore[] = []
  const connect = (): QueueStore => {
    const other =
      storage === 'sqlite'
        ? new SqliteQueueStore({ path })
        : new PostgresQueueStore({ connectionString: url, schema, max: 2 })
    opened.push(other)
    return other
  }
  return {
    analytics,
    plugin,
    receiver,
    uiArgs:
      storage === 'sqlite'
        ? ['--db', path, '--queue', plugin.queue]
        : ['--database-url', url, '--schema', schema, '--queue', plugin.queue],
    connect,
    async open() {
      const other = connect()
      await other.open()
      return other
    },
    async cleanup() {
      await analytics.closeAndFlush({ timeout: 1000 })
      await plugin.close()
      await Promise.all(opened.map((other) => other.close()))
      await receiver.close()
      if (storage === 'postgres') await dropSchemas(url, [schema])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A running `analytics-webhooks ui`. */
export interface RunningUi {
  /** The printed address, with `?token=…` when one is needed. */
  readonly url: string
  /** The page's address without the token. */
  readonly base: string
  readonly token: string | null
  readonly output: string[]
  stop(): Promise<number>
}

/**
 * Runs `runUi(args)` as the CLI would, on a free port, until `stop()`.
 *
 * @example
 * const ui = await startUi(['--db', path, '--port', '0'])
 */
export async function startUi(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<RunningUi> {
  const stopper = new AbortController()
  const output: string[] = []
  let announced: (url: string) => void = () => undefined
  const printed = new Promise<string>((resolve) => {
    announced = resolve
  })
  const exit = runUi([...args, '--port', '0'], {
    out: (text) => {
      output.push(text)
      const match = /^Dashboard: (\S+)/.exec(text)
      if (match?.[1]) announced(match[1])
    },
    err: (text) => output.push(text),
    signal: stopper.signal,
    env,
  })
  const url = await Promise.race([
    printed,
    exit.then((code) => {
      throw new Error(`ui exited with ${code}: ${output.join('\n')}`)
    }),
  ])
  const parsed = new URL(url)
  const token = parsed.searchParams.get('token')
  parsed.search = ''
  return {
    url,
    base: parsed.href,
    token,
    output,
    stop: () => {
      stopper.abort()
      return exit
    },
  }
}

/** An answer read whole. */
export interface RawAnswer {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
}

/**
 * One HTTP request with exactly these headers (`fetch` would not let a test
 * set `Host`, `Origin` or `Sec-Fetch-Site` as a hostile page's browser would).
 * For an event stream, the answer so far after `streamMs`.
 *
 * @example
 * const answer = await raw('http://127.0.0.1:4400/api/stats', { headers: { host: 'evil.example' } })
 */
export function raw(
  url: string,
  options: {
    method?: string
    headers?: Record<string, string>
    body?: string
    streamMs?: number
  } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = []
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          })
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', done)
        if (options.streamMs !== undefined) {
          setTimeout(() => {
            done()
            req.destroy()
          }, options.streamMs)
        }
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

/** The headers the page sends with an action. */
export const ACTION_HEADERS = {
  'content-type': 'application/json',
  'x-analytics-webhooks-dashboard': '1',
}
