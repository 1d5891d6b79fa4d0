/** The `analytics-webhooks` command: queue stats and the dead-letter store (list, replay, purge) of a SQLite file or a PostgreSQL database. */

import { parseArgs } from 'node:util'
import { asError, type ReasonCode, WebhookError } from '@analytics-webhooks/core'
import { openQueueAt, QueueLocationError } from './queue-location.js'
import type { DeadLetter, DeadSelection, QueueStats, QueueStore } from './store/types.js'

const HELP = `Usage: analytics-webhooks <command> [options]

Commands:
  stats                        Counts: queued, in flight, retrying, delivered, retried, dead by reason
  dead list                    Lists dead letters (newest last)
  dead replay <id...> | --all | --reason R
                               Moves dead letters back into their queue, due now, with a fresh retry window
                               (never one with no sendable body: invalid_payload letters are refused, or
                               skipped and counted with --all and --reason)
  dead purge <id...> | --all | --reason R
                               Deletes dead letters for good
  ui                           Serves a live page over the queue: counts, outcomes over time, the
                               destination's state, dead letters to replay or purge (ui --help)

Options:
  --db PATH       The SQLite queue file (default: $ANALYTICS_WEBHOOKS_DB, else ./.data/analytics-webhooks.sqlite)
  --database-url URL
                  A PostgreSQL queue instead (default: $DATABASE_URL when neither --db nor
                  $ANALYTICS_WEBHOOKS_DB is given); the password is never printed
  --schema NAME   With PostgreSQL: the queue's schema (default: analytics_webhooks)
  --queue NAME    Only this queue (default: every queue in the file)
  --all           With replay or purge: every dead letter (of --queue, if given)
  --reason R      With dead list, replay or purge: only letters with this reason (http_4xx, timeout, …;
                  of --queue, if given)
  --message-id M  With dead list: only letters whose messageId is exactly M
  --limit N       With dead list: at most N letters (default 100)
  --offset N      With dead list: skip the first N letters
  --json          Machine-readable output
  -h, --help      This help

Exit codes: 0 done, 1 failed, 2 usage error.
`

/** A problem with how the command was called (exit code 2). */
class UsageError extends WebhookError<'usage'> {
  override readonly name = 'UsageError'
  constructor(message: string) {
    super('usage', message)
  }
}

/** A problem running a valid command (exit code 1). */
class CommandError extends WebhookError<'unsendable' | 'not_found'> {
  override readonly name = 'CommandError'
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        db: { type: 'string' },
        'database-url': { type: 'string' },
        schema: { type: 'string' },
        queue: { type: 'string' },
        all: { type: 'boolean', default: false },
        reason: { type: 'string' },
        'message-id': { type: 'string' },
        limit: { type: 'string' },
        offset: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (error) {
    throw new UsageError(asError(error).message)
  }
}

function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`--${name} must be a whole number, got ${value}`)
  return n
}

/** Renders rows as an aligned text table. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

function statsText(stats: QueueStats, queue: string | undefined): string {
  const rows: string[][] = [
    ['queue', queue ?? '(all)'],
    ['queued', String(stats.queued)],
    ['in flight', String(stats.inFlight)],
    ['retrying', String(stats.retrying)],
    ['delivered', String(stats.delivered)],
    ['retried', String(stats.retried)],
    ['dead', String(stats.dead)],
    ...Object.entries(stats.deadByReason).map(([reason, n]) => [`  dead: ${reason}`, String(n)]),
    [
      'oldest waiting',
      stats.oldestEnqueuedAt === null ? '-' : new Date(stats.oldestEnqueuedAt).toISOString(),
    ],
  ]
  return table(['', 'count'], rows)
}

function deadText(letters: DeadLetter[]): string {
  if (letters.length === 0) return 'No dead letters.'
  const clip = (text: string, max: number) =>
    text.length > max ? `${text.slice(0, max - 1)}…` : text
  return table(
    ['id', 'queue', 'reason', 'status', 'attempts', 'dead at', 'messageId', 'detail'],
    letters.map((l) => [
      l.id,
      l.queue,
      l.reason,
      l.lastStatus === null ? '-' : String(l.lastStatus),
      String(l.attempts),
      new Date(l.deadAt).toISOString(),
      l.messageId ?? '-',
      clip(l.detail ?? '', 60),
    ]),
  )
}

function selection(
  ids: string[],
  all: boolean,
  reason: string | undefined,
  verb: string,
): DeadSelection {
  const given = [ids.length > 0, all, reason !== undefined].filter(Boolean).length
  if (given > 1) throw new UsageError(`dead ${verb}: give ids, --all or --reason, only one of them`)
  if (all) return { all: true }
  // Not checked against the known reasons: a reason no letter has selects none, as in `dead list`.
  if (reason !== undefined) return { reason: reason as ReasonCode }
  if (ids.length === 0)
    throw new UsageError(`dead ${verb}: give one or more ids, --all or --reason`)
  return { ids }
}

/**
 * Runs the command line and returns the exit code; output goes to `out`, errors to `err`.
 *
 * @example
 * process.exitCode = await runCli(['dead', 'list', '--db', './queue.sqlite', '--json'], console.log, console.error)
 */
