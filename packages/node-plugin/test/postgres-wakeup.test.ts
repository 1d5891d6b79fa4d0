/** An idle worker on PostgreSQL is woken by another process's commit (LISTEN/NOTIFY), not by its poll timer. */

import { randomUUID } from 'node:crypto'
import { afterEach, expect, it } from 'vitest'
import { type Receiver, startReceiver } from '../src/__tests__/receiver.js'
import { webhookPlugin } from '../src/plugin.js'
import { PostgresQueueStore } from '../src/store/postgres/store.js'
import { describePostgres, dropSchemas, uniqueSchemaName } from './postgres-database.js'

describePostgres('LISTEN/NOTIFY wakes idle workers', (url) => {
  const schemas: string[] = []
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    await dropSchemas(url, schemas.splice(0))
  })

  it('a delivery committed elsewhere is sent at once, though the worker polls only every 60 s', async () => {
    const schema = uniqueSchemaName('aw_wake')
    schemas.push(schema)
    const receiver: Receiver = await startReceiver()
    cleanups.push(() => receiver.close())
    const plugin = webhookPlugin(
      { webhooks: [receiver.url] },
      { store: { postgres: { connectionString: url, schema } }, pollIntervalMs: 60_000 },
    )
    cleanups.push(() => plugin.close())
    // Nothing queued: the worker starts, finds nothing and goes to sleep for pollIntervalMs.
    expect(await plugin.drain({ timeoutMs: 5_000 })).toEqual({ drained: true, remaining: 0 })
    await new Promise((resolve) => setTimeout(resolve, 200))

    // Another process (its own store and connections) commits an event.
    const producer = new PostgresQueueStore({ connectionString: url, schema })
    cleanups.push(() => producer.close())
    await producer.open()
    const body = JSON.stringify({ type: 'track', event: 'E', messageId: 'woken', version: 1 })
    await producer.enqueue('default', [
      { id: randomUUID(), body, messageId: 'woken', enqueuedAt: Date.now() },
    ])

    await receiver.waitFor(1, 10_000)
    expect(receiver.requests.map((r) => r.body)).toEqual([body])
  })
})
