/** The retry queue persisted in localStorage: one key per event, oldest first, bounded by count and size. */

import type { DropReason, QueuedEvent } from './events.js'

/** The part of the Web Storage API the queue uses; `localStorage` is one. */
export type StorageArea = Pick<Storage, 'getItem' | 'setItem' | 'removeItem' | 'key' | 'length'>

/** A queued event and when it is next due. */
export interface QueueEntry extends QueuedEvent {
  /** When the event was queued (ms since the epoch); the retry window counts from here. */
  readonly enqueuedAt: number
  /** Not sent before this moment (ms since the epoch). */
  readonly nextAt: number
}

/** How much the queue holds before it drops its oldest events. */
export interface QueueLimits {
  /** At most this many events. */
  readonly maxEvents: number
  /** At most this many characters of keys and values in storage. */
  readonly maxChars: number
}

/** A queue of serialised events in a Web Storage area, made by {@link openQueue}. */
export interface PersistedQueue {
  /** Stores a new event, making room first; returns it, or `undefined` when it could not be kept (and was reported). */
  push(messageId: string, body: string, now: number): QueueEntry | undefined
  /** The ids of every queued event (this tab's and other tabs'), oldest first. */
  ids(): string[]
  /** The event with this id, or `undefined` when it is gone; an unreadable entry is removed and reported. */
  get(id: string): QueueEntry | undefined
  /** Records another attempt and the next due time, unless the event left the queue meanwhile. */
  update(entry: QueueEntry): void
  /** Removes an event (delivered, dead or dropped). */
  remove(id: string): void
}

let sequence = 0

/**
 * Opens the queue of serialised events kept under `<name>:` in a Web Storage
 * area, shared by every tab of the origin. Each event lives under its own key
 * (`<name>:<id>`), so adding, updating and removing one event never rewrites
 * another tab's events. Ids start with the enqueue time, so key order is queue
 * order. When a new event does not fit in the limits (or the browser's quota),
 * the oldest events are removed and reported to `onDrop`; an entry that cannot
 * be read is removed and reported as `corrupt`.
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
      onDrop(entry, reason)
    }
  }
  return {
    ids,
    get,
    remove,
    push(messageId, body, now) {
      const id = `${now.toString(36).padStart(9, '0')}${(sequence++ % 1296).toString(36).padStart(2, '0')}${Math.random().toString(36).slice(2, 8)}`
      const entry: QueueEntry = { id, messageId, body, attempts: 0, enqueuedAt: now, nextAt: now }
      const key = prefix + id
      const text = encode(entry)
      const size = key.length + text.length
      const { maxEvents, maxChars } = limits
      if (size > maxChars || maxEvents < 1) return void onDrop(entry, 'queue_full')
      const older = ids()
      const charsOf = (old: string) =>
        prefix.length + old.length + (storage.getItem(prefix + old)?.length ?? 0)
      let count = older.length
      let chars = older.reduce((sum, old) => sum + charsOf(old), 0)
      let oldest = 0
      while (count >= maxEvents || chars + size > maxChars) {
        const old = older[oldest++] as string
        chars -= charsOf(old)
        count--
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

// An entry is a one-line JSON header, a newline, then the body exactly as it is sent.
function encode(entry: QueueEntry): string {
  return `${JSON.stringify([entry.attempts, entry.enqueuedAt, entry.nextAt, entry.messageId])}\n${entry.body}`
}

function decode(id: string, text: string): QueueEntry | undefined {
  const newline = text.indexOf('\n')
  const body = text.slice(newline + 1)
  const ends = `${body[0]}${body.at(-1)}`
  if (newline < 0 || (ends !== '{}' && ends !== '[]')) return undefined
  try {
    const [attempts, enqueuedAt, nextAt, messageId] = JSON.parse(text.slice(0, newline))
    if (
      Number.isInteger(attempts) &&
      Number.isFinite(enqueuedAt) &&
      Number.isFinite(nextAt) &&
      typeof messageId === 'string'
    )
      return { id, messageId, body, attempts, enqueuedAt, nextAt }
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
