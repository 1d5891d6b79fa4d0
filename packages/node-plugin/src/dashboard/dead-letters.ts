/** The dashboard's dead-letter API: one page of letters as the page shows them (bodies only as a short preview), and replay or purge of one letter or of every letter with a reason. */

import type { ReasonCode } from '@analytics-webhooks/core'
import { isReplayable } from '../store/replayable.js'
import type { DeadCursor, DeadLetter, DeadSelection, QueueStore } from '../store/types.js'

/** A dead letter as the page gets it: everything but the body, which comes as a preview. */
export interface DeadLetterView {
  readonly id: string
  readonly queue: string
  readonly messageId: string | null
  readonly reason: ReasonCode
  readonly detail: string | null
  readonly attempts: number
  readonly lastStatus: number | null
  readonly enqueuedAt: number
  readonly deadAt: number
  /** The body's first {@link PREVIEW_CHARS} characters, plain text for the page to show as text. */
  readonly preview: string
  /** Whether the body was longer than the preview. */
  readonly truncated: boolean
  /** The body's length in UTF-8 bytes. */
  readonly bodyBytes: number
  /** Whether a replay would send it (`false`: no sendable body, as the CLI refuses too). */
  readonly replayable: boolean
}

/** One page of letters, newest first, and the cursor of the next (older) page, or `null` at the end. */
export interface DeadPage {
  readonly letters: readonly DeadLetterView[]
  readonly next: string | null
}

/** An answer from the API: its status and JSON body. */
export interface ApiAnswer {
  readonly status: number
  readonly body: Record<string, unknown>
}

/** Characters of a body the table shows: enough to recognise an event, little enough that a page of 50 stays small. */
export const PREVIEW_CHARS = 240
const DETAIL_CHARS = 500
const PAGE_SIZE = 50
const MAX_PAGE_SIZE = 200
const REASON = /^[a-z0-9_]{1,40}$/
const NEWEST: DeadCursor = { deadAt: Number.MAX_SAFE_INTEGER, id: '' }

/**
 * A page of dead letters for `GET api/dead`: `reason`, `messageId`, `before`
 * (the cursor a previous page returned) and `limit` from the query. Reads one
 * more letter than it shows, to know whether an older page exists.
 *
 * @example
 * const answer = await deadPage(store, 'default', new URL('http://x/api/dead?reason=http_4xx'))
 */
export async function deadPage(
  store: QueueStore,
  queue: string | undefined,
  url: URL,
): Promise<ApiAnswer> {
  const query = url.searchParams
  const reason = query.get('reason') || undefined
  if (reason !== undefined && !REASON.test(reason)) return invalid('reason is not a reason code')
  const messageId = query.get('messageId')?.trim() || undefined
  const limitText = query.get('limit')
  const limit = limitText === null ? PAGE_SIZE : Number(limitText)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE)
    return invalid(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
  const beforeText = query.get('before')
  const before = beforeText === null ? undefined : parseCursor(beforeText)
  if (before === null) return invalid('before is not a cursor this API returned')
  const letters = await store.listDead({
    ...(queue === undefined ? {} : { queue }),
    ...(reason === undefined ? {} : { reason: reason as ReasonCode }),
    ...(messageId === undefined ? {} : { messageId }),
    // A cursor keeps the store in its newest-first order; the first page starts past the newest letter.
    before: before ?? NEWEST,
    limit: limit + 1,
  })
  const shown = letters.slice(0, limit)
  const last = shown.at(-1)
  const page: DeadPage = {
    letters: shown.map(viewOf),
    next:
      letters.length > limit && last ? formatCursor({ deadAt: last.deadAt, id: last.id }) : null,
  }
  return { status: 200, body: { ...page } }
}

/**
 * Replays or purges, for `POST api/dead/replay` and `POST api/dead/purge`:
 * `{ "id": "…" }` for one letter, `{ "reason": "http_4xx" }` for every letter
 * with that reason. Replays follow the CLI's rules: a letter with no sendable
 * body is never replayed, and is counted in `unsendable`; one id that is
 * unsendable answers 409, an unknown one 404.
 *
 * @example
 * const answer = await deadAction(store, 'default', 'replay', { id }, Date.now())
 */
