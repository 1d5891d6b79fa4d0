/** Names one request (its `webhook-id`) from the messageIds of the events it carries, in order. */

/**
 * The id of the request that carries events with these `messageIds`, in this
 * order: the `webhook-id` of its Standard Webhooks signature, the same on
 * every retry. Senders name their requests with it, so a batch has the same
 * name in Node and in browsers.
 *
 * - One event: its `messageId`, unchanged (what receivers already dedupe on).
 * - Several: `batch_<first messageId>_<count>_<hash>`, where `<hash>` is a
 *   53-bit cyrb53 hash, in base36, of every messageId in order.
 *
 * It is a pure function of the ordered members, so a sender never has to
 * store it: the same batch gets the same id on every retry, after a restart
 * or a page reload, on every store and in every runtime (no crypto, no
 * clock). Batches that differ in any member, in their order or in their
 * count get different ids, so two bodies never share one (as long as a
 * messageId names one event, which receivers rely on anyway). The first
 * messageId and the count are kept in clear so a receiver's logs can be read
 * without the hash.
 *
 * @example
 * requestId(['ajs-next-1']) // 'ajs-next-1'
 * requestId(['ajs-next-1', 'ajs-next-2', 'ajs-next-3']) // 'batch_ajs-next-1_3_' + a base36 hash of all three
 */
export function requestId(messageIds: readonly string[]): string {
  const [first] = messageIds
  if (first === undefined) throw new RangeError('requestId needs at least one messageId')
  if (messageIds.length === 1) return first
  // cyrb53 (bryc, public domain): two 32-bit multiplicative lanes mixed at the end. Not a
  // cryptographic hash, nor does it need to be: it tells apart batches a sender formed itself.
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (const id of messageIds) {
    // Each id's length goes in before its characters, so ['ab', 'c'] and ['a', 'bc'] differ.
    for (let i = -1; i < id.length; i++) {
      const code = i < 0 ? id.length : id.charCodeAt(i)
      h1 = Math.imul(h1 ^ code, 2654435761)
      h2 = Math.imul(h2 ^ code, 1597334677)
    }
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  const hash = 4294967296 * (h2 & 0x1fffff) + (h1 >>> 0)
  return `batch_${first}_${messageIds.length}_${hash.toString(36)}`
}
