/** The stores the plugin-level delivery suites run against; each store's owner appends its entry here. */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postgresStoreFactories } from '../../test/postgres-database.js'
import { SqliteQueueStore } from '../store/sqlite/store.js'
import type { QueueStore } from '../store/types.js'

/** Fresh, empty storage for one test; `connect()` gives a new, unopened store on it (call it again to act as a restarted process). */
export interface StoreFixture {
  connect(): QueueStore
  cleanup(): Promise<void>
}

/** A named way to make {@link StoreFixture}s. */
export interface StoreFactory {
  readonly name: string
  make(): Promise<StoreFixture>
}

/** Every store the behavioural suites run against. */
export const storeFactories: StoreFactory[] = [
  {
    name: 'sqlite',
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'aw-plugin-'))
      const path = join(dir, 'queue.sqlite')
      return {
        connect: () => new SqliteQueueStore({ path }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      }
    },
  },
  // PostgreSQL when DATABASE_URL is set (skipped with a notice otherwise; a failure under CI=true).
  ...postgresStoreFactories(),
]
