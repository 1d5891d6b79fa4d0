/** Blocks: many never-attempted deliveries packed into one SQLite row, and the claim a worker holds on one. */

import type { NewDelivery } from './types.js'

/**
 * The most deliveries one block row holds. An enqueue call of more becomes
 * several blocks; a claim takes whole blocks, so the worker's claims (256 and
 * up by default) fit one or more.
 */
export const BLOCK_MAX = 256

/** A block as stored: per-delivery metadata as JSON, the bodies back to back. */
export interface PackedBlock {
  /** `[[id, messageId, enqueuedAt, bodyLength], …]`. */
  readonly meta: string
  readonly bodies: string
  readonly count: number
  /** The earliest `enqueuedAt`: the block is due then (and it is its oldest delivery, for `stats`). */
  readonly firstAt: number
  /** The latest `enqueuedAt`: from then on every delivery in it is due, and it is claimed whole. */
  readonly lastAt: number
}

type MetaEntry = [id: string, messageId: string | null, enqueuedAt: number, length: number]

/**
 * Packs deliveries into one row. Bodies are concatenated and cut apart again by
 * length, so a body may contain any character.
 *
 * @example
 * packBlock([{ id: 'a', body: '{}', messageId: 'm', enqueuedAt: 5 }]).meta // '[["a","m",5,2]]'
 */
export function packBlock(deliveries: readonly NewDelivery[]): PackedBlock {
  const meta: MetaEntry[] = new Array(deliveries.length)
  let bodies = ''
  let firstAt = Number.POSITIVE_INFINITY
  let lastAt = Number.NEGATIVE_INFINITY
  for (let i = 0; i < deliveries.length; i++) {
    const d = deliveries[i] as NewDelivery
    meta[i] = [d.id, d.messageId, d.enqueuedAt, d.body.length]
    bodies += d.body
    if (d.enqueuedAt < firstAt) firstAt = d.enqueuedAt
    if (d.enqueuedAt > lastAt) lastAt = d.enqueuedAt
  }
  return { meta: JSON.stringify(meta), bodies, count: deliveries.length, firstAt, lastAt }
}

/**
 * The deliveries of a packed block, in the order they were packed.
 *
 * @example
 * unpackBlock('[["a","m",5,2]]', '{}') // [{ id: 'a', body: '{}', messageId: 'm', enqueuedAt: 5 }]
 */
export function unpackBlock(meta: string, bodies: string): NewDelivery[] {
  const entries = JSON.parse(meta) as MetaEntry[]
  const out: NewDelivery[] = new Array(entries.length)
  let at = 0
  for (let i = 0; i < entries.length; i++) {
    const [id, messageId, enqueuedAt, length] = entries[i] as MetaEntry
    out[i] = { id, messageId, enqueuedAt, body: bodies.slice(at, at + length) }
    at += length
  }
  return out
}

/** What became of one delivery of a held block. */
const PENDING = 0
/** Delivered, or moved out of the block (rescheduled as a row, or dead-lettered). */
const GONE = 1
/** Given back unsent: it stays in the block, which is unleased again. */
const RELEASED = 2

/**
 * A block this store instance has leased, with what became of each of its
 * deliveries. The block's row is only rewritten when every delivery has an
 * outcome ({@link HeldBlock.settled}): deleted when none was given back,
 * unleased or cut down to what was given back otherwise.
 */
export class HeldBlock {
  readonly seq: number
  readonly queue: string
  readonly worker: string
  readonly deliveries: readonly NewDelivery[]
  private readonly states: Uint8Array
  private pending: number
  /** How many are {@link GONE}: the row's `done` column, so `stats` does not count them. */
  gone = 0

  constructor(seq: number, queue: string, worker: string, deliveries: readonly NewDelivery[]) {
    this.seq = seq
    this.queue = queue
    this.worker = worker
    this.deliveries = deliveries
    this.states = new Uint8Array(deliveries.length)
    this.pending = deliveries.length
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

  /** `true` once every delivery has an outcome. */
  get settled(): boolean {
    return this.pending === 0
  }

  /** The deliveries given back unsent, which stay queued. */
  released(): NewDelivery[] {
    return this.deliveries.filter((_, i) => this.states[i] === RELEASED)
  }
}
