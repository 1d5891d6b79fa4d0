/** What an acknowledgement of held blocks writes to PostgreSQL, as one statement: progress, settled groups, and the outcome's own rows. */

import type { HeldBlock, HeldGroup } from '../blocks/block.js'
import type { KillUpdate, NewDelivery, RetryUpdate } from '../types.js'
import type { PostgresConnection } from './connection.js'

/** A delivery of a block this store holds, given an outcome, with its place in its request. */
export interface HeldItem {
  readonly block: HeldBlock
  readonly index: number
  /** Its place in the request it was acknowledged with (a retried batch is bound in this order). */
  readonly position: number
}

/** What an acknowledgement does to the deliveries it names. */
export type Outcome =
  | { readonly kind: 'complete'; readonly shard: number }
  | { readonly kind: 'retry'; readonly update: RetryUpdate; readonly shard: number }
  | { readonly kind: 'kill'; readonly update: KillUpdate }
  | { readonly kind: 'release' }

/** Numbered parameters for one statement. */
class Params {
  readonly values: unknown[] = []
  add(value: unknown): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

/**
 * The one statement of an acknowledgement (see `PostgresBlocks.acknowledge`):
 * progress of unsettled blocks, settled groups' blocks removed or unleased,
 * and the outcome's own rows, each only for blocks `lease_owner` says are
 * still the worker's. Returns the seqs of those blocks.
 */
export async function writeOutcome(
  db: PostgresConnection,
  queue: string,
  touched: ReadonlySet<HeldBlock>,
  settled: ReadonlySet<HeldGroup>,
  moved: readonly HeldItem[],
  outcome: Outcome,
): Promise<Set<number>> {
  const p = new Params()
  const s = db.s
  const progress = [...touched].filter((b) => !settled.has(b.group))
  const { removed, unleased, heads } = finishing(settled)
  const q = p.add(queue)
  const ctes = [
    `progress AS (
       UPDATE ${s}.delivery_blocks AS b SET done = v.done, gone = v.gone
       FROM unnest(${p.add(progress.map((b) => b.seq))}::bigint[], ${p.add(progress.map((b) => b.gone))}::int[],
                   ${p.add(progress.map((b) => b.goneMask()))}::text[], ${p.add(progress.map((b) => b.worker))}::text[])
         AS v(seq, done, gone, owner)
       WHERE b.seq = v.seq AND b.lease_owner = v.owner RETURNING b.seq
     )`,
    `removed AS (
       DELETE FROM ${s}.delivery_blocks AS b
       USING unnest(${p.add(removed.map((b) => b.seq))}::bigint[], ${p.add(removed.map((b) => b.worker))}::text[]) AS v(seq, owner)
       WHERE b.seq = v.seq AND b.lease_owner = v.owner RETURNING b.seq
     )`,
    `unleased AS (
       UPDATE ${s}.delivery_blocks AS b
       SET done = v.done, gone = v.gone, lease_owner = NULL, ready_at = b.first_at, lease_group = v.head
       FROM unnest(${p.add(unleased.map((b) => b.seq))}::bigint[], ${p.add(unleased.map((b) => b.gone))}::int[],
                   ${p.add(unleased.map((b) => b.goneMask()))}::text[], ${p.add(unleased.map((b) => b.worker))}::text[],
                   ${p.add(heads)}::bigint[])
         AS v(seq, done, gone, owner, head)
       WHERE b.seq = v.seq AND b.lease_owner = v.owner RETURNING b.seq
     )`,
    `ours AS (SELECT seq FROM progress UNION ALL SELECT seq FROM removed UNION ALL SELECT seq FROM unleased)`,
  ]
  const effect = outcomeSql(s, q, p, moved, outcome)
  if (effect) ctes.push(...effect)
  const { rows } = await db.run<{ ours: string[] | null }>(
    `WITH ${ctes.join(',\n')}
     SELECT (SELECT array_agg(seq)::text[] FROM ours) AS ours,
            (SELECT pg_notify(${p.add(db.channel)}, ${q}) FROM unleased LIMIT 1) AS notified`,
    p.values,
  )
  return new Set((rows[0]?.ours ?? []).map(Number))
}

/**
 * How settled groups are written: blocks with every delivery gone are
 * removed, the others unleased with what is left, under the group's first
 * remaining block as its new head (so the group stays claimable as one).
 */
export function finishing(settled: ReadonlySet<HeldGroup>): {
  removed: HeldBlock[]
  unleased: HeldBlock[]
  heads: number[]
} {
  const removed: HeldBlock[] = []
  const unleased: HeldBlock[] = []
  const heads: number[] = []
  for (const group of settled) {
    const left = group.blocks.filter((b) => b.gone < b.deliveries.length)
    const head = Math.min(...left.map((b) => b.seq))
    for (const block of group.blocks) {
      if (block.gone === block.deliveries.length) removed.push(block)
      else {
        unleased.push(block)
        heads.push(head)
      }
    }
  }
  return { removed, unleased, heads }
}

/** The statements an outcome adds for the deliveries it moved, each only for blocks in `ours`. */
function outcomeSql(
  s: string,
  q: string,
  p: Params,
  moved: readonly HeldItem[],
  outcome: Outcome,
): string[] | undefined {
  if (outcome.kind === 'release' || moved.length === 0) return undefined
  const seqs = p.add(moved.map((m) => m.block.seq))
  if (outcome.kind === 'complete') {
    return [
      `counted AS (
         INSERT INTO ${s}.counters AS c (queue, shard, delivered)
         SELECT ${q}, ${p.add(outcome.shard)}, count(*) FROM unnest(${seqs}::bigint[]) AS x(seq)
         WHERE x.seq IN (SELECT seq FROM ours) HAVING count(*) > 0
         ON CONFLICT (queue, shard) DO UPDATE SET delivered = c.delivered + excluded.delivered
       )`,
    ]
  }
  const deliveries = moved.map((m) => m.block.deliveries[m.index] as NewDelivery)
  // A kill leaves `traceparent` out: dead letters keep none (see DeadLetter).
  const columns = `unnest(${seqs}::bigint[], ${p.add(deliveries.map((d) => d.id))}::text[],
           ${p.add(deliveries.map((d) => d.body))}::text[], ${p.add(deliveries.map((d) => d.messageId))}::text[],
           ${p.add(deliveries.map((d) => d.enqueuedAt))}::bigint[], ${p.add(moved.map((m) => m.position))}::int[],
           ${p.add(deliveries.map((d) => d.traceparent ?? null))}::text[])
         WITH ORDINALITY AS x(seq, id, body, message_id, enqueued_at, pos, traceparent, o)`
  if (outcome.kind === 'kill') {
    const { attempts, now, reason, status, detail } = outcome.update
    return [
      `killed AS (
         INSERT INTO ${s}.dead_letters AS dl
           (queue, id, body, message_id, enqueued_at, attempts, dead_at, reason, last_status, detail)
         SELECT ${q}, x.id, x.body, x.message_id, x.enqueued_at, ${p.add(attempts)}, ${p.add(now)},
                ${p.add(reason)}, ${p.add(status)}::int, ${p.add(detail)}::text
         FROM ${columns} WHERE x.seq IN (SELECT seq FROM ours) ORDER BY x.o
         ON CONFLICT (queue, id) DO UPDATE SET
           body = excluded.body, message_id = excluded.message_id, enqueued_at = excluded.enqueued_at,
           attempts = excluded.attempts, dead_at = excluded.dead_at, reason = excluded.reason,
           last_status = excluded.last_status, detail = excluded.detail
       )`,
    ]
  }
  const { at, attempts, reason, status } = outcome.update
  const request = p.add(outcome.update.requestId ?? null)
  return [
    `retried AS (
       INSERT INTO ${s}.deliveries AS d
         (queue, id, body, message_id, enqueued_at, next_attempt_at, attempts, last_reason, last_status,
          request_id, request_pos, traceparent)
       SELECT ${q}, x.id, x.body, x.message_id, x.enqueued_at, ${p.add(at)}, ${p.add(attempts)},
              ${p.add(reason)}, ${p.add(status)}::int, ${request}::text,
              CASE WHEN ${request}::text IS NULL THEN NULL ELSE x.pos END, x.traceparent
       FROM ${columns} WHERE x.seq IN (SELECT seq FROM ours) ORDER BY x.o
       ON CONFLICT (queue, id) DO UPDATE SET
         next_attempt_at = excluded.next_attempt_at, attempts = excluded.attempts,
         last_reason = excluded.last_reason, last_status = excluded.last_status,
         request_id = excluded.request_id, request_pos = excluded.request_pos,
         lease_owner = NULL, lease_expires_at = NULL
       RETURNING 1
     )`,
    `counted AS (
       INSERT INTO ${s}.counters AS c (queue, shard, retried)
       SELECT ${q}, ${p.add(outcome.shard)}, count(*) FROM retried HAVING count(*) > 0
       ON CONFLICT (queue, shard) DO UPDATE SET retried = c.retried + excluded.retried
     )`,
  ]
}
