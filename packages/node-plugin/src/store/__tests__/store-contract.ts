/** The behaviour every QueueStore must have, as a reusable suite each store's test file runs against its own store. */

import { randomBytes, randomUUID } from 'node:crypto'
import type { ReasonCode } from '@analytics-webhooks/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type {
  ClaimedRequest,
  DeadCursor,
  DeadLetter,
  DeadListOptions,
  NewDelivery,
  QueueStats,
  QueueStore,
  WorkerState,
} from '../types.js'
import { byIds, claimFlat, flatten, membersOf, requestOf } from './requests.js'

/** Makes a fresh, empty store (not yet opened) and a way to throw it away. */
export type StoreFactory<S extends QueueStore = QueueStore> = () => Promise<{
  store: S
  cleanup(): Promise<void>
}>

/**
 * Another store (not yet opened) on the queue `store` keeps, as a process
 * started after a restart would open it: for stores whose queue outlives them.
 */
export type ReopenStore<S extends QueueStore> = (store: S) => QueueStore

const T0 = 1_700_000_000_000
const LEASE = { leaseMs: 30_000, worker: 'w1' }

function delivery(n: number, enqueuedAt = T0): NewDelivery {
  return {
    id: randomUUID(),
    body: JSON.stringify({ type: 'track', n }),
    messageId: `m${n}`,
    enqueuedAt,
  }
}

function deliveries(count: number, enqueuedAt = T0): NewDelivery[] {
  return Array.from({ length: count }, (_, i) => delivery(i, enqueuedAt + i))
}