export async function runCli(
  argv: string[],
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  // `ui` has options of its own (port, host, token) and runs until stopped.
  if (argv[0] === 'ui')
    return (await import('./dashboard/ui.js')).runUi(argv.slice(1), { out, err })
  let store: QueueStore | undefined
  try {
    const { values, positionals } = parse(argv)
    if (values.help || positionals.length === 0) {
      out(HELP)
      return values.help ? 0 : 2
    }
    const [command, sub, ...rest] = positionals
    const known =
      command === 'stats' || (command === 'dead' && ['list', 'replay', 'purge'].includes(sub ?? ''))
    if (!known) throw new UsageError(`unknown command: ${positionals.join(' ')} (see --help)`)
    store = (await openQueueAt(values)).store
    const queue = values.queue
    const print = (json: unknown, text: string) =>
      out(values.json ? JSON.stringify(json, null, 2) : text)

    if (command === 'stats') {
      if (sub !== undefined) throw new UsageError(`stats takes no arguments, got ${sub}`)
      if (values.reason !== undefined || values['message-id'] !== undefined)
        throw new UsageError('--reason and --message-id are for dead list, replay and purge')
      const stats = await store.stats(queue)
      print({ queue: queue ?? null, ...stats }, statsText(stats, queue))
    } else if (sub === 'list') {
      if (rest.length > 0) throw new UsageError(`dead list takes no ids, got ${rest.join(' ')}`)
      const letters = await store.listDead({
        ...(queue === undefined ? {} : { queue }),
        ...(values.reason === undefined ? {} : { reason: values.reason as ReasonCode }),
        ...(values['message-id'] === undefined ? {} : { messageId: values['message-id'] }),
        limit: count('limit', values.limit, 100),
        offset: count('offset', values.offset, 0),
      })
      print(letters, deadText(letters))
    } else if (values['message-id'] !== undefined) {
      throw new UsageError(`--message-id is for dead list; dead ${sub} takes ids`)
    } else if (sub === 'replay') {
      const { replayed, unsendable } = await store.replayDead(
        selection(rest, values.all, values.reason, 'replay'),
        { now: Date.now(), ...(queue === undefined ? {} : { queue }) },
      )
      const lines = [`Replayed ${replayed} dead letter${replayed === 1 ? '' : 's'}.`]
      if (unsendable > 0) {
        lines.push(
          `Skipped ${unsendable} with no sendable body (invalid_payload: the event could not be serialised, so nothing was ever signed or sent; its detail shows a preview).`,
        )
      }
      print({ replayed, unsendable }, lines.join('\n'))
      // By ids, each one named must be acted on; --all and --reason act on whatever there is.
      const byIds = !values.all && values.reason === undefined
      if (byIds && unsendable > 0) {
        const which =
          rest.length === 1 ? `dead letter ${rest[0]} has` : `${unsendable} of them have`
        throw new CommandError(
          'unsendable',
          `${which} no sendable body (invalid_payload) and cannot be replayed; purge it once you have read its detail`,
        )
      }
      if (replayed === 0 && byIds) throw new CommandError('not_found', 'no dead letter has that id')
    } else {
      const purged = await store.purgeDead(
        selection(rest, values.all, values.reason, 'purge'),
        queue === undefined ? {} : { queue },
      )
      print({ purged }, `Purged ${purged} dead letter${purged === 1 ? '' : 's'}.`)
      if (purged === 0 && !values.all && values.reason === undefined)
        throw new CommandError('not_found', 'no dead letter has that id')
    }
    return 0
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error instanceof QueueLocationError && error.code === 'usage')
    ) {
      err(`analytics-webhooks: ${error.message}`)
      return 2
    }
    err(`analytics-webhooks: ${asError(error).message}`)
    return 1
  } finally {
    await store?.close()
  }
}

process.exitCode = await runCli(
  process.argv.slice(2),
  (text) => process.stdout.write(`${text}\n`),
  (text) => process.stderr.write(`${text}\n`),
)
