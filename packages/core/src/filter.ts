/** Which calls a destination sends: the `events` setting's types and its rule (settings.ts validates it). Both plugins apply it before an event is stored. */

import { EVENT_TYPES } from './payload.js'

/** The calls a destination can send: Segment's six, and the node plugin's deletion notices. */
export const CALL_TYPES: readonly string[] = [...EVENT_TYPES, 'delete']

/**
 * The `events` setting: call types (`track`, `identify`, `page`, `screen`,
 * `group`, `alias`, `delete`) and track event names (`track:Order Completed`).
 */
export interface EventsInput {
  /** Send only the calls listed. Default: every call. */
  include?: readonly string[]
  /** Never send the calls listed, even included ones. */
  exclude?: readonly string[]
}

/** The `events` setting after validation. */
export interface EventFilter {
  /** `undefined`: every call is included. */
  readonly include: readonly string[] | undefined
  readonly exclude: readonly string[]
}

/**
 * Whether a destination with this `events` setting sends a call of `type`
 * (for a track call, `name` is its event name): it is included (by its type,
 * or by `track:<name>`), and not excluded by either. Names match exactly.
 *
 * @example
 * const events = parseEvents({ include: ['track'], exclude: ['track:Heartbeat'] })
 * sendsEvent(events, 'track', 'Order Completed') // true
 * sendsEvent(events, 'track', 'Heartbeat') // false
 * sendsEvent(events, 'identify') // false
 */
export function sendsEvent(
  filter: EventFilter | undefined,
  type: unknown,
  name?: unknown,
): boolean {
  // Entries are call types, or `track:` and a name (settings.ts refuses anything else).
  const lists = (list: readonly string[]) =>
    list.includes(type as string) || (type === 'track' && list.includes(`track:${name}`))
  return !filter || ((!filter.include || lists(filter.include)) && !lists(filter.exclude))
}
