/** An enqueueing process for the PostgreSQL bench: commits `count` events in groups of `group`, one transaction each, and prints its rate. */

import { randomUUID } from 'node:crypto'
import { encodeEvent } from '@analytics-webhooks/core'
import { PostgresQueueStore } from '../src/store/postgres/store.js'
import { sampleEvent } from './harness.js'

const [connectionString, schema, countText, groupText, offsetText] = process.argv.slice(2)
const count = Number(countText)
const group = Number(groupText)
const offset = Number(offsetText ?? 0)

const store = new PostgresQueueStore({
  connectionString: connectionString as string,
  schema: schema as string,
  max: 2,
})
await store.open()
// Bodies are encoded up front: this measures the commit, not JSON.
const bodies = Array.from({ length: count }, (_, i) =>
  encodeEvent({ type: 'track', ...sampleEvent(offset + i) } as never),
)
process.stdout.write('ready\n')
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()))

const start = performance.now()
for (let i = 0; i < count; i += group) {
  await store.enqueue(
    'bench',
    bodies.slice(i, i + group).map((body, j) => ({
      id: randomUUID(),
      body,
      messageId: `bench-${offset + i + j}`,
      enqueuedAt: Date.now(),
    })),
  )
}
const ms = performance.now() - start
process.stdout.write(`done ${count} ${ms.toFixed(1)}\n`)
await store.close()
process.exit(0)
