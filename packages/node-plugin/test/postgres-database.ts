/** The PostgreSQL test database: `DATABASE_URL` or this run's throwaway server, a throwaway schema per test run, and the skip-or-fail rule when there is none. */

import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { describe, inject, it } from 'vitest'
import { PostgresQueueStore } from '../src/store/postgres/store.js'
import type { QueueStore } from '../src/store/types.js'

/** What `test/throwaway-postgres.ts` provided, inside vitest (the benches import this file too, outside it). */
function provided<K extends 'throwawayPostgresUrl' | 'throwawayPostgresFailure'>(
  key: K,
): string | undefined {
  return process.env.VITEST ? inject(key) : undefined
}

/** The database the PostgreSQL tests use: `DATABASE_URL`, else the throwaway server this run started. */
export const databaseUrl: string | undefined =
  process.env.DATABASE_URL || provided('throwawayPostgresUrl') || undefined

/** The notice printed (once) when the PostgreSQL tests are skipped, and thrown under `CI=true`. */
export const SKIP_NOTICE = `PostgreSQL tests skipped: DATABASE_URL is not set${
  provided('throwawayPostgresFailure')
    ? ` and a throwaway PostgreSQL did not start: ${provided('throwawayPostgresFailure')}`
    : ''
}`

let warned = false

function warnOnce(): void {
  if (warned) return
  warned = true
  console.warn(SKIP_NOTICE)
}

/**
 * `describe` for tests that need PostgreSQL. Without a database (no
 * `DATABASE_URL`, and the throwaway server did not start) the block is skipped
 * with a printed notice, except under `CI=true`, where a test in its place
 * fails, so CI cannot pass without running them.
 *
 * @example
 * describePostgres('PostgresQueueStore claims', (url) => { it('…', async () => { … }) })
 */
export function describePostgres(name: string, body: (url: string) => void): void {
  const url = databaseUrl
  if (url) {
    describe(name, () => body(url))
    return
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL', () => {
        throw new Error(`${SKIP_NOTICE} (CI=true requires it)`)
      })
    })
    return
  }
  warnOnce()
  // vitest still runs a skipped block's body to list its tests: give it a well-formed URL it never connects to.
  describe.skip(name, () => body('postgres://skipped@127.0.0.1:1/skipped'))
}

/**
 * A schema name no other run will pick: `aw_test_<pid>_<random>`.
 *
 * @example
 * const schema = uniqueSchemaName() // 'aw_test_4242_9f3c1a2b'
 */
export function uniqueSchemaName(prefix = 'aw_test'): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
}

/**
 * Drops schemas (and everything in them) made by a test run.
 *
 * @example
 * afterAll(() => dropSchemas(url, created))
 */
export async function dropSchemas(url: string, schemas: Iterable<string>): Promise<void> {
  const names = [...schemas]
  if (names.length === 0) return
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    for (const name of names) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
  } finally {
    await client.end()
  }
}

/** Fresh storage for one plugin-level test: a new schema; `connect()` opens another store on it (another process). */
export interface PostgresStoreFixture {
  connect(): QueueStore
  cleanup(): Promise<void>
}

/**
 * Storage on one schema: `connect()` opens another store on it (another
 * process, max 4 connections each); `cleanup()` closes them and drops the schema.
 *
 * @example
 * const fixture = schemaFixture(url, uniqueSchemaName('aw_upgrade'))
 */
export function schemaFixture(url: string, schema: string): PostgresStoreFixture {
  const opened: PostgresQueueStore[] = []
  return {
    connect: () => {
      const store = new PostgresQueueStore({ connectionString: url, schema, max: 4 })
      opened.push(store)
      return store
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()))
      await dropSchemas(url, [schema])
    },
  }
}

/**
 * The PostgreSQL entry for the plugin-level suites' store list: one factory
 * when there is a database; none (with the printed notice) when there is not;
 * under `CI=true` without one, a factory whose `make()` fails the tests.
 *
 * @example
 * export const storeFactories = [sqliteFactory, ...postgresStoreFactories()]
 */
export function postgresStoreFactories(): {
  name: string
  make(): Promise<PostgresStoreFixture>
}[] {
  const url = databaseUrl
  if (url) {
    return [
      {
        name: 'postgres',
        async make() {
          return schemaFixture(url, uniqueSchemaName('aw_plugin'))
        },
      },
    ]
  }
  if (process.env.CI === 'true') {
    return [
      {
        name: 'postgres',
        make: () => Promise.reject(new Error(`${SKIP_NOTICE} (CI=true requires it)`)),
      },
    ]
  }
  warnOnce()
  return []
}
