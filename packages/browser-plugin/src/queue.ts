/** The retry queue persisted in localStorage: one key per event not sent yet or per request, oldest first, bounded by count and size. */

import type { DropReason, QueuedEvent } from './events.js'

/** The part of the Web Storage API the queue uses; `localStorage` is one. */
export type StorageArea = Pick<Storage, 'getItem' | 'setItem' | 'removeItem' | 'key' | 'length'>

/** A queued event not sent yet, or a request (one event, or a batch of them), and when it is next due. */
export interface QueueEntry extends QueuedEvent {
  /** When the (first) event was queued (ms since the epoch); the retry window counts from here. */
  readonly enqueuedAt: number
  /** Not sent before this moment (ms since the epoch). */
  readonly nextAt: number
  /**
   * 0 for an event never sent, which may still be packed with others. Once
   * the entry is a request, how many events it carries: it is stored before
   * its first send, then sent as it is (same body, same id) until it is
   * delivered or dead. A request's `body` is one event, or a batch (a JSON
   * array).
   */
  readonly sent: number
}

/** How much the queue holds before it drops its oldest events. */
export interface QueueLimits {
  /** At most this many events. */
  readonly maxEvents: number
  /** At most this many characters of keys and values in storage. */
  readonly maxChars: number
}

/** A queue of serialised events and requests in a Web Storage area, made by {@link openQueue}. */
export interface PersistedQueue {
  /** Stores a new event, making room first; returns it, or `undefined` when it could not be kept (and was reported). */
  push(messageId: string, body: string, now: number): QueueEntry | undefined
  /** The ids of every entry (this tab's and other tabs'), oldest first. */
  ids(): string[]
  /** The entry with this id, or `undefined` when it is gone; an unreadable entry is removed and reported. */
  get(id: string): QueueEntry | undefined
  /** Records another attempt and the next due time, unless the entry left the queue meanwhile. */
  update(entry: QueueEntry): void
  /** Stores an entry under its id, as it is; throws when storage refuses (then nothing changed). */
  put(entry: QueueEntry): QueueEntry
  /** Removes an entry (delivered, dead or dropped). */
  remove(id: string): void
}

let sequence = 0

/**
 * A new queue id: the time first, so that key order is queue order, then a
 * counter and a random part, so ids made in one millisecond (or by two tabs)
 * differ.
 *
 * @example
 * queueId(Date.now()) // '0mjuzv8w0005x1k2q9'
 */
export function queueId(now: number): string {
  return `${now.toString(36).padStart(9, '0')}${(sequence++ % 1296).toString(36).padStart(2, '0')}${Math.random().toString(36).slice(2, 8)}`
}

/**
 * The events an entry carries, in order: the entry itself, or each event of a
 * batch, under the entry's id. A batch's events are read back from its body:
 * core writes events so that `JSON.stringify(JSON.parse(json))` gives the
 * same text.
 *
 * @example
 * for (const event of eventsOf(entry)) console.log(event.messageId, event.body)
 */
export function eventsOf(entry: QueueEntry): QueuedEvent[] {
  return entry.body[0] === '['
    ? JSON.parse(entry.body).map((event: { messageId?: string }) => ({
        ...entry,
        messageId: event.messageId ?? '',
        body: JSON.stringify(event),
      }))
    : [entry]
}

/**
 * Opens the queue of serialised events kept under `<name>:` in a Web Storage
 * area, shared by every tab of the origin. Each event lives under its own key
 * (`<name>:<id>`) until it is sent, then under its request's (its first
 * event's), so adding, updating and removing one never rewrites another tab's
 * events. Ids start with the enqueue time, so key order is queue order. When a
 * new event does not fit in the limits (or the browser's quota), the oldest
 * entries are removed and each of their events reported to `onDrop`; an entry
 * that cannot be read is removed and reported as `corrupt`.
 *
 * @example
 * const queue = openQueue(localStorage, 'analytics-webhooks', { maxEvents: 1000, maxChars: 2_000_000 }, (e, why) => console.warn(why, e.id))
 * queue.push('msg-1', '{"version":1,"type":"track"}', Date.now())
 * for (const id of queue.ids()) console.log(queue.get(id)?.body)
 */
