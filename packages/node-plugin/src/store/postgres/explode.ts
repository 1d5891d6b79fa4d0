/** Turning PostgreSQL blocks, each with the rest of its group, into one deliveries row per delivery, so statements by id can act on each. */

import { requestId } from '@analytics-webhooks/core'
import type pg from 'pg'
import { nameOf } from '../bind.js'
import { HeldBlock, HeldGroup, unpackBlock } from '../blocks/block.js'
import { requestsOf } from '../blocks/plan.js'
import type { NewDelivery } from '../types.js'

/** A block row as `explodeBlocks` removes it. */
interface RemovedBlock {
  seq: string
  queue: string
  lease_owner: string | null
  ready_at: string
  lease_group: string | null
  plan: string | null
  gone: string | null
  meta: string
  bodies: string
}

/**
 * Turns the blocks `seqs`, each with the rest of its group, into one row per
 * delivery not gone, keeping the lease and binding each batch's rows to its
 * request (cut as the group's plan cut it), inside the caller's transaction.
 * Returns the seqs of every block it removed, for the store to stop holding.
 * A seq that no longer exists is skipped.
 *
 * @example
 * await db.transaction((client) => explodeBlocks(client, '"analytics_webhooks"', ['42']))
 */
export async function explodeBlocks(
  client: pg.PoolClient,
  s: string,
  seqs: readonly string[],
): Promise<number[]> {
  const { rows: removed } = await client.query<RemovedBlock>(
    `DELETE FROM ${s}.delivery_blocks
     WHERE seq = ANY($1::bigint[])
        OR lease_group IN (SELECT lease_group FROM ${s}.delivery_blocks
                           WHERE seq = ANY($1::bigint[]) AND lease_group IS NOT NULL)
     RETURNING seq, queue, lease_owner, ready_at, lease_group, plan, gone, meta, bodies`,
    [seqs],
  )
  if (removed.length === 0) return []
  removed.sort((a, b) => Number(a.seq) - Number(b.seq))
  const leases = new Map<HeldBlock, { owner: string | null; until: number | null }>()
  const groups = new Map<string, HeldGroup>()
  for (const row of removed) {
    const key = row.lease_group ?? row.seq
    let group = groups.get(key)
    if (!group) {
      group = new HeldGroup(Number(key))
      groups.set(key, group)
    }
    const plan = row.plan === null ? null : (JSON.parse(row.plan) as number[])
    // Stands in for the block, to form its requests again: never held.
    const stand = new HeldBlock(
      Number(row.seq),
      row.queue,
      row.lease_owner ?? '',
      unpackBlock(row.meta, row.bodies),
      { plan, group, gone: row.gone },
    )
    const until = row.lease_owner === null ? null : Number(row.ready_at)
    leases.set(stand, { owner: row.lease_owner, until })
  }
  const columns = {
    queue: [] as string[],
    id: [] as string[],
    body: [] as string[],
    messageId: [] as (string | null)[],
    at: [] as number[],
    owner: [] as (string | null)[],
    until: [] as (number | null)[],
    request: [] as (string | null)[],
    position: [] as (number | null)[],
    traceparent: [] as (string | null)[],
  }
  for (const group of groups.values()) {
    for (const request of requestsOf(group.blocks)) {
      const members: NewDelivery[] = []
      const of: HeldBlock[] = []
      for (const { block, from, to } of request.ranges) {
        for (let i = from; i < to; i++) {
          members.push(block.deliveries[i] as NewDelivery)
          of.push(block)
        }
      }
      const id = request.batch ? requestId(members.map(nameOf)) : null
      members.forEach((d, position) => {
        const block = of[position] as HeldBlock
        const lease = leases.get(block) as { owner: string | null; until: number | null }
        columns.queue.push(block.queue)
        columns.id.push(d.id)
        columns.body.push(d.body)
        columns.messageId.push(d.messageId)
        columns.at.push(d.enqueuedAt)
        columns.owner.push(lease.owner)
        columns.until.push(lease.until)
        columns.request.push(id)
        columns.position.push(id === null ? null : position)
        columns.traceparent.push(d.traceparent ?? null)
      })
    }
  }
  if (columns.id.length > 0) {
    await client.query(
      `INSERT INTO ${s}.deliveries (queue, id, body, message_id, enqueued_at, next_attempt_at,
                                    lease_owner, lease_expires_at, request_id, request_pos, traceparent)
       SELECT t.queue, t.id, t.body, t.message_id, t.at, t.at, t.owner, t.until, t.request, t.pos,
              t.traceparent
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                   $7::bigint[], $8::text[], $9::int[], $10::text[])
         AS t(queue, id, body, message_id, at, owner, until, request, pos, traceparent)
       ON CONFLICT (queue, id) DO NOTHING`,
      [
        columns.queue,
        columns.id,
        columns.body,
        columns.messageId,
        columns.at,
        columns.owner,
        columns.until,
        columns.request,
        columns.position,
        columns.traceparent,
      ],
    )
  }
  return removed.map((row) => Number(row.seq))
}
