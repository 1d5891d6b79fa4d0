/** The SQLite queue's schema: its migrations, in order, and the function that applies the missing ones. */

import type Database from 'better-sqlite3'

/** Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Never edit one that shipped: append. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE deliveries (
     seq INTEGER PRIMARY KEY,
     queue TEXT NOT NULL,
     id TEXT NOT NULL UNIQUE,
     message_id TEXT,
     enqueued_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     due_at INTEGER NOT NULL,
     lease_until INTEGER NOT NULL DEFAULT 0,
     ready_at INTEGER NOT NULL,
     worker TEXT,
     last_reason TEXT,
     last_status INTEGER
   );
   CREATE INDEX deliveries_ready ON deliveries (queue, ready_at, seq);
   -- Bodies live apart, so a claim or a retry rewrites a small row, not the payload.
   CREATE TABLE delivery_bodies (
     seq INTEGER PRIMARY KEY,
     body TEXT NOT NULL
   );
   CREATE TABLE dead_letters (
     seq INTEGER PRIMARY KEY,
     queue TEXT NOT NULL,
     id TEXT NOT NULL UNIQUE,
     body TEXT NOT NULL,
     message_id TEXT,
     enqueued_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL,
     dead_at INTEGER NOT NULL,
     reason TEXT NOT NULL,
     last_status INTEGER,
     detail TEXT
   );
   CREATE INDEX dead_letters_queue ON dead_letters (queue, seq);
   CREATE TABLE queue_counters (
     queue TEXT PRIMARY KEY,
     delivered INTEGER NOT NULL DEFAULT 0,
     retried INTEGER NOT NULL DEFAULT 0
   );`,
  // Never-attempted deliveries, many to a row (see block.ts): a claim, a lease and a delete per
  // block instead of per delivery. A delivery leaves its block as a row of deliveries once it is
  // rescheduled, given back on its own, or touched by a process that does not hold the block.
  // `done` counts deliveries of a leased block already delivered or moved out, so stats skip them.
  `CREATE TABLE delivery_blocks (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     queue TEXT NOT NULL,
     count INTEGER NOT NULL,
     done INTEGER NOT NULL DEFAULT 0,
     first_at INTEGER NOT NULL,
     last_at INTEGER NOT NULL,
     due_at INTEGER NOT NULL,
     ready_at INTEGER NOT NULL,
     lease_until INTEGER NOT NULL DEFAULT 0,
     worker TEXT
   );
   CREATE INDEX delivery_blocks_ready ON delivery_blocks (queue, ready_at, seq);
   -- Payloads apart again, so a lease or a count rewrites a small row.
   CREATE TABLE delivery_block_bodies (
     seq INTEGER PRIMARY KEY,
     meta TEXT NOT NULL,
     bodies TEXT NOT NULL
   );`,
  // A failed request of several deliveries: its id and each delivery's place in it, so it is
  // claimed whole and sent again byte for byte (see QueueStore.retry).
  `ALTER TABLE deliveries ADD COLUMN request_id TEXT;
   ALTER TABLE deliveries ADD COLUMN request_pos INTEGER;
   CREATE INDEX deliveries_request ON deliveries (queue, request_id) WHERE request_id IS NOT NULL;`,
  // A claim cuts the blocks it leases into requests before sending any and records the cut, so
  // the same requests are formed again after a restart or a lease takeover (see blocks/plan.ts):
  // `lease_group` is the seq of the first block leased with it, `plan` where its requests start
  // (JSON; NULL: each delivery alone), `gone` which of its deliveries have an outcome ('0'/'1').
  `ALTER TABLE delivery_blocks ADD COLUMN lease_group INTEGER;
   ALTER TABLE delivery_blocks ADD COLUMN plan TEXT;
   ALTER TABLE delivery_blocks ADD COLUMN gone TEXT;
   CREATE INDEX delivery_blocks_group ON delivery_blocks (lease_group) WHERE lease_group IS NOT NULL;`,
  // The W3C traceparent a delivery was tracked under (NULL: none), so its attempts link to that
  // trace in whichever process sends them. Rows only: a block keeps its deliveries' in its meta
  // (see block.ts), and only when one of them has one. Adding a nullable column rewrites nothing.
  `ALTER TABLE deliveries ADD COLUMN traceparent TEXT;`,
  // For a dashboard on a large backlog. Dead letters are counted per queue and reason by triggers,
  // so stats read a few rows instead of counting them, and every writer keeps the counts exact,
  // also a process of an earlier release sharing the file (it opens a newer file without
  // migrating). Rows whose count fell to 0 stay; readers skip them. Pages of dead letters are
  // index range scans: by time, by reason and time, or by messageId, within a queue. Worker
  // states: each worker's last report, so another process can show what it is doing.
  `CREATE TABLE dead_counts (
     queue TEXT NOT NULL,
     reason TEXT NOT NULL,
     n INTEGER NOT NULL,
     PRIMARY KEY (queue, reason)
   ) WITHOUT ROWID;
   INSERT INTO dead_counts (queue, reason, n)
     SELECT queue, reason, count(*) FROM dead_letters GROUP BY queue, reason;
   CREATE TRIGGER dead_letters_count_insert AFTER INSERT ON dead_letters BEGIN
     INSERT INTO dead_counts (queue, reason, n) VALUES (NEW.queue, NEW.reason, 1)
       ON CONFLICT (queue, reason) DO UPDATE SET n = n + 1;
   END;
   CREATE TRIGGER dead_letters_count_delete AFTER DELETE ON dead_letters BEGIN
     UPDATE dead_counts SET n = n - 1 WHERE queue = OLD.queue AND reason = OLD.reason;
   END;
   CREATE TRIGGER dead_letters_count_update AFTER UPDATE OF queue, reason ON dead_letters
   WHEN NEW.queue IS NOT OLD.queue OR NEW.reason IS NOT OLD.reason BEGIN
     UPDATE dead_counts SET n = n - 1 WHERE queue = OLD.queue AND reason = OLD.reason;
     INSERT INTO dead_counts (queue, reason, n) VALUES (NEW.queue, NEW.reason, 1)
       ON CONFLICT (queue, reason) DO UPDATE SET n = n + 1;
   END;
   CREATE INDEX dead_letters_time ON dead_letters (queue, dead_at, id);
   CREATE INDEX dead_letters_reason ON dead_letters (queue, reason, dead_at, id);
   CREATE INDEX dead_letters_message ON dead_letters (queue, message_id);
   CREATE TABLE worker_states (
     queue TEXT NOT NULL,
     worker TEXT NOT NULL,
     state TEXT NOT NULL,
     until_at INTEGER,
     reported_at INTEGER NOT NULL,
     PRIMARY KEY (queue, worker)
   ) WITHOUT ROWID;`,
]

/** The newest schema version this code knows (`PRAGMA user_version` once migrated). */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length

/**
 * Applies the migrations this database has not run yet, up to `version`
 * (the newest by default; tests make files of earlier versions), in one
 * immediate transaction (the write lock), so processes opening one file at
 * once migrate it once.
 *
 * @example
 * const db = new Database(path)
 * migrate(db)
 */
export function migrate(db: Database.Database, version = SQLITE_SCHEMA_VERSION): void {
  if ((db.pragma('user_version', { simple: true }) as number) >= version) return
  db.transaction(() => {
    // Re-read inside the write lock: another process may have migrated meanwhile.
    const current = db.pragma('user_version', { simple: true }) as number
    for (let v = current; v < version; v++) {
      db.exec(MIGRATIONS[v] as string)
      db.pragma(`user_version = ${v + 1}`)
    }
  }).immediate()
}