/** A fresh, well-formed W3C traceparent (sampled or not), as a tracer writes one. */
function newTraceparent(): string {
  const flags = ((randomBytes(1)[0] as number) & 1) === 1 ? '01' : '00'
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-${flags}`
}

/**
 * `count` deliveries tracked in turn under a span, with no span (no
 * `traceparent` at all), and with `traceparent: null`.
 */
function mixed(count: number, enqueuedAt = T0): NewDelivery[] {
  return deliveries(count, enqueuedAt).map((d, i) => {
    if (i % 3 === 0) return { ...d, traceparent: newTraceparent() }
    return i % 3 === 1 ? d : { ...d, traceparent: null }
  })
}

/** The traceparent each claimed delivery carries, by id. */
function traceparentsOf(requests: readonly ClaimedRequest[]): Record<string, unknown> {
  return Object.fromEntries(flatten(requests).map((d) => [d.id, d.traceparent]))
}

/** What a store must give back for each delivery, by id: its traceparent, or `null` when it had none. */
function expectedTraceparents(items: readonly NewDelivery[]): Record<string, string | null> {
  return Object.fromEntries(items.map((d) => [d.id, d.traceparent ?? null]))
}

/** A dead letter as `enqueueDead` takes it, with a sendable body unless `extra` says otherwise. */
function letter(
  id: string,
  deadAt: number,
  reason: ReasonCode,
  extra: Partial<Omit<DeadLetter, 'queue'>> = {},
): Omit<DeadLetter, 'queue'> {
  return {
    id,
    body: JSON.stringify({ type: 'track', messageId: `m-${id}` }),
    messageId: `m-${id}`,
    enqueuedAt: T0,
    attempts: 1,
    deadAt,
    reason,
    lastStatus: null,
    detail: null,
    ...extra,
  }
}

/** The ids of `letters` in the order pages before a cursor give them: latest `deadAt` first, then highest id, byte for byte. */
function newestFirst(letters: readonly Pick<DeadLetter, 'id' | 'deadAt'>[]): string[] {
  return [...letters]
    .sort((a, b) => b.deadAt - a.deadAt || Buffer.compare(Buffer.from(b.id), Buffer.from(a.id)))
    .map((l) => l.id)
}

/** The cursor before every letter: where the newest page starts. */
const NEWEST: DeadCursor = { deadAt: Number.MAX_SAFE_INTEGER, id: '' }

/** Reads every page of `limit` letters, each before the last letter of the one before, until one is empty; returns the ids in page order. */
async function walkPages(
  store: QueueStore,
  options: Omit<DeadListOptions, 'before' | 'limit'>,
  limit: number,
): Promise<string[]> {
  const ids: string[] = []
  let before = NEWEST
  for (let pages = 0; pages < 1000; pages++) {
    const page = await store.listDead({ ...options, limit, before })
    expect(page.length).toBeLessThanOrEqual(limit)
    const last = page.at(-1)
    if (last === undefined) return ids
    ids.push(...page.map((l) => l.id))
    before = { deadAt: last.deadAt, id: last.id }
  }
  throw new Error('the pages never ended')
}

/** `dead` and `deadByReason` as the letters themselves say, of one queue or all. */
async function countLetters(
  store: QueueStore,
  queue?: string,
): Promise<Pick<QueueStats, 'dead' | 'deadByReason'>> {
  const letters = await store.listDead({ ...(queue === undefined ? {} : { queue }), limit: 10_000 })
  const deadByReason: Partial<Record<ReasonCode, number>> = {}
  for (const l of letters) deadByReason[l.reason] = (deadByReason[l.reason] ?? 0) + 1
  return { dead: letters.length, deadByReason }
}

/** Checks that a queue's `stats()` (and the stats of all queues) count exactly its dead letters, and returns them. */
async function expectDeadCounts(
  store: QueueStore,
  queue: string,
  expected: Pick<QueueStats, 'dead' | 'deadByReason'>,
): Promise<void> {
  const { dead, deadByReason } = await store.stats(queue)
  expect({ dead, deadByReason }).toEqual(expected)
  expect({ dead, deadByReason }).toEqual(await countLetters(store, queue))
  const all = await store.stats()
  expect({ dead: all.dead, deadByReason: all.deadByReason }).toEqual(await countLetters(store))
}

/**
 * Registers the QueueStore contract for a store. Every store implementation
 * runs it from its own test file. With `reopen` (a durable store), what
 * must survive a restart is tested too.
 *
 * @example
 * describeQueueStoreContract(
 *   'sqlite',
 *   async () => {
 *     const dir = mkdtempSync(join(tmpdir(), 'q-'))
 *     return { store: new SqliteQueueStore({ path: join(dir, 'q.sqlite') }), cleanup: async () => rmSync(dir, { recursive: true }) }
 *   },
 *   (store) => new SqliteQueueStore({ path: store.path }),
 * )
 */
export function describeQueueStoreContract<S extends QueueStore>(
  name: string,
  makeStore: StoreFactory<S>,
  reopen?: ReopenStore<S>,
): void {
  describe(`QueueStore contract: ${name}`, () => {
    let store: S
    let cleanup: () => Promise<void>

    beforeEach(async () => {
      const made = await makeStore()
      store = made.store
      cleanup = made.cleanup
      await store.open()
    })

    afterEach(async () => {
      await store.close()
      await cleanup()
    })

    describe('open', () => {
      it('can be called again on an open store', async () => {
        await store.open()
        expect(await store.nextDueAt('q')).toBeNull()
      })
    })

    describe('enqueue and claim', () => {
      it('claims what was enqueued, byte for byte, oldest first', async () => {
        const items = deliveries(3)
        const body = '{"version":1,"type":"track","properties":{"emoji":"👋","quote":"\\""}}'
        const special = { ...delivery(9, T0 - 10), body }
        await store.enqueue('q', [...items, special])
        const claimed = await store.claim('q', { limit: 10, now: T0 + 100, ...LEASE })
        expect(membersOf(claimed)).toEqual([[special.id], ...items.map((d) => [d.id])])
        expect(claimed.map((r) => r.batch)).toEqual([false, false, false, false])
        expect(claimed[0]).toMatchObject({
          deliveries: [{ id: special.id, body, messageId: 'm9', enqueuedAt: T0 - 10 }],
          batch: false,
          attempts: 0,
          enqueuedAt: T0 - 10,
          lastReason: null,
          lastStatus: null,
        })
      })

      it('keeps a null messageId (delete notifications have none)', async () => {
        await store.enqueue('q', [{ ...delivery(1), messageId: null }])
        const [claimed] = await claimFlat(store, 'q', { limit: 1, now: T0, ...LEASE })
        expect(claimed?.messageId).toBeNull()
      })

      it('claims at most `limit`, and only what is due', async () => {
        await store.enqueue('q', deliveries(5))
        await store.enqueue('q', [delivery(99, T0 + 10_000)])
        expect(await claimFlat(store, 'q', { limit: 2, now: T0 + 100, ...LEASE })).toHaveLength(2)
        expect(await claimFlat(store, 'q', { limit: 10, now: T0 + 100, ...LEASE })).toHaveLength(3)
        expect(await claimFlat(store, 'q', { limit: 10, now: T0 + 100, ...LEASE })).toHaveLength(0)
        expect(await claimFlat(store, 'q', { limit: 10, now: T0 + 10_000, ...LEASE })).toHaveLength(
          1,
        )
      })

      it('enqueues nothing for an empty list', async () => {
        await store.enqueue('q', [])
        expect(await store.nextDueAt('q')).toBeNull()
      })

      it('commits a large group in one call', async () => {
        await store.enqueue('q', deliveries(2000))
        const stats = await store.stats('q')
        expect(stats.queued).toBe(2000)
      })
    })

    describe('leases', () => {
      it('a leased delivery is not claimed again while the lease lives', async () => {
        await store.enqueue('q', deliveries(1))
        expect(
          await claimFlat(store, 'q', { limit: 1, now: T0, leaseMs: 1000, worker: 'a' }),
        ).toHaveLength(1)
        expect(
          await claimFlat(store, 'q', { limit: 1, now: T0 + 999, leaseMs: 1000, worker: 'b' }),
        ).toHaveLength(0)
      })

      it('an expired lease (a dead worker) is claimed again, attempts unchanged', async () => {
        const [item] = deliveries(1)
        await store.enqueue('q', [item as NewDelivery])
        await store.claim('q', { limit: 1, now: T0, leaseMs: 1000, worker: 'dead' })
        const again = await store.claim('q', {
          limit: 1,
          now: T0 + 1000,
          leaseMs: 1000,
          worker: 'b',
        })
        expect(membersOf(again)).toEqual([[item?.id]])
        expect(again[0]?.attempts).toBe(0)
      })

      it('nextDueAt counts a lease as claimable when it expires', async () => {
        await store.enqueue('q', deliveries(1))
        await store.claim('q', { limit: 1, now: T0, leaseMs: 5000, worker: 'a' })
        expect(await store.nextDueAt('q')).toBe(T0 + 5000)
      })

      it('release gives the delivery back, due as before, without an attempt', async () => {
        const [item] = deliveries(1)
        await store.enqueue('q', [item as NewDelivery])
        const claimed = await store.claim('q', { limit: 1, now: T0 + 5, ...LEASE })
        await store.release('q', claimed)
        expect(await store.nextDueAt('q')).toBe(T0)
        const again = await store.claim('q', { limit: 1, now: T0 + 5, ...LEASE })
        expect(membersOf(again)).toEqual([[item?.id]])
        expect(again[0]?.attempts).toBe(0)
      })
    })

    describe('complete', () => {
      it('removes delivered deliveries and counts them', async () => {
        const items = deliveries(3)
        await store.enqueue('q', items)
        const claimed = await store.claim('q', { limit: 3, now: T0 + 10, ...LEASE })
        expect(membersOf(claimed)).toEqual(items.map((d) => [d.id]))
        await store.complete('q', claimed.slice(0, 2))
        const stats = await store.stats('q')
        expect(stats.delivered).toBe(2)
        expect(stats.queued + stats.inFlight).toBe(1)
        await store.complete('q', claimed.slice(2))
        expect(await store.nextDueAt('q')).toBeNull()
      })

      it('ignores ids it does not hold (completed twice)', async () => {
        const items = deliveries(1)
        await store.enqueue('q', items)
        await store.complete('q', [requestOf(items[0] as NewDelivery)])
        await store.complete('q', [requestOf(items[0] as NewDelivery), byIds('unknown')])
        expect((await store.stats('q')).delivered).toBe(1)
      })
    })

    describe('retry', () => {
      it('schedules the next attempt and records the reason', async () => {
        const [item] = deliveries(1)
        await store.enqueue('q', [item as NewDelivery])
        const [claimed] = await store.claim('q', { limit: 1, now: T0, ...LEASE })
        await store.retry('q', claimed as ClaimedRequest, {
          at: T0 + 2000,
          attempts: 1,
          reason: 'http_5xx',
          status: 503,
        })
        expect(await store.nextDueAt('q')).toBe(T0 + 2000)
        expect(await store.claim('q', { limit: 1, now: T0 + 1999, ...LEASE })).toHaveLength(0)
        const again = await store.claim('q', { limit: 1, now: T0 + 2000, ...LEASE })
        expect(again).toMatchObject([
          {
            deliveries: [item],
            batch: false,
            attempts: 1,
            enqueuedAt: item?.enqueuedAt,
            lastReason: 'http_5xx',
            lastStatus: 503,
          },
        ])
        const stats = await store.stats('q')
        expect(stats.retried).toBe(1)
      })

      it("binds a failed request's deliveries: claimed all together, in their places, past the limit, by one worker", async () => {
        const items = deliveries(5)
        const id = (i: number) => items[i]?.id as string
        const item = (i: number) => items[i] as NewDelivery
        await store.enqueue('q', items)
        await store.claim('q', { limit: 5, now: T0, ...LEASE })
        const failed = { at: T0 + 100, attempts: 1, reason: 'http_5xx' as const, status: 500 }
        // Sent as [3, 1, 4] under one id; 0 and 2 were sent alone.
        await store.retry('q', requestOf(item(3), item(1), item(4)), {
          ...failed,
          requestId: 'req-1',
        })
        await store.retry('q', requestOf(item(0)), failed)
        await store.retry('q', requestOf(item(2)), { ...failed, requestId: null })

        const alone = await store.claim('q', { limit: 1, now: T0 + 100, ...LEASE })
        expect(membersOf(alone)).toEqual([[id(0)]])
        expect(alone[0]).toMatchObject({ batch: false, attempts: 1 })
        // Past the limit: the whole request, in its body order.
        const request = await store.claim('q', { limit: 1, now: T0 + 100, ...LEASE })
        expect(membersOf(request)).toEqual([[id(3), id(1), id(4)]])
        expect(request[0]).toMatchObject({
          batch: true,
          attempts: 1,
          enqueuedAt: item(1).enqueuedAt,
          lastReason: 'http_5xx',
          lastStatus: 500,
        })
        // Leased whole: another worker gets only what is left.
        const other = await store.claim('q', {
          limit: 5,
          now: T0 + 200,
          leaseMs: 1000,
          worker: 'w2',
        })
        expect(membersOf(other)).toEqual([[id(2)]])
        expect(other[0]?.batch).toBe(false)
        // Given back, it is due again as the same request.
        await store.release('q', request)
        const again = await store.claim('q', { limit: 1, now: T0 + 300, ...LEASE })
        expect(membersOf(again)).toEqual([[id(3), id(1), id(4)]])
        expect(again[0]).toMatchObject({ batch: true, attempts: 1 })
      })

      it('with batchSize above 1, binds what it claims to requests before returning, and a takeover gets the same requests', async () => {
        const items = [...deliveries(4), ...deliveries(3, T0 + 10)]
        await store.enqueue('q', items.slice(0, 4))
        await store.enqueue('q', items.slice(4))
        const claimed = await store.claim('q', {
          limit: 10,
          now: T0 + 100,
          leaseMs: 1000,
          worker: 'dies',
          batchSize: 3,
        })
        const ids = (range: readonly NewDelivery[]) => range.map((d) => d.id)
        // Cut in claim order, across the two enqueue calls: 3 + 3 + 1, each sent as an array.
        const cut = [ids(items.slice(0, 3)), ids(items.slice(3, 6)), ids(items.slice(6))]
        expect(membersOf(claimed)).toEqual(cut)
        expect(claimed.map((r) => [r.batch, r.attempts])).toEqual([
          [true, 0],
          [true, 0],
          [true, 0],
        ])
        /** Who went out together, in the order of their first delivery. */
        const requests = (claims: readonly ClaimedRequest[]) => {
          for (const r of claims) expect([r.batch, r.attempts]).toEqual([true, 0])
          const first = (members: string[]) => items.findIndex((d) => d.id === members[0])
          return membersOf(claims).sort((a, b) => first(a) - first(b))
        }
        // The worker died after sending, before recording anything. Another worker, with another
        // batch size, takes the leases over once they expire, and forms the very same requests.
        const taken = await store.claim('q', {
          limit: 2,
          now: T0 + 1100,
          leaseMs: 1000,
          worker: 'takes-over',
          batchSize: 5,
        })
        const more = await store.claim('q', {
          limit: 10,
          now: T0 + 1100,
          leaseMs: 1000,
          worker: 'takes-over',
          batchSize: 5,
        })
        expect(requests([...taken, ...more])).toEqual(cut)
        // Given back, and claimed again: still the same requests.
        await store.release('q', [...taken, ...more])
        const again = await store.claim('q', { limit: 10, now: T0 + 1200, ...LEASE, batchSize: 2 })
        expect(requests(again)).toEqual(cut)
      })

      it('with batchSize 1 (the default), binds nothing: each delivery is sent alone', async () => {
        const items = deliveries(3)
        await store.enqueue('q', items)
        const claimed = await store.claim('q', { limit: 10, now: T0 + 100, ...LEASE, batchSize: 1 })
        expect(claimed.map((r) => [r.deliveries.map((d) => d.id), r.batch])).toEqual(
          items.map((d) => [[d.id], false]),
        )
      })

      it('acknowledges the halves of a request the worker split (after a 413) by their deliveries', async () => {
        const items = deliveries(4)
        await store.enqueue('q', items)
        const [request] = await store.claim('q', { limit: 4, now: T0 + 3, ...LEASE, batchSize: 4 })
        expect(membersOf([request as ClaimedRequest])).toEqual([items.map((d) => d.id)])
        const half = (from: number, to: number): ClaimedRequest => ({
          ...(request as ClaimedRequest),
          deliveries: request?.deliveries.slice(from, to) ?? [],
        })
        await store.complete('q', [half(0, 2)])
        await store.retry('q', half(2, 4), {
          at: T0 + 10,
          requestId: 'second-half',
          attempts: 1,
          reason: 'http_5xx',
          status: 502,
        })
        expect(await store.stats('q')).toMatchObject({ delivered: 2, queued: 2, inFlight: 0 })
        const again = await store.claim('q', { limit: 1, now: T0 + 10, ...LEASE, batchSize: 1 })
        expect(membersOf(again)).toEqual([[items[2]?.id, items[3]?.id]])
        expect(again[0]).toMatchObject({ batch: true, attempts: 1, lastStatus: 502 })
      })

      it('counts waiting deliveries with a failed attempt as retrying', async () => {
        const items = deliveries(2)
        await store.enqueue('q', items)
        const claimed = await store.claim('q', { limit: 2, now: T0, ...LEASE })
        await store.retry('q', claimed[0] as ClaimedRequest, {
          at: T0 + 1,
          attempts: 1,
          reason: 'timeout',
          status: null,
        })
        await store.release('q', claimed.slice(1))
        const stats = await store.stats('q')
        expect(stats.retrying).toBe(1)
        expect(stats.queued).toBe(2)
      })
    })

    describe('kill and the dead-letter store', () => {
      it('moves deliveries to the dead-letter store with reason, status, attempts and detail', async () => {
        const [item] = deliveries(1)
        await store.enqueue('q', [item as NewDelivery])
        const claimed = await store.claim('q', { limit: 1, now: T0, ...LEASE })
        await store.kill('q', claimed, {
          now: T0 + 50,
          attempts: 1,
          reason: 'http_4xx',
          status: 400,
          detail: 'webhooks[0]: HTTP 400',
        })
        expect(await store.nextDueAt('q')).toBeNull()
        const dead = await store.listDead({ queue: 'q' })
        expect(dead).toEqual([
          {
            id: item?.id,
            body: item?.body,
            messageId: item?.messageId,
            enqueuedAt: item?.enqueuedAt,
            queue: 'q',
            attempts: 1,
            deadAt: T0 + 50,
            reason: 'http_4xx',
            lastStatus: 400,
            detail: 'webhooks[0]: HTTP 400',
          },
        ])
        const stats = await store.stats('q')
        expect(stats.dead).toBe(1)
        expect(stats.deadByReason).toEqual({ http_4xx: 1 })
      })

      it('enqueueDead stores a letter without a queued delivery (invalid payloads)', async () => {
        await store.enqueueDead('q', [
          {
            id: 'bad-1',
            body: '{"type":"track"}',
            messageId: 'm-bad',
            enqueuedAt: T0,
            attempts: 0,
            deadAt: T0,
            reason: 'invalid_payload',
            lastStatus: null,
            detail: 'contains a circular reference',
          },
        ])
        expect(await store.nextDueAt('q')).toBeNull()
        const [letter] = await store.listDead()
        expect(letter).toMatchObject({
          id: 'bad-1',
          queue: 'q',
          reason: 'invalid_payload',
          detail: 'contains a circular reference',
        })
        expect((await store.stats('q')).deadByReason).toEqual({ invalid_payload: 1 })
      })

      it('lists with limit and offset in the order they died', async () => {
        const items = deliveries(5)
        await store.enqueue('q', items)
        for (const [i, item] of items.entries()) {
          await store.kill('q', [requestOf(item)], {
            now: T0 + i,
            attempts: 1,
            reason: 'expired',
            status: null,
            detail: null,
          })
        }
        const page = await store.listDead({ queue: 'q', limit: 2, offset: 1 })
        expect(page.map((l) => l.id)).toEqual([items[1]?.id, items[2]?.id])
      })

      it('replays one letter: due now, attempts reset, a fresh window', async () => {
        const items = deliveries(2)
        await store.enqueue('q', items)
        const ids = items.map((d) => d.id)
        await store.kill(
          'q',
          items.map((d) => requestOf(d)),
          {
            now: T0,
            attempts: 3,
            reason: 'http_4xx',
            status: 404,
            detail: null,
          },
        )
        expect(await store.replayDead({ ids: [ids[0] as string] }, { now: T0 + 9000 })).toEqual({
          replayed: 1,
          unsendable: 0,
        })
        const replayed = await store.claim('q', { limit: 5, now: T0 + 9000, ...LEASE })
        expect(replayed).toMatchObject([
          {
            deliveries: [{ id: ids[0], enqueuedAt: T0 + 9000, body: items[0]?.body }],
            batch: false,
            attempts: 0,
            enqueuedAt: T0 + 9000,
            lastReason: null,
            lastStatus: null,
          },
        ])
        expect((await store.listDead()).map((l) => l.id)).toEqual([ids[1]])
      })

      it('replays all letters of one queue, not the others', async () => {
        await store.enqueue('a', deliveries(2))
        await store.enqueue('b', deliveries(1))
        for (const q of ['a', 'b']) {
          const claimed = await store.claim(q, { limit: 5, now: T0 + 10, ...LEASE })
          await store.kill(q, claimed, {
            now: T0,
            attempts: 1,
            reason: 'tls',
            status: null,
            detail: null,
          })
        }
        expect(await store.replayDead({ all: true }, { now: T0, queue: 'a' })).toEqual({
          replayed: 2,
          unsendable: 0,
        })
        expect(await store.nextDueAt('a')).toBe(T0)
        expect(await store.nextDueAt('b')).toBeNull()
        expect((await store.listDead()).map((l) => l.queue)).toEqual(['b'])
      })

      it('never replays a letter with no sendable body: invalid_payload, or an empty body', async () => {
        const [sendable] = deliveries(1)
        await store.enqueue('q', [sendable as NewDelivery])
        await store.kill('q', [requestOf(sendable as NewDelivery)], {
          now: T0,
          attempts: 1,
          reason: 'http_4xx',
          status: 400,
          detail: null,
        })
        const unsendable = (id: string, body: string) => ({
          id,
          body,
          messageId: id,
          enqueuedAt: T0,
          attempts: 0,
          deadAt: T0,
          reason: 'invalid_payload' as const,
          lastStatus: null,
          detail: 'contains a BigInt value',
        })
        // What this release stores (no body), and what earlier ones did (a best-effort rendering).
        await store.enqueueDead('q', [unsendable('empty', ''), unsendable('rendered', 'null')])
        expect(await store.replayDead({ ids: ['rendered'] }, { now: T0 })).toEqual({
          replayed: 0,
          unsendable: 1,
        })
        expect(await store.replayDead({ all: true }, { now: T0 })).toEqual({
          replayed: 1,
          unsendable: 2,
        })
        const claimed = await claimFlat(store, 'q', { limit: 5, now: T0, ...LEASE })
        expect(claimed.map((d) => [d.id, d.body])).toEqual([[sendable?.id, sendable?.body]])
        expect((await store.listDead()).map((l) => l.id).sort()).toEqual(['empty', 'rendered'])
      })

      it('replaying or purging an unknown id changes nothing', async () => {
        expect(await store.replayDead({ ids: ['nope'] }, { now: T0 })).toEqual({
          replayed: 0,
          unsendable: 0,
        })
        expect(await store.purgeDead({ ids: ['nope'] })).toBe(0)
      })

      it('purges one or all', async () => {
        const items = deliveries(3)
        await store.enqueue('q', items)
        await store.kill(
          'q',
          items.map((d) => requestOf(d)),
          {
            now: T0,
            attempts: 1,
            reason: 'http_3xx',
            status: 301,
            detail: null,
          },
        )
        expect(await store.purgeDead({ ids: [items[0]?.id as string] })).toBe(1)
        expect(await store.purgeDead({ all: true }, { queue: 'other' })).toBe(0)
        expect(await store.purgeDead({ all: true })).toBe(2)
        expect(await store.listDead()).toEqual([])
        expect((await store.stats('q')).dead).toBe(0)
      })
    })

    describe('dead letters by reason and by messageId', () => {
      /** Letters of queues a and b, each dying a millisecond after the one before. */
      const fill = async () => {
        await store.enqueueDead('a', [
          letter('a0', T0, 'http_4xx', { messageId: 'm1' }),
          letter('a1', T0 + 1, 'timeout', { messageId: 'm10' }),
          letter('a2', T0 + 2, 'http_4xx', { messageId: 'M1' }),
          letter('a3', T0 + 3, 'expired', { messageId: null }),
          letter('a4', T0 + 4, 'http_4xx', { messageId: 'm1' }),
        ])
        await store.enqueueDead('b', [
          letter('b0', T0 + 5, 'http_4xx', { messageId: 'm1' }),
          letter('b1', T0 + 6, 'timeout', { messageId: 'm2' }),
        ])
      }
      const ids = (letters: readonly DeadLetter[]) => letters.map((l) => l.id)

      it('lists only the letters of a reason, of one queue or all, in the order they died', async () => {
        await fill()
        expect(ids(await store.listDead({ queue: 'a', reason: 'http_4xx' }))).toEqual([
          'a0',
          'a2',
          'a4',
        ])
        expect(ids(await store.listDead({ reason: 'http_4xx' }))).toEqual(['a0', 'a2', 'a4', 'b0'])
        expect(ids(await store.listDead({ reason: 'timeout', queue: 'b' }))).toEqual(['b1'])
        expect(await store.listDead({ reason: 'tls' })).toEqual([])
        const page = await store.listDead({ reason: 'http_4xx', limit: 2, offset: 1 })
        expect(ids(page)).toEqual(['a2', 'a4'])
        expect(page[0]).toMatchObject({ queue: 'a', reason: 'http_4xx', messageId: 'M1' })
      })

      it('lists only the letters whose messageId is exactly the one given', async () => {
        await fill()
        expect(ids(await store.listDead({ messageId: 'm1' }))).toEqual(['a0', 'a4', 'b0'])
        expect(ids(await store.listDead({ queue: 'b', messageId: 'm1' }))).toEqual(['b0'])
        expect(ids(await store.listDead({ messageId: 'm1', reason: 'timeout' }))).toEqual([])
        expect(ids(await store.listDead({ messageId: 'm10' }))).toEqual(['a1'])
        expect(await store.listDead({ messageId: 'm' })).toEqual([])
      })
    })

    describe('dead letters in pages before a cursor', () => {
      /**
       * 40 letters over two queues and three reasons, dying in four distinct
       * milliseconds, so most share their moment with others: ids that sort
       * differently byte for byte and in a language's collation (case,
       * `-` and `_`), and random UUIDs.
       */
      const fill = async () => {
        const odd = ['A1', 'a-1', 'a1', 'a_1', 'b', 'B', 'a.1', 'a 1']
        const made: DeadLetter[] = []
        for (const [queue, offset] of [
          ['a', 0],
          ['b', 20],
        ] as const) {
          const letters = Array.from({ length: 20 }, (_, i) => {
            const reasons: ReasonCode[] = ['http_4xx', 'timeout', 'expired']
            const id = i < odd.length ? `${queue}:${odd[i]}` : randomUUID()
            return letter(id, T0 + ((i + offset) % 4), reasons[i % 3] as ReasonCode)
          })
          await store.enqueueDead(queue, letters)
          made.push(...letters.map((l) => ({ ...l, queue })))
        }
        return made
      }

      it('walk every letter of a queue exactly once, newest first, then by id', async () => {
        const made = await fill()
        const expected = newestFirst(made.filter((l) => l.queue === 'a'))
        expect(await walkPages(store, { queue: 'a' }, 7)).toEqual(expected)
        expect(await walkPages(store, { queue: 'a' }, 1)).toEqual(expected)
        const first = await store.listDead({ queue: 'a', limit: 3, before: NEWEST })
        expect(first.map((l) => l.id)).toEqual(expected.slice(0, 3))
        expect(first[0]).toMatchObject({ queue: 'a', deadAt: T0 + 3 })
      })

      it('walk every letter of every queue, and of one reason, exactly once in that order', async () => {
        const made = await fill()
        expect(await walkPages(store, {}, 6)).toEqual(newestFirst(made))
        expect(await walkPages(store, { reason: 'timeout' }, 4)).toEqual(
          newestFirst(made.filter((l) => l.reason === 'timeout')),
        )
        expect(await walkPages(store, { queue: 'b', reason: 'expired' }, 2)).toEqual(
          newestFirst(made.filter((l) => l.queue === 'b' && l.reason === 'expired')),
        )
      })

      it('start strictly after the cursor, skip `offset`, and find a letter by messageId', async () => {
        const made = await fill()
        const expected = newestFirst(made.filter((l) => l.queue === 'a'))
        const at = made.find((l) => l.id === expected[5]) as DeadLetter
        const before = { deadAt: at.deadAt, id: at.id }
        const after = await store.listDead({ queue: 'a', before, limit: 3, offset: 1 })
        expect(after.map((l) => l.id)).toEqual(expected.slice(7, 10))
        const [found] = await store.listDead({
          queue: 'a',
          messageId: `m-${at.id}`,
          before: NEWEST,
        })
        expect(found?.id).toBe(at.id)
      })

      it('stay exact while letters die, are replayed and purged between pages', async () => {
        const made = await fill()
        const expected = newestFirst(made.filter((l) => l.queue === 'a'))
        const first = await store.listDead({ queue: 'a', limit: 5, before: NEWEST })
        expect(first.map((l) => l.id)).toEqual(expected.slice(0, 5))
        const last = first.at(-1) as DeadLetter
        // The cursor's own letter is purged, one further down replayed, and new ones die.
        expect(await store.purgeDead({ ids: [last.id] })).toBe(1)
        await store.replayDead({ ids: [expected[9] as string] }, { now: T0 + 100 })
        await store.enqueueDead('a', [letter('late', T0 + 50, 'tls'), letter('early', T0, 'tls')])
        const now = [
          ...made.filter((l) => l.queue === 'a' && l.id !== expected[9] && l.id !== last.id),
          { id: 'early', deadAt: T0 },
          { id: 'late', deadAt: T0 + 50 },
        ]
        expect(await walkPages(store, { queue: 'a' }, 4)).toEqual(newestFirst(now))
        // The next page goes on from the purged letter's place: what died before it, as it is now.
        const cursor = { deadAt: last.deadAt, id: last.id }
        const next = await store.listDead({ queue: 'a', limit: 100, before: cursor })
        const older = now.filter(
          (l) =>
            l.deadAt < last.deadAt ||
            (l.deadAt === last.deadAt &&
              Buffer.compare(Buffer.from(l.id), Buffer.from(last.id)) < 0),
        )
        expect(next.map((l) => l.id)).toEqual(newestFirst(older))
        expect(older.map((l) => l.id)).toContain('early')
      })
    })

    describe('replay and purge by reason', () => {
      it('act on every letter of the reason, of the queue given, and never replay an unsendable one', async () => {
        await store.enqueueDead('a', [
          letter('a-4xx-1', T0, 'http_4xx'),
          letter('a-4xx-2', T0 + 1, 'http_4xx'),
          letter('a-4xx-empty', T0 + 2, 'http_4xx', { body: '' }),
          letter('a-timeout-1', T0 + 3, 'timeout'),
          letter('a-timeout-2', T0 + 4, 'timeout'),
          letter('a-invalid', T0 + 5, 'invalid_payload', { body: 'null' }),
        ])
        await store.enqueueDead('b', [
          letter('b-4xx', T0 + 6, 'http_4xx'),
          letter('b-timeout', T0 + 7, 'timeout'),
        ])
        expect(
          await store.replayDead({ reason: 'http_4xx' }, { now: T0 + 9000, queue: 'a' }),
        ).toEqual({ replayed: 2, unsendable: 1 })
        const claimed = await claimFlat(store, 'a', { limit: 10, now: T0 + 9000, ...LEASE })
        expect(claimed.map((d) => [d.id, d.attempts, d.enqueuedAt]).sort()).toEqual([
          ['a-4xx-1', 0, T0 + 9000],
          ['a-4xx-2', 0, T0 + 9000],
        ])
        expect(await store.replayDead({ reason: 'invalid_payload' }, { now: T0 })).toEqual({
          replayed: 0,
          unsendable: 1,
        })
        expect(await store.replayDead({ reason: 'tls' }, { now: T0 })).toEqual({
          replayed: 0,
          unsendable: 0,
        })
        expect(await store.purgeDead({ reason: 'timeout' }, { queue: 'b' })).toBe(1)
        expect(await store.purgeDead({ reason: 'timeout' })).toBe(2)
        expect(await store.purgeDead({ reason: 'timeout' })).toBe(0)
        expect((await store.listDead({ limit: 100 })).map((l) => l.id)).toEqual([
          'a-4xx-empty',
          'a-invalid',
          'b-4xx',
        ])
        expect(await store.purgeDead({ reason: 'http_4xx' })).toBe(2)
        await expectDeadCounts(store, 'a', { dead: 1, deadByReason: { invalid_payload: 1 } })
        await expectDeadCounts(store, 'b', { dead: 0, deadByReason: {} })
      })
    })

    describe('dead-letter counts', () => {
      const killed = (reason: ReasonCode, now = T0 + 100) => ({
        now,
        attempts: 1,
        reason,
        status: null,
        detail: null,
      })

      it('stay exact through kill (from new deliveries and from retried ones), enqueueDead, replay and purge', async () => {
        const items = deliveries(10)
        await store.enqueue('a', items)
        await store.enqueue('b', deliveries(3))
        await expectDeadCounts(store, 'a', { dead: 0, deadByReason: {} })
        const claimed = await store.claim('a', { limit: 10, now: T0 + 50, ...LEASE })
        expect(flatten(claimed)).toHaveLength(10)
        await store.kill('a', claimed.slice(0, 4), killed('http_4xx'))
        // Killed again (a late answer after a takeover): nothing more is dead.
        await store.kill('a', claimed.slice(0, 4), killed('http_4xx'))
        await store.complete('a', claimed.slice(4, 5))
        await store.kill('a', claimed.slice(4, 6), killed('expired'))
        await expectDeadCounts(store, 'a', { dead: 5, deadByReason: { http_4xx: 4, expired: 1 } })
        // A delivery retried (a row of its own) and then killed.
        await store.retry('a', claimed[6] as ClaimedRequest, {
          at: T0 + 60,
          attempts: 1,
          reason: 'http_5xx',
          status: 503,
        })
        const again = await store.claim('a', { limit: 1, now: T0 + 60, ...LEASE })
        expect(membersOf(again)).toEqual(membersOf(claimed.slice(6, 7)))
        await store.kill('a', again, killed('http_5xx'))
        await store.enqueueDead('a', [
          letter('bad-1', T0, 'invalid_payload', { body: '' }),
          letter('bad-2', T0, 'invalid_payload', { body: '' }),
        ])
        const b = await store.claim('b', { limit: 3, now: T0 + 50, ...LEASE })
        await store.kill('b', b, killed('tls'))
        await expectDeadCounts(store, 'a', {
          dead: 8,
          deadByReason: { http_4xx: 4, expired: 1, http_5xx: 1, invalid_payload: 2 },
        })
        await expectDeadCounts(store, 'b', { dead: 3, deadByReason: { tls: 3 } })

        expect(
          await store.replayDead({ ids: [items[0]?.id as string, 'bad-1'] }, { now: T0 + 200 }),
        ).toEqual({ replayed: 1, unsendable: 1 })
        expect(await store.purgeDead({ reason: 'expired' }, { queue: 'a' })).toBe(1)
        expect(await store.replayDead({ all: true }, { now: T0 + 200, queue: 'b' })).toEqual({
          replayed: 3,
          unsendable: 0,
        })
        await expectDeadCounts(store, 'a', {
          dead: 6,
          deadByReason: { http_4xx: 3, http_5xx: 1, invalid_payload: 2 },
        })
        await expectDeadCounts(store, 'b', { dead: 0, deadByReason: {} })
        // Replayed, killed again: counted again.
        const replayed = await store.claim('b', { limit: 3, now: T0 + 200, ...LEASE })
        await store.kill('b', replayed.slice(0, 2), killed('http_413'))
        await expectDeadCounts(store, 'b', { dead: 2, deadByReason: { http_413: 2 } })
        expect(await store.purgeDead({ all: true })).toBe(8)
        await expectDeadCounts(store, 'a', { dead: 0, deadByReason: {} })
        await expectDeadCounts(store, 'b', { dead: 0, deadByReason: {} })
      })

      if (reopen) {
        const reopenStore = reopen
        it('are the same after a restart, and stay exact after it', async () => {
          await store.enqueueDead('a', [
            letter('x1', T0, 'http_4xx'),
            letter('x2', T0, 'http_4xx'),
            letter('x3', T0, 'timeout'),
          ])
          const before = await store.stats('a')
          await store.close()
          const next = reopenStore(store)
          await next.open()
          try {
            expect(await next.stats('a')).toEqual(before)
            await expectDeadCounts(next, 'a', {
              dead: 3,
              deadByReason: { http_4xx: 2, timeout: 1 },
            })
            expect(await next.purgeDead({ reason: 'http_4xx' })).toBe(2)
            await expectDeadCounts(next, 'a', { dead: 1, deadByReason: { timeout: 1 } })
          } finally {
            await next.close()
          }
        })
      }
    })

    describe('wake and nextDueAt', () => {
      it('wake makes every waiting delivery due now, but not leased ones', async () => {
        const items = deliveries(3)
        await store.enqueue('q', items)
        const held = await store.claim('q', { limit: 3, now: T0 + 5, ...LEASE })
        for (const request of held.slice(0, 2)) {
          await store.retry('q', request, {
            at: T0 + 60_000,
            attempts: 1,
            reason: 'http_5xx',
            status: 500,
          })
        }
        expect(await store.wake('q', T0 + 100)).toBe(2)
        const claimed = await claimFlat(store, 'q', { limit: 5, now: T0 + 100, ...LEASE })
        expect(claimed.map((d) => d.id).sort()).toEqual([items[0]?.id, items[1]?.id].sort())
      })

      it('nextDueAt is the earliest due time, or null when empty', async () => {
        expect(await store.nextDueAt('q')).toBeNull()
        await store.enqueue('q', [delivery(1, T0 + 500), delivery(2, T0 + 200)])
        expect(await store.nextDueAt('q')).toBe(T0 + 200)
      })
    })

    describe('stats', () => {
      it('counts queued, in flight, delivered, retried and dead for a queue and for all', async () => {
        const now = Date.now()
        const items = deliveries(4, now - 1000)
        await store.enqueue('q', items)
        await store.enqueue('other', deliveries(1, now))
        const claimed = await store.claim('q', { limit: 3, now, leaseMs: 60_000, worker: 'w' })
        expect(flatten(claimed).map((d) => d.id)).toEqual(items.slice(0, 3).map((d) => d.id))
        await store.complete('q', [claimed[0] as ClaimedRequest])
        await store.kill('q', claimed.slice(1, 2), {
          now,
          attempts: 1,
          reason: 'http_4xx',
          status: 400,
          detail: null,
        })
        const stats = await store.stats('q')
        expect(stats).toMatchObject({
          queued: 1,
          inFlight: 1,
          delivered: 1,
          dead: 1,
          deadByReason: { http_4xx: 1 },
        })
        expect(stats.oldestEnqueuedAt).toBe(now - 1000 + 2)
        const all = await store.stats()
        expect(all.queued + all.inFlight).toBe(3)
      })
    })

    describe('queue separation', () => {
      it('queues sharing a store never see each other', async () => {
        await store.enqueue('a', deliveries(2))
        await store.enqueue('b', deliveries(3))
        expect(await claimFlat(store, 'a', { limit: 10, now: T0 + 10, ...LEASE })).toHaveLength(2)
        const b = await store.claim('b', { limit: 10, now: T0 + 10, ...LEASE })
        expect(flatten(b)).toHaveLength(3)
        await store.complete('a', b)
        expect((await store.stats('a')).delivered).toBe(0)
        expect((await store.stats('b')).inFlight + (await store.stats('b')).queued).toBe(3)
        expect(await store.wake('a', T0)).toBe(0)
      })
    })

    describe('traceparent', () => {
      const failed = { attempts: 1, reason: 'http_5xx' as const, status: 503 }

      it.each([1, 3])(
        'gives back each delivery its traceparent, or null, with and without one in one call and across calls (batchSize %i)',
        async (batchSize) => {
          const first = mixed(5)
          const second = mixed(4, T0 + 10)
          // Every one already as stored (a traceparent or null): a store may hand these back as is.
          const third = [
            { ...delivery(20, T0 + 20), traceparent: null },
            { ...delivery(21, T0 + 21), traceparent: newTraceparent() },
          ]
          await store.enqueue('q', first)
          await store.enqueue('q', second)
          await store.enqueue('q', third)
          const claimed = await store.claim('q', { limit: 20, now: T0 + 100, ...LEASE, batchSize })
          expect(claimed.map((r) => r.batch)).toEqual(
            batchSize === 1 ? Array(11).fill(false) : [true, true, true, true],
          )
          expect(traceparentsOf(claimed)).toEqual(
            expectedTraceparents([...first, ...second, ...third]),
          )
        },
      )

      it('keeps them through a retry (sent alone and as a batch) and the claims after it', async () => {
        const items = mixed(5)
        await store.enqueue('q', items)
        const claimed = await store.claim('q', { limit: 5, now: T0 + 10, ...LEASE, batchSize: 3 })
        expect(membersOf(claimed)).toHaveLength(2)
        await store.retry('q', claimed[0] as ClaimedRequest, {
          ...failed,
          at: T0 + 1000,
          requestId: 'batch-1',
        })
        await store.retry('q', claimed[1] as ClaimedRequest, { ...failed, at: T0 + 1000 })
        const again = await store.claim('q', { limit: 5, now: T0 + 1000, ...LEASE })
        // The batch as one request again; the other two, retried as sent alone, one each.
        expect(membersOf(again).map((ids) => ids.length)).toEqual([3, 1, 1])
        expect(again.map((r) => r.attempts)).toEqual([1, 1, 1])
        expect(traceparentsOf(again)).toEqual(expectedTraceparents(items))
        // A second failure reschedules the rows the first one made.
        for (const [i, request] of again.entries()) {
          const requestId = request.batch ? `batch-${i}` : null
          await store.retry('q', request, { ...failed, attempts: 2, at: T0 + 2000, requestId })
        }
        const third = await store.claim('q', { limit: 5, now: T0 + 2000, ...LEASE })
        expect(membersOf(third).map((ids) => ids.length)).toEqual([3, 1, 1])
        expect(third.map((r) => r.attempts)).toEqual([2, 2, 2])
        expect(traceparentsOf(third)).toEqual(expectedTraceparents(items))
      })

      it('keeps them through a release, in parts and whole, and the claims after it', async () => {
        const items = mixed(6)
        await store.enqueue('q', items)
        const claimed = await store.claim('q', { limit: 6, now: T0 + 10, ...LEASE, batchSize: 2 })
        expect(claimed).toHaveLength(3)
        await store.release('q', claimed.slice(0, 1))
        await store.release('q', claimed.slice(1))
        const again = await store.claim('q', { limit: 6, now: T0 + 10, ...LEASE })
        expect(traceparentsOf(again)).toEqual(expectedTraceparents(items))
        // Rows given back (after a retry) keep theirs too.
        for (const request of again) await store.retry('q', request, { ...failed, at: T0 + 20 })
        await store.release('q', await store.claim('q', { limit: 6, now: T0 + 20, ...LEASE }))
        const third = await store.claim('q', { limit: 6, now: T0 + 20, ...LEASE })
        expect(traceparentsOf(third)).toEqual(expectedTraceparents(items))
      })

      it('keeps them when another worker takes over an expired lease, of never-attempted and retried deliveries', async () => {
        const retried = mixed(3)
        await store.enqueue('q', retried)
        const [request] = await store.claim('q', { limit: 3, now: T0 + 2, ...LEASE, batchSize: 3 })
        expect(request?.deliveries).toHaveLength(3)
        await store.retry('q', request as ClaimedRequest, {
          ...failed,
          at: T0 + 10,
          requestId: 'r-1',
        })
        const fresh = mixed(4, T0 + 5)
        await store.enqueue('q', fresh)
        const dying = { leaseMs: 1000, worker: 'dies' }
        expect(
          flatten(await store.claim('q', { limit: 10, now: T0 + 10, ...dying, batchSize: 3 })),
        ).toHaveLength(7)
        const taken = await store.claim('q', {
          limit: 10,
          now: T0 + 1010,
          leaseMs: 1000,
          worker: 'takes-over',
          batchSize: 3,
        })
        expect(traceparentsOf(taken)).toEqual(expectedTraceparents([...retried, ...fresh]))
      })

      it('keeps them when a claim smaller than the enqueue call takes part of it', async () => {
        const items = mixed(7)
        await store.enqueue('q', items)
        const part = await store.claim('q', { limit: 2, now: T0 + 10, ...LEASE })
        expect(traceparentsOf(part)).toEqual(expectedTraceparents(items.slice(0, 2)))
        const rest = await store.claim('q', { limit: 10, now: T0 + 10, ...LEASE, batchSize: 3 })
        expect(traceparentsOf(rest)).toEqual(expectedTraceparents(items.slice(2)))
        await store.release('q', [...part, ...rest])
        const again = await store.claim('q', { limit: 10, now: T0 + 10, ...LEASE })
        expect(traceparentsOf(again)).toEqual(expectedTraceparents(items))
      })

      it('keeps them when a delivery never claimed here is acted on by id (only its id named)', async () => {
        const items = mixed(6)
        await store.enqueue('q', items)
        const id = (i: number) => items[i]?.id as string
        await store.retry('q', byIds(id(3)), { ...failed, at: T0 + 10 })
        await store.release('q', [byIds(id(0), id(4))])
        const claimed = await store.claim('q', { limit: 10, now: T0 + 10, ...LEASE })
        expect(traceparentsOf(claimed)).toEqual(expectedTraceparents(items))
        expect(flatten(claimed).find((d) => d.id === id(3))?.attempts).toBe(1)
      })

      it('keeps them in the halves of a batch the worker split after a 413', async () => {
        const items = mixed(6)
        await store.enqueue('q', items)
        const [request] = await store.claim('q', { limit: 6, now: T0 + 10, ...LEASE, batchSize: 6 })
        const half = (from: number, to: number): ClaimedRequest => ({
          ...(request as ClaimedRequest),
          deliveries: request?.deliveries.slice(from, to) ?? [],
        })
        await store.retry('q', half(0, 3), { ...failed, at: T0 + 20, requestId: 'left' })
        await store.release('q', [half(3, 6)])
        const again = await store.claim('q', { limit: 10, now: T0 + 20, ...LEASE })
        expect(membersOf(again).map((ids) => ids.length)).toEqual([3, 3])
        expect(traceparentsOf(again)).toEqual(expectedTraceparents(items))
      })

      it('stores a value that is not a well-formed traceparent as null, without failing the others', async () => {
        const valid = newTraceparent()
        const malformed: unknown[] = [
          valid.toUpperCase(),
          valid.slice(0, -1),
          ` ${valid}`,
          `${valid}\n`,
          valid.replaceAll('-', '_'),
          `ff${valid.slice(2)}x`,
          '',
          'not a traceparent',
          42,
          { traceparent: valid },
          [valid],
        ]
        const items = [
          { ...delivery(0), traceparent: valid },
          ...malformed.map((traceparent, i) => ({
            ...delivery(i + 1, T0 + i + 1),
            traceparent: traceparent as string,
          })),
        ]
        await store.enqueue('q', items)
        const claimed = await store.claim('q', { limit: 20, now: T0 + 100, ...LEASE })
        const stored = { ...expectedTraceparents(items.map((d) => ({ ...d, traceparent: null }))) }
        stored[items[0]?.id as string] = valid
        expect(traceparentsOf(claimed)).toEqual(stored)
        // And as rows, after a retry.
        for (const request of claimed) await store.retry('q', request, { ...failed, at: T0 + 200 })
        expect(
          traceparentsOf(await store.claim('q', { limit: 20, now: T0 + 200, ...LEASE })),
        ).toEqual(stored)
      })

      it('keeps none in dead letters: a replayed delivery has none', async () => {
        const [item] = mixed(1)
        await store.enqueue('q', [item as NewDelivery])
        expect(item?.traceparent).toEqual(expect.any(String))
        await store.kill('q', [requestOf(item as NewDelivery)], {
          now: T0,
          attempts: 1,
          reason: 'http_4xx',
          status: 400,
          detail: null,
        })
        const [letter] = await store.listDead({ queue: 'q' })
        expect(letter && 'traceparent' in letter).toBe(false)
        await store.replayDead({ all: true }, { now: T0 + 10 })
        const replayed = await store.claim('q', { limit: 1, now: T0 + 10, ...LEASE })
        expect(traceparentsOf(replayed)).toEqual({ [item?.id as string]: null })
      })

      if (reopen) {
        const reopenStore = reopen
        it('keeps them across a restart: waiting, leased by a worker that died, and retried', async () => {
          const retried = mixed(3)
          await store.enqueue('q', retried)
          const [request] = await store.claim('q', {
            limit: 3,
            now: T0 + 2,
            ...LEASE,
            batchSize: 3,
          })
          expect(request?.deliveries).toHaveLength(3)
          await store.retry('q', request as ClaimedRequest, {
            ...failed,
            at: T0 + 5000,
            requestId: 'r-1',
          })
          const leased = mixed(4, T0 + 10)
          await store.enqueue('q', leased)
          const dying = { leaseMs: 1000, worker: 'dies' }
          expect(
            flatten(await store.claim('q', { limit: 4, now: T0 + 20, ...dying })),
          ).toHaveLength(4)
          const waiting = mixed(5, T0 + 30)
          await store.enqueue('q', waiting)
          await store.close()
          const next = reopenStore(store)
          await next.open()
          try {
            const claimed = await next.claim('q', {
              limit: 20,
              now: T0 + 5000,
              leaseMs: 1000,
              worker: 'after-restart',
              batchSize: 3,
            })
            expect(traceparentsOf(claimed)).toEqual(
              expectedTraceparents([...retried, ...leased, ...waiting]),
            )
          } finally {
            await next.close()
          }
        })
      }
    })

    describe('worker states', () => {
      it("keep each worker's last report per queue, newest first, never replaced by an older one", async () => {
        const { reportState, workerStates } = store
        expect(reportState).toBeTypeOf('function')
        expect(workerStates).toBeTypeOf('function')
        const report = (queue: string, worker: string, state: WorkerState) =>
          store.reportState?.(queue, worker, state)
        const states = async (queue: string) => (await store.workerStates?.(queue)) ?? []
        expect(await states('q')).toEqual([])
        await report('q', 'w1', { state: 'sending', until: null, at: T0 })
        await report('q', 'w2', { state: 'backing_off', until: T0 + 5000, at: T0 + 10 })
        await report('other', 'w1', { state: 'idle', until: null, at: T0 + 20 })
        expect(await states('q')).toEqual([
          { worker: 'w2', state: 'backing_off', until: T0 + 5000, at: T0 + 10 },
          { worker: 'w1', state: 'sending', until: null, at: T0 },
        ])
        await report('q', 'w1', { state: 'paused', until: T0 + 60_000, at: T0 + 30 })
        // A report that arrives late (older than the one stored) changes nothing.
        await report('q', 'w1', { state: 'rate_limited', until: T0 + 1, at: T0 + 1 })
        await report('q', 'w3', { state: 'rate_limited', until: T0 + 31, at: T0 + 30 })
        expect(await states('q')).toEqual([
          { worker: 'w1', state: 'paused', until: T0 + 60_000, at: T0 + 30 },
          { worker: 'w3', state: 'rate_limited', until: T0 + 31, at: T0 + 30 },
          { worker: 'w2', state: 'backing_off', until: T0 + 5000, at: T0 + 10 },
        ])
        expect(await states('other')).toEqual([
          { worker: 'w1', state: 'idle', until: null, at: T0 + 20 },
        ])
      })

      it('keep reports for an hour, and drop older ones when a newer report comes', async () => {
        const hour = 3_600_000
        await store.reportState?.('q', 'gone', { state: 'sending', until: null, at: T0 })
        await store.reportState?.('other', 'gone', { state: 'idle', until: null, at: T0 })
        await store.reportState?.('q', 'w', { state: 'idle', until: null, at: T0 + hour })
        expect((await store.workerStates?.('q'))?.map((w) => w.worker)).toEqual(['w', 'gone'])
        await store.reportState?.('q', 'w', { state: 'sending', until: null, at: T0 + hour + 1 })
        expect(await store.workerStates?.('q')).toEqual([
          { worker: 'w', state: 'sending', until: null, at: T0 + hour + 1 },
        ])
        expect(await store.workerStates?.('other')).toEqual([])
      })

      if (reopen) {
        const reopenStore = reopen
        it('are kept across a restart, for a dashboard in another process', async () => {
          await store.reportState?.('q', 'w1', { state: 'paused', until: T0 + 9000, at: T0 })
          await store.close()
          const next = reopenStore(store)
          await next.open()
          try {
            expect(await next.workerStates?.('q')).toEqual([
              { worker: 'w1', state: 'paused', until: T0 + 9000, at: T0 },
            ])
          } finally {
            await next.close()
          }
        })
      }
    })

    describe('subscribe', () => {
      it('resolves once listening, and the function it returns stops the wakeups', async () => {
        const stop = await store.subscribe('q', () => {})
        await store.enqueue('q', deliveries(1))
        await stop()
        expect(await store.nextDueAt('q')).toBe(T0)
      })
    })
  })
}
