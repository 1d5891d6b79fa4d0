/** Which dead letters may be replayed: only those whose stored bytes the plugin would have sent. */

import type { DeadLetter } from './types.js'

/**
 * Whether a dead letter can be replayed. An `invalid_payload` letter never
 * had a sendable body (the event could not be serialised), and earlier
 * releases stored a best-effort rendering there (the literal `null`, or the
 * raw event with `"[Circular]"` and `_metadata`): signing and sending that
 * would deliver something the plugin never would have. Every store applies
 * the same rule in SQL ({@link REPLAYABLE_SQL}).
 *
 * @example
 * isReplayable({ reason: 'http_4xx', body: '{"type":"track"}' }) // true
 * isReplayable({ reason: 'invalid_payload', body: '' }) // false
 */
export function isReplayable(letter: Pick<DeadLetter, 'reason' | 'body'>): boolean {
  return letter.reason !== 'invalid_payload' && letter.body.length > 0
}

/** {@link isReplayable} as a SQL condition on a dead-letter row (SQLite and PostgreSQL alike). */
export const REPLAYABLE_SQL = "(reason <> 'invalid_payload' AND body <> '')"
