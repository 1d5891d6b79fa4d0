/** What a destination sends: the `events` setting (which calls) and the `transform` option (what each becomes). Both plugins apply them before an event is stored. */

import { PayloadError, SettingsError } from './errors.js'
import { serializePayload, type WebhookPayload } from './payload.js'
import { didYouMean } from './suggest.js'

/** The calls a destination can send: Segment's six, and the node plugin's deletion notices. */
export const CALL_TYPES: readonly string[] = [
  'track',
  'identify',
  'page',
  'screen',
  'group',
  'alias',
  'delete',
]

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
 * Validates the `events` setting (`undefined` when it is left out: every call
 * is sent). Throws a {@link SettingsError} naming the entry and the rule.
 *
 * @example
 * parseEvents({ include: ['track', 'identify'], exclude: ['track:Heartbeat'] })
 * parseEvents({ include: ['trak'] }) // throws: events.include[0]: "trak" is not a call type or track:<event name>, did you mean track? …
 */
export function parseEvents(value: unknown): EventFilter | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SettingsError(
      'events',
      'invalid_type',
      'must be an object with include and/or exclude',
    )
  }
  const lists = value as EventsInput
  for (const key of Object.keys(lists)) {
    if (key !== 'include' && key !== 'exclude') {
      throw new SettingsError(
        `events.${key}`,
        'unknown_field',
        `is not a setting${didYouMean(key, ['include', 'exclude'])}`,
      )
    }
  }
  const include = lists.include && parseList('events.include', lists.include)
  if (include?.length === 0) {
    throw new SettingsError(
      'events.include',
      'too_few',
      'must list at least one call (leave it out to send every call)',
    )
  }
  return Object.freeze({ include, exclude: parseList('events.exclude', lists.exclude ?? []) })
}

function parseList(field: string, list: unknown): readonly string[] {
  if (!Array.isArray(list)) throw new SettingsError(field, 'invalid_type', 'must be an array')
  // A plain loop, not map(): map skips the holes of a sparse array.
  for (let i = 0; i < list.length; i++) {
    const entry: unknown = list[i]
    if (typeof entry !== 'string')
      throw new SettingsError(`${field}[${i}]`, 'invalid_type', 'must be a string')
    if (!CALL_TYPES.includes(entry) && !/^track:./.test(entry)) {
      throw new SettingsError(
        `${field}[${i}]`,
        'invalid_choice',
        `"${entry}" is not a call type or track:<event name>${didYouMean(entry, CALL_TYPES)}`,
      )
    }
  }
  return Object.freeze([...list])
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
  if (!filter) return true
  const named = type === 'track' && typeof name === 'string' ? `track:${name}` : undefined
  const lists = (list: readonly string[]) =>
    list.includes(type as string) || (named !== undefined && list.includes(named))
  return (!filter.include || lists(filter.include)) && !lists(filter.exclude)
}

/**
 * The `transform` option: given a copy of the payload as it would be sent
 * (`JSON.parse` of its body), returns the payload to send instead (an object
 * with a string `type`), or `null` to skip the event. It runs once, before the
 * event is stored, and must return synchronously.
 */
export type Transform = (payload: Record<string, unknown>) => Record<string, unknown> | null

/**
 * Runs `transform` on a serialised payload and returns the body to store (the
 * bytes that are signed and sent), or `null` when it skips the event. Throws a
 * {@link PayloadError} (`transform_failed`) when the transform throws or
 * returns anything else; the plugins dead-letter that event `invalid_payload`
 * with the message as its detail, and go on with the next.
 *
 * @example
 * transformBody((p) => ({ ...p, event: String(p.event).toLowerCase() }), body) // '{"version":1,…,"event":"signed up",…}'
 * transformBody(() => null, body) // null: skipped
 */
export function transformBody(transform: Transform, body: string): string | null {
  let payload: unknown
  try {
    payload = transform(JSON.parse(body))
  } catch (error) {
    const message = String(error instanceof Error ? error.message : error)
    throw new PayloadError('transform', 'transform_failed', `threw: ${message.slice(0, 200)}`)
  }
  if (payload === null) return null
  const type = (payload as { type?: unknown } | undefined)?.type
  if (typeof payload !== 'object' || Array.isArray(payload) || typeof type !== 'string' || !type) {
    throw new PayloadError(
      'transform',
      'transform_failed',
      'must return an event object with a type, or null to skip the event (synchronously: a Promise is not waited for)',
    )
  }
  return serializePayload(payload as WebhookPayload)
}