export async function deadAction(
  store: QueueStore,
  queue: string | undefined,
  action: 'replay' | 'purge',
  input: unknown,
  now: number,
): Promise<ApiAnswer> {
  const selection = selectionOf(input)
  if (typeof selection === 'string') return invalid(selection)
  const scope = queue === undefined ? {} : { queue }
  const one = 'ids' in selection
  if (action === 'purge') {
    const purged = await store.purgeDead(selection, scope)
    if (one && purged === 0) return notFound()
    return { status: 200, body: { purged } }
  }
  const { replayed, unsendable } = await store.replayDead(selection, { now, ...scope })
  if (one && unsendable > 0) {
    return {
      status: 409,
      body: {
        error: 'unsendable',
        message:
          'This letter has no sendable body (invalid_payload: the event could not be serialised) and is never replayed; purge it once you have read its detail.',
        replayed,
        unsendable,
      },
    }
  }
  if (one && replayed === 0) return notFound()
  return { status: 200, body: { replayed, unsendable } }
}

/**
 * A letter without its body, which may be large: the first
 * {@link PREVIEW_CHARS} characters stand for it, cut between characters (never
 * inside a surrogate pair). The page shows it as text, never as HTML.
 *
 * @example
 * viewOf(letter).preview // '{"type":"track","event":"Order Completed",…'
 */
export function viewOf(letter: DeadLetter): DeadLetterView {
  const preview = clip(letter.body, PREVIEW_CHARS)
  return {
    id: letter.id,
    queue: letter.queue,
    messageId: letter.messageId,
    reason: letter.reason,
    detail: letter.detail === null ? null : clip(letter.detail, DETAIL_CHARS).text,
    attempts: letter.attempts,
    lastStatus: letter.lastStatus,
    enqueuedAt: letter.enqueuedAt,
    deadAt: letter.deadAt,
    preview: preview.text,
    truncated: preview.truncated,
    bodyBytes: Buffer.byteLength(letter.body),
    replayable: isReplayable(letter),
  }
}

/**
 * The cursor of a page as the API writes it: `<deadAt>.<id>`.
 *
 * @example
 * formatCursor({ deadAt: 1767225600000, id: 'f3c…' }) // '1767225600000.f3c…'
 */
export function formatCursor(cursor: DeadCursor): string {
  return `${cursor.deadAt}.${cursor.id}`
}

/**
 * Reads a cursor {@link formatCursor} wrote, or `null` when `text` is not one.
 *
 * @example
 * parseCursor('1767225600000.f3c…') // { deadAt: 1767225600000, id: 'f3c…' }
 */
export function parseCursor(text: string): DeadCursor | null {
  const dot = text.indexOf('.')
  const deadAt = Number(text.slice(0, dot))
  const id = text.slice(dot + 1)
  if (dot < 1 || !Number.isSafeInteger(deadAt) || id.length === 0 || id.length > 200) return null
  return { deadAt, id }
}

function selectionOf(input: unknown): DeadSelection | string {
  if (typeof input !== 'object' || input === null) return 'give { "id" } or { "reason" }'
  const { id, reason } = input as { id?: unknown; reason?: unknown }
  if ((id === undefined) === (reason === undefined))
    return 'give { "id" } or { "reason" }, one of them'
  if (id !== undefined) {
    if (typeof id !== 'string' || id.length === 0 || id.length > 200) return 'id must be a string'
    return { ids: [id] }
  }
  if (typeof reason !== 'string' || !REASON.test(reason)) return 'reason is not a reason code'
  return { reason: reason as ReasonCode }
}

function clip(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false }
  const last = text.charCodeAt(max - 1)
  // A high surrogate at the cut would leave half a character: leave it out whole.
  const end = last >= 0xd800 && last <= 0xdbff ? max - 1 : max
  return { text: text.slice(0, end), truncated: true }
}

function invalid(message: string): ApiAnswer {
  return { status: 400, body: { error: 'bad_request', message } }
}

function notFound(): ApiAnswer {
  return { status: 404, body: { error: 'not_found', message: 'no dead letter has that id' } }
}
