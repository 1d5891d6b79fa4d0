/** `analytics-webhooks ui`: the dashboard on its own HTTP server, over a SQLite file or a PostgreSQL schema, on 127.0.0.1 unless told otherwise (then behind a token). */

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { asError, WebhookError } from '@analytics-webhooks/core'
import { openQueueAt, QueueLocationError } from '../queue-location.js'
import type { QueueStore } from '../store/types.js'
import { type Access, generateToken, isLoopbackHost } from './access.js'
import { createDashboard } from './handler.js'
import { nodeDashboard } from './node.js'

/** Where the token may come from instead of `--token` (flags show in the process list). */
export const UI_TOKEN_ENV = 'ANALYTICS_WEBHOOKS_UI_TOKEN'

const DEFAULT_PORT = 4400

const HELP = `Usage: analytics-webhooks ui [options]

Serves a live page over the queue: counts, the destination's state, outcomes
over time, and the dead letters (filter, search, replay, purge).

Options:
  --db PATH           The SQLite queue file (default: $ANALYTICS_WEBHOOKS_DB, else ./.data/analytics-webhooks.sqlite)
  --database-url URL  A PostgreSQL queue instead (default: $DATABASE_URL when neither --db nor
                      $ANALYTICS_WEBHOOKS_DB is given); the password is never printed or shown
  --schema NAME       With PostgreSQL: the queue's schema (default: analytics_webhooks)
  --queue NAME        One queue (default: every queue; the destination's state needs one)
  --port N            Port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host H            Address (default 127.0.0.1). Any other address requires a token
  --token TOKEN       The token to require (prefer $${UI_TOKEN_ENV}); without one, a random
                      token is made and printed when the address is not loopback
  -h, --help          This help

Exit codes: 0 stopped, 1 failed, 2 usage error.
`

/** A problem with how `ui` was called (exit code 2). */
class UiUsageError extends WebhookError<'usage'> {
  override readonly name = 'UiUsageError'
  constructor(message: string) {
    super('usage', message)
  }
}

/** What `runUi` needs from its surroundings; tests pass their own. */
export interface UiIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  /** Stops the server when aborted. Default: SIGINT or SIGTERM. */
  readonly signal?: AbortSignal
  /** The environment to read. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv
}

/**
 * Runs `analytics-webhooks ui` with `argv` (the arguments after `ui`): opens
 * the queue the way the other commands do (never creating one), serves the
 * dashboard until stopped, then closes everything. Resolves with the exit
 * code: 0 after a clean stop, 1 when the store or the port cannot be used,
 * 2 for a usage error.
 *
 * @example
 * process.exitCode = await runUi(['--db', './queue.sqlite', '--queue', 'default'], {
 *   out: (text) => console.log(text),
 *   err: (text) => console.error(text),
 * })
 */
export async function runUi(argv: readonly string[], io: UiIo): Promise<number> {
  const env = io.env ?? process.env
  let store: QueueStore | undefined
  try {
    const values = parseUiArgs(argv)
    if (values.help) {
      io.out(HELP)
      return 0
    }
    const host = values.host ?? '127.0.0.1'
    const port = whole('port', values.port, DEFAULT_PORT)
    const given = values.token ?? env[UI_TOKEN_ENV]
    if (given !== undefined && given.length < 16)
      throw new UiUsageError('the token must be at least 16 characters long')
    const loopback = isLoopbackHost(host)
    const access: Access =
      loopback && given === undefined
        ? { kind: 'loopback' }
        : { kind: 'token', token: given ?? generateToken() }
    // Two connections: the shared reading and an action or a page of letters at the same time.
    const opened = await openQueueAt(values, { env, connections: 2 })
    store = opened.store
    const handler = createDashboard(
      {
        store,
        ...(values.queue === undefined ? {} : { queue: values.queue }),
        label: opened.label,
      },
      access,
    )
    const server = createServer(nodeDashboard(handler))
    const bound = await listen(server, port, host)
    const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? 'localhost' : host
    const url = `http://${shown}:${bound}/`
    if (access.kind === 'loopback') {
      io.out(`Dashboard: ${url} (this machine only)`)
    } else {
      io.out(`Dashboard: ${url}?token=${access.token}`)
      io.out(
        given === undefined
          ? `A token was generated for this run; every request needs it (set $${UI_TOKEN_ENV} to choose one).`
          : 'Every request needs the token given.',
      )
    }
    io.out(`Queue: ${values.queue ?? 'every queue'} in ${opened.label}. Press Ctrl+C to stop.`)
    await stopped(io.signal)
    await handler.close()
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return 0
  } catch (error) {
    if (
      error instanceof UiUsageError ||
      (error instanceof QueueLocationError && error.code === 'usage')
    ) {
      io.err(`analytics-webhooks ui: ${error.message} (see --help)`)
      return 2
    }
    io.err(`analytics-webhooks ui: ${asError(error).message}`)
    return 1
  } finally {
    await store?.close()
  }
}

function parseUiArgs(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      options: {
        db: { type: 'string' },
        'database-url': { type: 'string' },
        schema: { type: 'string' },
        queue: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values
  } catch (error) {
    throw new UiUsageError(asError(error).message)
  }
}

function whole(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65_535)
    throw new UiUsageError(`--${name} must be a port number, got ${value}`)
  return n
}

function listen(server: ReturnType<typeof createServer>, port: number, host: string) {
  return new Promise<number>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} is in use (--port 0 picks a free one)`)
          : error,
      ),
    )
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port))
  })
}

function stopped(signal: AbortSignal | undefined): Promise<void> {
  if (signal) {
    return signal.aborted
      ? Promise.resolve()
      : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
  }
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
}
