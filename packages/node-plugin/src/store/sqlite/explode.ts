/** Turning a block, with the rest of its group, into one row per delivery, so per-row statements can act on each. */

import { requestId } from '@analytics-webhooks/core'
import { nameOf } from '../bind.js'
import { HeldBlock, HeldGroup, unpackBlock } from '../blocks/block.js'
import type { HeldBlocks } from '../blocks/held.js'
import { requestsOf } from '../blocks/plan.js'
import type { NewDelivery } from '../types.js'
import type { SqliteConnection } from './connection.js'
import type { FreshBlocks } from './fresh.js'

/** What a block row holds besides its payload, as `explode` removes it. */
interface RemovedBlock {
  queue: string
  lease_until: number
  worker: string | null
  plan: string | null
  gone: string | null
}

/**
 * Turns block `seq`, with the rest of its group, into one row per delivery
 * not gone, keeping the lease and binding each batch's rows to its request
 * (cut as the group's plan cut it). The blocks stop being held or kept fresh
 * here. Does nothing when the block no longer exists; runs inside the
 * caller's transaction.
 *
 * @example
 * sql.transaction(() => explode(sql, held, fresh, seq))
 */
export function explode(
  sql: SqliteConnection,
  held: HeldBlocks,
  fresh: FreshBlocks,
  seq: number,
): void {
  const group = sql
    .statement('SELECT lease_group FROM delivery_blocks WHERE seq = ?')
    .pluck()
    .get(seq) as number | null | undefined
  if (group === undefined) return
  const seqs =
    group === null
      ? [seq]
      : (sql
          .statement('SELECT seq FROM delivery_blocks WHERE lease_group = ? ORDER BY seq')
          .pluck()
          .all(group) as number[])
  const removeBlock = sql.statement(
    'DELETE FROM delivery_blocks WHERE seq = ? RETURNING queue, lease_until, worker, plan, gone',
  )
  const removePayload = sql.statement(
    'DELETE FROM delivery_block_bodies WHERE seq = ? RETURNING meta, bodies',
  )
  const rows = new Map<HeldBlock, { leaseUntil: number; worker: string | null }>()
  const stands = new HeldGroup(group ?? seq)
  for (const s of seqs) {
    const mine = held.get(s)
    if (mine) held.forget(mine)
    fresh.take(s)
    const block = removeBlock.get(s) as RemovedBlock | undefined
    const payload = removePayload.get(s) as { meta: string; bodies: string } | undefined
    if (block === undefined || payload === undefined) continue
    const plan = block.plan === null ? null : (JSON.parse(block.plan) as number[])
    const deliveries = unpackBlock(payload.meta, payload.bodies)
    // Stands in for the block, to form its requests again: never held.
    const stand = new HeldBlock(s, block.queue, block.worker ?? '', deliveries, {
      plan,
      group: stands,
      gone: block.gone,
    })
    rows.set(stand, { leaseUntil: block.lease_until, worker: block.worker })
  }
  const insert = sql.statement(
    `INSERT OR IGNORE INTO deliveries (queue, id, message_id, enqueued_at, due_at, ready_at, lease_until, worker,
     request_id, request_pos, traceparent)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const insertBody = sql.statement('INSERT INTO delivery_bodies (seq, body) VALUES (?, ?)')
  for (const request of requestsOf(stands.blocks)) {
    const members: NewDelivery[] = []
    for (const { block, from, to } of request.ranges) {
      for (let i = from; i < to; i++) members.push(block.deliveries[i] as NewDelivery)
    }
    const id = request.batch ? requestId(members.map(nameOf)) : null
    let position = 0
    for (const { block, from, to } of request.ranges) {
      const { leaseUntil, worker } = rows.get(block) as {
        leaseUntil: number
        worker: string | null
      }
      for (let i = from; i < to; i++) {
        const d = block.deliveries[i] as NewDelivery
        const at = d.enqueuedAt
        const row = insert.run(
          block.queue,
          d.id,
          d.messageId,
          at,
          at,
          Math.max(at, leaseUntil),
          leaseUntil,
          worker,
          id,
          id === null ? null : position,
          d.traceparent ?? null,
        )
        if (row.changes > 0) insertBody.run(row.lastInsertRowid, d.body)
        position++
      }
    }
  }
}
