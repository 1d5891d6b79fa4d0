/** Blocks: many never-attempted deliveries packed into one row (SQLite or PostgreSQL), and the claim a worker holds on them. */

import { storedTraceparent } from '../traceparent.js'
import type { ClaimedRequest, NewDelivery } from '../types.js'

/** Deliveries `from` (inclusive) to `to` (exclusive) of a held block. */
export interface BlockRange {
  readonly block: HeldBlock
  readonly from: number
  readonly to: number
}

/**
 * A request cut from held blocks: its deliveries as ranges, in body order (a
 * request may run from one block into the next). Completed by range, with no
 * lookup per delivery; its delivery list is only built when asked for.
 */
export class BlockClaim implements ClaimedRequest {
  readonly ranges: readonly BlockRange[]
  readonly batch: boolean
  readonly attempts = 0
  readonly lastReason = null
  readonly lastStatus = null
  private list: readonly NewDelivery[] | undefined
  private oldest: number | undefined

  constructor(ranges: readonly BlockRange[], batch: boolean) {
    this.ranges = ranges
    this.batch = batch
  }

  get deliveries(): readonly NewDelivery[] {
    if (this.list !== undefined) return this.list
    const ranges = this.ranges
    const only = ranges.length === 1 ? (ranges[0] as BlockRange) : undefined
    if (only && only.from === 0 && only.to === only.block.deliveries.length) {
      this.list = only.block.deliveries
    } else {
      const list: NewDelivery[] = []
      for (const { block, from, to } of ranges) {
        for (let i = from; i < to; i++) list.push(block.deliveries[i] as NewDelivery)
      }
      this.list = list
    }
    return this.list
  }

  /** Its oldest delivery's enqueue time, worked out once. */
  get enqueuedAt(): number {
    if (this.oldest !== undefined) return this.oldest
    let at = Number.POSITIVE_INFINITY
    for (const { block, from, to } of this.ranges) {
      for (let i = from; i < to; i++) {
        const enqueuedAt = (block.deliveries[i] as NewDelivery).enqueuedAt
        if (enqueuedAt < at) at = enqueuedAt
      }
    }
    this.oldest = at
    return at
  }
}

/**
 * Where requests start in a block, as a claim cut it (indexes, ascending);
 * deliveries before the first start continue the request that began in the
 * block before it in its group. `null`: each delivery is sent alone.
 */
export type BlockPlan = readonly number[] | null

/**
 * The most deliveries one block row holds. An enqueue call of more becomes
 * several blocks; a claim takes whole blocks, so the worker's claims (256 and
 * up by default) fit one or more.
 */
export const BLOCK_MAX = 256

/** A block as stored: per-delivery metadata as JSON, the bodies back to back. */
export interface PackedBlock {
  /** {@link BlockMeta} as JSON. */
  readonly meta: string
  readonly bodies: string
  readonly count: number
  /** The earliest `enqueuedAt`: the block is due then (and it is its oldest delivery, for `stats`). */
  readonly firstAt: number
  /** The latest `enqueuedAt`: from then on every delivery in it is due, and it is claimed whole. */
  readonly lastAt: number
  /**
   * Whether every delivery's `traceparent` is already what is stored (`null`
   * or well formed), so the deliveries as given are what a claim returns
   * (see {@link asStored}).
   */
  readonly exact: boolean
}

/** One array per field (flat arrays parse about twice as fast as an array of tuples). */
interface BlockMeta {
  readonly ids: string[]
  readonly messageIds: (string | null)[]
  readonly enqueuedAt: number[]
  /** Each body's length in UTF-16 code units, to cut `bodies` apart. */
  readonly lengths: number[]
  /**
   * Each delivery's `traceparent` or `null`; absent when none has one (the
   * common case, and every block written before they were kept), so a block
   * without them stores and parses nothing more.
   */
  traceparents?: (string | null)[]
}

/**
 * Packs deliveries into one row. Bodies are concatenated and cut apart again by
 * length, so a body may contain any character. A `traceparent` that is not
 * well formed is stored as `null` (see {@link storedTraceparent}).
 *
 * @example
 * packBlock([{ id: 'a', body: '{}', messageId: 'm', enqueuedAt: 5 }]).bodies // '{}'
 */
export function packBlock(deliveries: readonly NewDelivery[]): PackedBlock {
  const n = deliveries.length
  const meta: BlockMeta = {
    ids: new Array(n),
    messageIds: new Array(n),
    enqueuedAt: new Array(n),
    lengths: new Array(n),
  }
  let bodies = ''
  let firstAt = Number.POSITIVE_INFINITY
  let lastAt = Number.NEGATIVE_INFINITY
  let exact = true
  for (let i = 0; i < n; i++) {
    const d = deliveries[i] as NewDelivery
    meta.ids[i] = d.id
    meta.messageIds[i] = d.messageId
    meta.enqueuedAt[i] = d.enqueuedAt
    meta.lengths[i] = d.body.length
    bodies += d.body
    if (d.enqueuedAt < firstAt) firstAt = d.enqueuedAt
    if (d.enqueuedAt > lastAt) lastAt = d.enqueuedAt
    const given = d.traceparent
    if (given === null) continue
    const traceparent = storedTraceparent(given)
    if (traceparent !== given) exact = false
    if (traceparent !== null) {
      meta.traceparents ??= new Array<string | null>(n).fill(null)
      meta.traceparents[i] = traceparent
    }
  }
  return { meta: JSON.stringify(meta), bodies, count: n, firstAt, lastAt, exact }
}

