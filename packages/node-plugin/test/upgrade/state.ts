/** What the upgrade fixtures hold: the same queued state in every release's SQLite file and PostgreSQL dump. */

import type { DeadLetter, NewDelivery } from '../../src/store/types.js'

/** The clock the fixtures were written at (ms); tests run the plugin a little after it. */
export const T0 = 1_800_000_000_000
/** The schema the PostgreSQL dump was taken from; tests restore it under a name of their own. */
export const FIXTURE_SCHEMA = 'aw_upgrade_fixture'

function delivery(name: string, i: number): NewDelivery {
  const messageId = `${name}-${i}`
  const body = JSON.stringify({
    version: 1,
    type: 'track',
    event: 'Upgrade Fixture',
    userId: 'u1',
    messageId,
    properties: { i, note: 'héllo 👋' },
    timestamp: new Date(T0 - 1000).toISOString(),
  })
  return { id: `delivery-${messageId}`, body, messageId, enqueuedAt: T0 - 1000 + i }
}

/** The deliveries, by the state the release leaves them in. */
export function fixtureDeliveries(): {
  waiting: NewDelivery[]
  retrying: NewDelivery[]
  leased: NewDelivery[]
} {
  const range = (name: string, n: number) => Array.from({ length: n }, (_, i) => delivery(name, i))
  return {
    waiting: range('waiting', 17),
    retrying: range('retrying', 3),
    leased: range('leased', 4),
  }
}

/** Dead letters as that release writes them: a 400 whose body is sendable, and two unsendable events. */
export function fixtureLetters(): Omit<DeadLetter, 'queue'>[] {
  const rejected = delivery('rejected', 0)
  return [
    {
      ...rejected,
      attempts: 1,
      deadAt: T0 - 500,
      reason: 'http_4xx',
      lastStatus: 400,
      detail: 'webhooks[0]: http_4xx (HTTP 400)',
    },
    {
      // A BigInt property: that release stored the literal body "null".
      id: 'delivery-invalid-bigint',
      body: 'null',
      messageId: 'invalid-bigint',
      enqueuedAt: T0 - 400,
      attempts: 0,
      deadAt: T0 - 400,
      reason: 'invalid_payload',
      lastStatus: null,
      detail: 'Do not know how to serialize a BigInt',
    },
    {
      // A circular property: that release stored the raw event, with "[Circular]" and _metadata.
      id: 'delivery-invalid-circular',
      body: JSON.stringify({
        type: 'track',
        event: 'Circular',
        messageId: 'invalid-circular',
        properties: { self: '[Circular]' },
        _metadata: { jsRuntime: 'node' },
      }),
      messageId: 'invalid-circular',
      enqueuedAt: T0 - 300,
      attempts: 0,
      deadAt: T0 - 300,
      reason: 'invalid_payload',
      lastStatus: null,
      detail: 'Converting circular structure to JSON',
    },
  ]
}
