/** A request body ready to send: one event, or a batch assembled from serialised events. */

// LIMITS.maxBatchBytes, repeated rather than imported (the body tests check they agree): a
// browser loads batching lazily, and a body module that imported settings would take settings
// validation out of the page's entry chunk into a chunk of its own, with esbuild's splitting.
const MAX_BATCH_BYTES = 512 * 1024

/** The exact text of one request and what its classic signature covers. */
export interface WebhookBody {
  /** The bytes sent (as a string; UTF-8 on the wire). */
  readonly json: string
  /** The first event's JSON: what the classic `X-Signature` of a batch covers. Equals `json` for a single event. */
  readonly firstEventJson: string
  /** How many events the body carries. */
  readonly count: number
  /** `true` when `json` is a JSON array. */
  readonly isBatch: boolean
}

/**
 * The body for one serialised event.
 *
 * @example
 * singleBody('{"version":1,"type":"track"}').isBatch // false
 */
export function singleBody(eventJson: string): WebhookBody {
  return { json: eventJson, firstEventJson: eventJson, count: 1, isBatch: false }
}

/** Limits for one batch request. */
export interface BatchLimits {
  /** At most this many events (the `batchSize` setting). */
  maxEvents: number
  /** At most this many UTF-8 bytes in the body. Default 512 KB. */
  maxBytes?: number
}

/**
 * Packs serialised events, in order, into one JSON array body, taking as many
 * as fit in `maxEvents` and `maxBytes`. The first event is always taken, even
 * when it alone is larger than `maxBytes`, so no event can block the queue.
 *
 * @example
 * const { body, taken } = assembleBatch(queuedJson, { maxEvents: 100 })
 * send(body.json); markDelivered(queuedJson.slice(0, taken))
 */
export function assembleBatch(
  events: readonly string[],
  limits: BatchLimits,
): { body: WebhookBody; taken: number } {
  const first = events[0]
  if (first === undefined) throw new RangeError('assembleBatch needs at least one event')
  const taken = fitting(events, 0, limits)
  const json =
    taken === events.length ? `[${events.join(',')}]` : `[${events.slice(0, taken).join(',')}]`
  return { body: { json, firstEventJson: first, count: taken, isBatch: true }, taken }
}

/**
 * How a run of serialised events is cut into batches: the size of each, in
 * order, each as many as {@link assembleBatch} would take from where the one
 * before ended. A sender that records these sizes before sending can form the
 * same batches again after a restart, byte for byte.
 *
 * @example
 * batchSizes(queuedJson, { maxEvents: 100 }) // [100, 100, 56]
 */
export function batchSizes(events: readonly string[], limits: BatchLimits): number[] {
  const sizes: number[] = []
  for (let from = 0; from < events.length; ) {
    const taken = fitting(events, from, limits)
    sizes.push(taken)
    from += taken
  }
  return sizes
}

/** How many events from `from` on fit in one batch (at least one). */
function fitting(events: readonly string[], from: number, limits: BatchLimits): number {
  const maxEvents = Math.max(1, Math.min(limits.maxEvents, events.length - from))
  const maxBytes = limits.maxBytes ?? MAX_BATCH_BYTES
  // A UTF-16 code unit is at most 3 UTF-8 bytes: when 3x the length fits, every event fits and the
  // per-character count (most of this function's cost) is skipped.
  let units = 1 + maxEvents
  for (let i = 0; i < maxEvents; i++) units += (events[from + i] as string).length
  if (units * 3 <= maxBytes) return maxEvents
  let taken = 1
  let bytes = 2 + utf8Length(events[from] as string) // "[" + first + "]"
  while (taken < maxEvents) {
    const size = 1 + utf8Length(events[from + taken] as string) // "," + next
    if (bytes + size > maxBytes) break
    bytes += size
    taken++
  }
  return taken
}

/**
 * The number of bytes `text` takes in UTF-8, without encoding it. Lone
 * surrogates count as the 3-byte replacement character, as TextEncoder writes them.
 *
 * @example
 * utf8Length('héllo 👋') // 11
 */
export function utf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1)
      if (low >= 0xdc00 && low <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}
