/** PostgresStoreError is core's coded error (issue 14): its codes, its name, no password, and `future_schema` raised as one by the migrations themselves. */

import { WebhookError } from '@analytics-webhooks/core'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import {
  databaseUrl,
  describePostgres,
  dropSchemas,
  uniqueSchemaName,
} from '../../../test/postgres-database.js'
import { PostgresStoreError } from '../postgres/errors.js'
import { checkPostgresOptions } from '../postgres/options.js'
import { migratePostgres, POSTGRES_SCHEMA_VERSION } from '../postgres/schema.js'

const schemas = new Set<string>()
afterAll(async () => {
  if (databaseUrl) await dropSchemas(databaseUrl, schemas)
})

it("extends core's WebhookError, with its own name and code, and never shows a password", () => {
  const error = new PostgresStoreError(
    'connection_failed',
    'Cannot connect to postgres://app:s3cret-pw@db.example.com:5432/app',
    { cause: new Error('ECONNREFUSED') },
  )
  expect(error).toBeInstanceOf(WebhookError)
  expect(error).toBeInstanceOf(PostgresStoreError)
  expect(error).toMatchObject({ name: 'PostgresStoreError', code: 'connection_failed' })
  expect(error.message).toBe('Cannot connect to postgres://app:***@db.example.com:5432/app')
  expect(error.cause).toBeInstanceOf(Error)
})

it('is what the option checks throw', () => {
  expect(() => checkPostgresOptions({ connectionString: '' })).toThrow(
    expect.objectContaining({ name: 'PostgresStoreError', code: 'missing_connection' }),
  )
})

describePostgres('future_schema', (url) => {
  it('is a PostgresStoreError raised by the migrations, and nothing is changed', async () => {
    const schema = uniqueSchemaName()
    schemas.add(schema)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const quoted = `"${schema}"`
      await migratePostgres(client as unknown as pg.PoolClient, quoted, schema)
      const future = POSTGRES_SCHEMA_VERSION + 1
      await client.query(
        `INSERT INTO ${quoted}.schema_migrations (version, name, applied_at) VALUES ($1, 'from the future', 0)`,
        [future],
      )
      const error = await migratePostgres(client as unknown as pg.PoolClient, quoted, schema).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(PostgresStoreError)
      expect(error).toBeInstanceOf(WebhookError)
      expect(error).toMatchObject({ name: 'PostgresStoreError', code: 'future_schema' })
      expect((error as Error).message).toBe(
        `PostgreSQL queue schema ${schema} is at version ${future}, newer than this plugin knows (${POSTGRES_SCHEMA_VERSION}); upgrade the plugin`,
      )
      const { rows } = await client.query(
        `SELECT max(version) AS newest FROM ${quoted}.schema_migrations`,
      )
      expect(Number(rows[0].newest)).toBe(future)
    } finally {
      await client.end()
    }
  })
})
