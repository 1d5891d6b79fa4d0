/** The PostgreSQL queue's versioned schema: ordered migrations, applied once each under an advisory lock. */

import type { PoolClient } from 'pg'
import { PostgresStoreError } from './errors.js'

/** One forward-only schema change. `sql` receives the quoted schema name. */
export interface PostgresMigration {
  readonly version: number
  readonly name: string
  readonly sql: (schema: string) => string
}

/**
 * Every migration, oldest first. Never edit a released entry: append a new
 * one. Times are milliseconds since the epoch in `BIGINT` columns.
 */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'deliveries, dead letters and counters',
    sql: (s) => `
      CREATE TABLE ${s}.deliveries (
        queue            TEXT    NOT NULL,
        id               TEXT    NOT NULL,
        seq              BIGINT  GENERATED ALWAYS AS IDENTITY,
        body             TEXT    NOT NULL,
        message_id       TEXT,
        enqueued_at      BIGINT  NOT NULL,
        next_attempt_at  BIGINT  NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        last_reason      TEXT,
        last_status      INTEGER,
        lease_owner      TEXT,
        lease_expires_at BIGINT,
        PRIMARY KEY (queue, id)
      );
      CREATE INDEX deliveries_due ON ${s}.deliveries (queue, next_attempt_at, seq);

      CREATE TABLE ${s}.dead_letters (
        queue       TEXT    NOT NULL,
        id          TEXT    NOT NULL,
        seq         BIGINT  GENERATED ALWAYS AS IDENTITY,
        body        TEXT    NOT NULL,
        message_id  TEXT,
        enqueued_at BIGINT  NOT NULL,
        attempts    INTEGER NOT NULL,
        dead_at     BIGINT  NOT NULL,
        reason      TEXT    NOT NULL,
        last_status INTEGER,
        detail      TEXT,
        PRIMARY KEY (queue, id)
      );
      CREATE INDEX dead_letters_by_time ON ${s}.dead_letters (dead_at, seq);

      -- Sharded so that workers in many processes do not queue on one hot row.
      CREATE TABLE ${s}.counters (
        queue     TEXT     NOT NULL,
        shard     SMALLINT NOT NULL,
        delivered BIGINT   NOT NULL DEFAULT 0,
        retried   BIGINT   NOT NULL DEFAULT 0,
        PRIMARY KEY (queue, shard)
      );
    `,
  },
  {
    version: 2,
    name: 'index leased deliveries, so nextDueAt never scans the backlog',
    sql: (s) => `
      CREATE INDEX deliveries_leased ON ${s}.deliveries (queue, lease_expires_at)
        WHERE lease_expires_at IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'bind the deliveries of a failed request to it, so it is retried whole',
    sql: (s) => `
      ALTER TABLE ${s}.deliveries ADD COLUMN request_id TEXT, ADD COLUMN request_pos INTEGER;
      CREATE INDEX deliveries_request ON ${s}.deliveries (queue, request_id)
        WHERE request_id IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'never-attempted deliveries many to a row (blocks), leased and acknowledged per block',
    sql: (s) => `
      -- One row per enqueue call (up to 256 deliveries): a claim, a lease and a delete per block
      -- instead of per delivery. A delivery leaves its block as a deliveries row once it is
      -- retried, or acted on by id by a process that does not hold the block (see blocks.ts).
      -- A block is due at first_at (its oldest delivery), and claimed whole once last_at passed.
      -- ready_at: when it may next be claimed (first_at, or the lease's end while leased).
      -- lease_group: the seq of the first block one claim leased with it (its head); plan: where
      -- its requests start (JSON; NULL: each delivery alone); gone: which deliveries have an
      -- outcome ('0'/'1'), done: how many.
      CREATE TABLE ${s}.delivery_blocks (
        seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        queue       TEXT    NOT NULL,
        count       INTEGER NOT NULL,
        done        INTEGER NOT NULL DEFAULT 0,
        first_at    BIGINT  NOT NULL,
        last_at     BIGINT  NOT NULL,
        ready_at    BIGINT  NOT NULL,
        lease_owner TEXT,
        lease_group BIGINT,
        plan        TEXT,
        gone        TEXT,
        meta        TEXT    NOT NULL,
        bodies      TEXT    NOT NULL
      );
      -- Payloads out of line and uncompressed: a lease or an acknowledgement rewrites a small
      -- tuple, and no CPU goes into compressing bodies that are deleted within seconds.
      ALTER TABLE ${s}.delivery_blocks ALTER COLUMN meta SET STORAGE EXTERNAL,
                                       ALTER COLUMN bodies SET STORAGE EXTERNAL;
      CREATE INDEX delivery_blocks_ready ON ${s}.delivery_blocks (queue, ready_at, seq);
      CREATE INDEX delivery_blocks_group ON ${s}.delivery_blocks (lease_group)
        WHERE lease_group IS NOT NULL;
    `,
  },
  {
    version: 5,
    name: 'keep the W3C traceparent each delivery was tracked under',
    sql: (s) => `
      -- NULL: none. Rows only: a block keeps its deliveries' in its meta (see block.ts), and only
      -- when one of them has one. A nullable column with no default rewrites no existing row.
      ALTER TABLE ${s}.deliveries ADD COLUMN traceparent TEXT;
    `,
  },
  {
    version: 6,
    name: 'dead letters counted per queue and reason, indexed for pages; worker states',
    sql: (s) => `
      -- Writers of dead letters wait until this commits, so the counts below miss none of theirs.
      LOCK TABLE ${s}.dead_letters IN SHARE ROW EXCLUSIVE MODE;
      -- Dead letters counted per queue and reason, so stats read a few rows instead of counting
      -- them. Statement triggers keep the counts in the transaction of every change to
      -- dead_letters, whoever makes it. Each connection adds to its own shard (its backend pid
      -- mod 16), as the counters table does, so workers killing at once in many processes do not
      -- queue on one row; a shard may go below 0 (a purge by another connection), the sum never.
      CREATE TABLE ${s}.dead_counts (
        queue  TEXT     NOT NULL,
        reason TEXT     NOT NULL,
        shard  SMALLINT NOT NULL,
        n      BIGINT   NOT NULL,
        PRIMARY KEY (queue, reason, shard)
      );
      INSERT INTO ${s}.dead_counts (queue, reason, shard, n)
        SELECT queue, reason, 0, count(*) FROM ${s}.dead_letters GROUP BY queue, reason;
      CREATE FUNCTION ${s}.count_dead_letters() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Each branch reads only the transition tables its event has. Rows go in queue and
        -- reason order, so two statements never wait for each other's counts in turn.
        IF TG_OP = 'INSERT' THEN
          INSERT INTO ${s}.dead_counts AS c (queue, reason, shard, n)
          SELECT queue, reason, pg_backend_pid() % 16, count(*) FROM added
          GROUP BY queue, reason ORDER BY queue, reason
          ON CONFLICT (queue, reason, shard) DO UPDATE SET n = c.n + excluded.n;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO ${s}.dead_counts AS c (queue, reason, shard, n)
          SELECT queue, reason, pg_backend_pid() % 16, -count(*) FROM removed
          GROUP BY queue, reason ORDER BY queue, reason
          ON CONFLICT (queue, reason, shard) DO UPDATE SET n = c.n + excluded.n;
        ELSIF TG_OP = 'UPDATE' THEN
          -- A kill of an id already dead updates its letter: only a changed reason moves a count.
          INSERT INTO ${s}.dead_counts AS c (queue, reason, shard, n)
          SELECT queue, reason, pg_backend_pid() % 16, sum(delta) FROM (
            SELECT queue, reason, 1 AS delta FROM added
            UNION ALL SELECT queue, reason, -1 FROM removed
          ) AS changed
          GROUP BY queue, reason HAVING sum(delta) <> 0 ORDER BY queue, reason
          ON CONFLICT (queue, reason, shard) DO UPDATE SET n = c.n + excluded.n;
        ELSE
          DELETE FROM ${s}.dead_counts;
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER dead_letters_count_insert AFTER INSERT ON ${s}.dead_letters
        REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_dead_letters();
      CREATE TRIGGER dead_letters_count_update AFTER UPDATE ON ${s}.dead_letters
        REFERENCING OLD TABLE AS removed NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_dead_letters();
      CREATE TRIGGER dead_letters_count_delete AFTER DELETE ON ${s}.dead_letters
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_dead_letters();
      CREATE TRIGGER dead_letters_count_truncate AFTER TRUNCATE ON ${s}.dead_letters
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_dead_letters();
      -- Pages of dead letters as index range scans within a queue: newest first before a cursor
      -- (ids compared byte for byte, whatever the database's collation), by reason, by messageId.
      CREATE INDEX dead_letters_time ON ${s}.dead_letters (queue, dead_at, id COLLATE "C");
      CREATE INDEX dead_letters_reason ON ${s}.dead_letters (queue, reason, dead_at, id COLLATE "C");
      CREATE INDEX dead_letters_message ON ${s}.dead_letters (queue, message_id);
      -- Each worker's last report of what it is doing, for a dashboard in any process.
      CREATE TABLE ${s}.worker_states (
        queue       TEXT   NOT NULL,
        worker      TEXT   NOT NULL,
        state       TEXT   NOT NULL,
        until_at    BIGINT,
        reported_at BIGINT NOT NULL,
        PRIMARY KEY (queue, worker)
      );
    `,
  },
]

