/** Runs the QueueStore contract against the in-memory reference store, written from the README's interface section alone. */

import { MemoryQueueStore } from './memory-store.js'
import { describeQueueStoreContract } from './store-contract.js'

describeQueueStoreContract('memory', async () => ({
  store: new MemoryQueueStore(),
  cleanup: async () => {},
}))
