/** The PostgreSQL test database: `DATABASE_URL`, a throwaway schema per test run, and the skip-or-fail rule when it is missing. */

import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { describe, it } from 'vitest'

/** The database the PostgreSQL tests use, from `DATABASE_URL`. */
export const databaseUrl: string | undefined = process.env.DATABASE_URL || undefined

/** The notice printed (once) when the PostgreSQL tests are skipped, and thrown under `CI=true`. */
export const SKIP_NOTICE = 'PostgreSQL tests skipped: DATABASE_URL is not set'

let warned = false

/**
 * `describe` for tests that need PostgreSQL. Without `DATABASE_URL` the block
 * is skipped with a printed notice, except under `CI=true`, where a test in
 * its place fails, so CI cannot pass without running them.
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
  if (!warned) {
    warned = true
    console.warn(SKIP_NOTICE)
  }
  describe.skip(name, () => body(''))
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