export function openQueue(
  storage: StorageArea,
  name: string,
  limits: QueueLimits,
  onDrop: (event: QueuedEvent, reason: DropReason) => void,
): PersistedQueue {
  const prefix = `${name}:`
  const remove = (id: string) => storage.removeItem(prefix + id)
  const ids = () => {
    const found: string[] = []
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i)
      if (key?.startsWith(prefix)) found.push(key.slice(prefix.length))
    }
    return found.sort()
  }
  const get = (id: string) => {
    const text = storage.getItem(prefix + id)
    if (text === null) return undefined
    const entry = decode(id, text)
    if (!entry) {
      remove(id)
      onDrop({ id, messageId: '', body: text, attempts: 0 }, 'corrupt')
    }
    return entry
  }
  const evict = (id: string, reason: DropReason) => {
    const entry = get(id)
    if (entry) {
      remove(id)
      for (const event of eventsOf(entry)) onDrop(event, reason)
    }
  }
  return {
    ids,
    get,
    remove,
    push(messageId, body, now) {
      const id = queueId(now)
      const entry: QueueEntry = {
        id,
        messageId,
        body,
        attempts: 0,
        enqueuedAt: now,
        nextAt: now,
        sent: 0,
      }
      const key = prefix + id
      const text = encode(entry)
      const size = key.length + text.length
      const { maxEvents, maxChars } = limits
      if (size > maxChars || maxEvents < 1) return void onDrop(entry, 'queue_full')
      const older = ids()
      const charsOf = (old: string) =>
        prefix.length + old.length + (storage.getItem(prefix + old)?.length ?? 0)
      // A request holds its events in one entry: count them, not the entries.
      const eventsIn = (old: string) => get(old)?.sent || 1
      let count = older.reduce((sum, old) => sum + eventsIn(old), 0)
      let chars = older.reduce((sum, old) => sum + charsOf(old), 0)
      let oldest = 0
      while (count >= maxEvents || chars + size > maxChars) {
        const old = older[oldest++] as string
        chars -= charsOf(old)
        count -= eventsIn(old)
        evict(old, 'queue_full')
      }
      for (;;) {
        try {
          storage.setItem(key, text)
          return entry
        } catch {
          // The browser's quota is full: make room, oldest first, until it fits.
          const old = older[oldest++]
          if (old === undefined) return void onDrop(entry, 'storage_full')
          evict(old, 'storage_full')
        }
      }
    },
    put(entry) {
      storage.setItem(prefix + entry.id, encode(entry))
      return entry
    },
    update(entry) {
      const key = prefix + entry.id
      if (storage.getItem(key) === null) return
      try {
        storage.setItem(key, encode(entry))
      } catch {
        // Same size as before, so only a full quota fails; the old due time stays, which is safe.
      }
    },
  }
}

// An entry is a one-line JSON header, a newline, then the body exactly as it is sent. The header
// is [attempts, enqueuedAt, nextAt, messageId, sent]. Entries of earlier releases have no `sent`:
// they are read as events never sent (a batch one was sent in was not kept), and packed anew.
function encode(entry: QueueEntry): string {
  return `${JSON.stringify([entry.attempts, entry.enqueuedAt, entry.nextAt, entry.messageId, entry.sent])}\n${entry.body}`
}

function decode(id: string, text: string): QueueEntry | undefined {
  const newline = text.indexOf('\n')
  const body = text.slice(newline + 1)
  const ends = `${body[0]}${body.at(-1)}`
  if (newline < 0 || (ends !== '{}' && ends !== '[]')) return undefined
  try {
    const [attempts, enqueuedAt, nextAt, messageId, sent = 0] = JSON.parse(text.slice(0, newline))
    if (
      Number.isInteger(attempts) &&
      Number.isFinite(enqueuedAt) &&
      Number.isFinite(nextAt) &&
      typeof messageId === 'string' &&
      Number.isInteger(sent) &&
      sent >= 0 &&
      (sent || ends === '{}')
    )
      return { id, messageId, body, attempts, enqueuedAt, nextAt, sent }
  } catch {}
  return undefined
}

/**
 * `localStorage` when the page may use it, otherwise an in-memory area (private
 * modes, disabled storage, sandboxed frames): delivery still works, it just
 * does not survive a reload.
 *
 * @example
 * const storage = webStorage()
 */
export function webStorage(): StorageArea {
  try {
    const storage = globalThis.localStorage
    storage.setItem('analytics-webhooks.probe', '')
    storage.removeItem('analytics-webhooks.probe')
    return storage
  } catch {
    const items = new Map<string, string>()
    return {
      get length() {
        return items.size
      },
      key: (i) => [...items.keys()][i] ?? null,
      getItem: (key) => items.get(key) ?? null,
      setItem: (key, value) => void items.set(key, String(value)),
      removeItem: (key) => void items.delete(key),
    }
  }
}