/**
 * The deliveries of a packed block, in the order they were packed, each with
 * its `traceparent` or `null` (a block written before they were kept has none).
 *
 * @example
 * unpackBlock(packed.meta, packed.bodies)[0] // { id: 'a', body: '{}', messageId: 'm', enqueuedAt: 5, traceparent: null }
 */
export function unpackBlock(meta: string, bodies: string): NewDelivery[] {
  const { ids, messageIds, enqueuedAt, lengths, traceparents } = JSON.parse(meta) as BlockMeta
  const out: NewDelivery[] = new Array(ids.length)
  let at = 0
  for (let i = 0; i < ids.length; i++) {
    const length = lengths[i] as number
    out[i] = {
      id: ids[i] as string,
      body: bodies.slice(at, at + length),
      messageId: messageIds[i] as string | null,
      enqueuedAt: enqueuedAt[i] as number,
      traceparent: traceparents === undefined ? null : (traceparents[i] ?? null),
    }
    at += length
  }
  return out
}

/**
 * The deliveries of a block just packed as a claim would read them back:
 * `deliveries` itself when `packed.exact`, else copies whose `traceparent` is
 * what was stored. For a store that keeps what it enqueued to claim it without
 * reading it back.
 *
 * @example
 * fresh.keep(seq, { queue, deliveries: asStored(chunk, packBlock(chunk)) })
 */
export function asStored(
  deliveries: readonly NewDelivery[],
  packed: PackedBlock,
): readonly NewDelivery[] {
  if (packed.exact) return deliveries
  return deliveries.map(({ id, body, messageId, enqueuedAt, traceparent }) => ({
    id,
    body,
    messageId,
    enqueuedAt,
    traceparent: storedTraceparent(traceparent),
  }))
}

/** What became of one delivery of a held block. */
const PENDING = 0
/** Delivered, or moved out of the block (rescheduled as a row, or dead-lettered). */
const GONE = 1
/** Given back unsent: it stays in the block, which is unleased again. */
const RELEASED = 2

/**
 * The blocks one claim leased and cut into requests together. Their rows are
 * only rewritten once every delivery of every block has an outcome
 * ({@link HeldGroup.settled}), so a request that runs from one block into the
 * next is never found half gone after a crash.
 */
export class HeldGroup {
  /** The group's id: the seq of its first block, as stored in `lease_group`. */
  readonly id: number
  readonly blocks: HeldBlock[] = []

  constructor(id: number) {
    this.id = id
  }

  /** `true` once every delivery of every block has an outcome. */
  get settled(): boolean {
    return this.blocks.every((block) => block.settled)
  }
}

/**
 * A block this store instance has leased, with what became of each of its
 * deliveries. Deliveries recorded gone before it was leased (by a worker that
 * held it before, see {@link HeldBlock.goneMask}) start gone.
 */
export class HeldBlock {
  readonly seq: number
  readonly queue: string
  readonly worker: string
  readonly deliveries: readonly NewDelivery[]
  /** How the claim that first leased it cut it into requests. */
  readonly plan: BlockPlan
  readonly group: HeldGroup
  /** Whether the store can find its deliveries by id yet (it indexes them only when asked by id). */
  indexed = false
  /** Another worker claimed it after this lease expired: that worker sends it, outcomes here are dropped. */
  takenOver = false
  private readonly states: Uint8Array
  private pending: number
  /** How many are {@link GONE}: the row's `done` column, so `stats` does not count them. */
  gone = 0

  constructor(
    seq: number,
    queue: string,
    worker: string,
    deliveries: readonly NewDelivery[],
    options: { plan: BlockPlan; group: HeldGroup; gone?: string | null },
  ) {
    this.seq = seq
    this.queue = queue
    this.worker = worker
    this.deliveries = deliveries
    this.plan = options.plan
    this.group = options.group
    options.group.blocks.push(this)
    this.states = new Uint8Array(deliveries.length)
    this.pending = deliveries.length
    const mask = options.gone
    if (mask) for (let i = 0; i < mask.length; i++) if (mask[i] === '1') this.remove(i)
  }

  /** Marks delivery `index` delivered or moved out; `false` if it already had an outcome. */
  remove(index: number): boolean {
    if (this.states[index] !== PENDING) return false
    this.states[index] = GONE
    this.pending--
    this.gone++
    return true
  }

  /** Marks delivery `index` given back unsent; `false` if it already had an outcome. */
  release(index: number): boolean {
    if (this.states[index] !== PENDING) return false
    this.states[index] = RELEASED
    this.pending--
    return true
  }

  /** Whether delivery `index` has no outcome yet. */
  isPending(index: number): boolean {
    return this.states[index] === PENDING
  }

  /** `true` once every delivery has an outcome. */
  get settled(): boolean {
    return this.pending === 0
  }

  /** Which deliveries are gone, one character each (`'1'` gone), or `null` when none is: the row's `gone` column. */
  goneMask(): string | null {
    if (this.gone === 0) return null
    let mask = ''
    for (let i = 0; i < this.states.length; i++) mask += this.states[i] === GONE ? '1' : '0'
    return mask
  }
}
