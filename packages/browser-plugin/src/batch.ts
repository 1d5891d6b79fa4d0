/** Batching, loaded with import() by a page that batches: packs unsent events into one request, names it, and splits a batch answered 413. */

import { assembleBatch } from '@analytics-webhooks/core/body'
import type { QueuedEvent } from './events.js'
import type { PersistedQueue, QueueEntry } from './queue.js'

export { requestId } from '@analytics-webhooks/core/request-id'

/**
 * Packs `first` (never sent) with the unsent events that follow it in `due`,
 * as many as core's `assembleBatch` lets one request carry, and stores the
 * batch under `first`'s key in place of their entries, before it is first
 * sent. What does not fit goes back to the front of `due`; a request met in
 * `due` ends the batch (it is never merged).
 *
 * @example
 * const request = pack(entry, due, queue, settings.batchSize)
 */
export function pack(
  first: QueueEntry,
  due: QueueEntry[],
  queue: PersistedQueue,
  maxEvents: number,
): QueueEntry {
  const batch = [first]
  while (due[0] && !due[0].sent && batch.length < maxEvents) {
    // Another tab may have dropped an event since the scan: read each again.
    const entry = queue.get((due.shift() as QueueEntry).id)
    if (entry) batch.push(entry)
  }
  const { body, taken } = assembleBatch(
    batch.map((entry) => entry.body),
    { maxEvents },
  )
  due.unshift(...batch.splice(taken))
  // Written before the events' own entries go: a write that storage refuses changes nothing.
  const request = queue.put({ ...first, body: body.json, sent: taken })
  for (const entry of batch.slice(1)) queue.remove(entry.id)
  return request
}

/**
 * The two requests a batch answered 413 (Payload Too Large) is split into:
 * the first half of its events (one more when they are odd), and the rest,
 * each a JSON array as `assembleBatch` writes it, with its count of events.
 *
 * @example
 * const [first, second] = split(eventsOf(request)) // { body: '[…]', sent: 3 }, { body: '[…]', sent: 2 }
 */
export function split(events: readonly QueuedEvent[]): Array<{ body: string; sent: number }> {
  const half = Math.ceil(events.length / 2)
  return [events.slice(0, half), events.slice(half)].map((part) => ({
    body: `[${part.map((event) => event.body)}]`,
    sent: part.length,
  }))
}