/** The newest schema version this code knows. */
export const POSTGRES_SCHEMA_VERSION =
  POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]?.version ?? 0

/** Arbitrary first key of the advisory lock pair, so our lock never collides with an application's. */
export const LOCK_NAMESPACE = 0x41_57_48_4b // "AWHK"

/**
 * Creates the schema and applies the missing migrations in one transaction,
 * under `pg_advisory_xact_lock`, so several processes starting together
 * apply each migration exactly once. Returns the versions it applied. Throws
 * `PostgresStoreError` `future_schema` when the database is newer than this
 * code (and changes nothing).
 *
 * @example
 * const client = await pool.connect()
 * try { await migratePostgres(client, '"analytics_webhooks"', 'analytics_webhooks') } finally { client.release() }
 */
export async function migratePostgres(
  client: PoolClient,
  quotedSchema: string,
  schemaName: string,
  migrations: readonly PostgresMigration[] = POSTGRES_MIGRATIONS,
): Promise<number[]> {
  const applied: number[] = []
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
      LOCK_NAMESPACE,
      schemaName,
    ])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quotedSchema}`)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quotedSchema}.schema_migrations (
         version    INTEGER PRIMARY KEY,
         name       TEXT    NOT NULL,
         applied_at BIGINT  NOT NULL
       )`,
    )
    const done = await client.query<{ version: number }>(
      `SELECT version FROM ${quotedSchema}.schema_migrations`,
    )
    const have = new Set(done.rows.map((r) => Number(r.version)))
    const newest = Math.max(0, ...have)
    const known = migrations[migrations.length - 1]?.version ?? 0
    if (newest > known) {
      throw new PostgresStoreError(
        'future_schema',
        `PostgreSQL queue schema ${schemaName} is at version ${newest}, newer than this plugin knows (${known}); upgrade the plugin`,
      )
    }
    for (const m of migrations) {
      if (have.has(m.version)) continue
      await client.query(m.sql(quotedSchema))
      await client.query(
        `INSERT INTO ${quotedSchema}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
        [m.version, m.name, Date.now()],
      )
      applied.push(m.version)
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
  return applied
}
