// @vitest-environment happy-dom
/** The persisted queue: order, bounds, persistence across instances, and unreadable contents. */

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { DropReason, QueuedEvent } from '../events.js'
import {
  eventsOf,
  openQueue,
  type PersistedQueue,
  type QueueEntry,
  type StorageArea,
  webStorage,
} from '../queue.js'

const body = (n: number) => JSON.stringify({ version: 1, type: 'track', event: `e${n}` })

function open(limits = { maxEvents: 100, maxChars: 100_000 }, storage: StorageArea = localStorage) {
  const dropped: Array<{ event: QueuedEvent; reason: DropReason }> = []
  const queue = openQueue(storage, 'test', limits, (event, reason) =>
    dropped.push({ event, reason }),
  )
  return { queue, dropped }
}

const bodies = (queue: PersistedQueue) => queue.ids().map((id) => queue.get(id)?.body)

beforeEach(() => {
  localStorage.clear()
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
})
afterEach(() => vi.useRealTimers())

describe('order and persistence', () => {
  it('keeps events oldest first, also when several arrive in the same millisecond', () => {
    const { queue } = open()
    for (let n = 0; n < 5; n++) queue.push(`m${n}`, body(n), Date.now())
    vi.advanceTimersByTime(1)
    queue.push('m5', body(5), Date.now())
    expect(bodies(queue)).toEqual([0, 1, 2, 3, 4, 5].map(body))
  })

  it('survives a new instance over the same storage (a reload), with every field intact', () => {
    const first = open().queue
    const pushed = first.push('msg-1', body(1), Date.now())
    const reopened = open().queue
    expect(reopened.ids()).toEqual([pushed?.id])
    expect(reopened.get(pushed?.id as string)).toEqual(pushed)
  })

  it('records attempts and the next due time, and does not bring back a removed event', () => {
    const { queue } = open()
    const entry = queue.push('m', body(1), Date.now())!
    queue.update({ ...entry, attempts: 2, nextAt: entry.nextAt + 5000 })
    expect(open().queue.get(entry.id)).toMatchObject({ attempts: 2, nextAt: entry.nextAt + 5000 })
    queue.remove(entry.id)
    queue.update({ ...entry, attempts: 3 })
    expect(queue.ids()).toEqual([])
  })

  it('keeps a request as one entry, with its body and count, across a new instance', () => {
    const { queue } = open()
    const [first, second] = [
      queue.push('m1', body(1), Date.now()),
      queue.push('m2', body(2), Date.now()),
    ] as QueueEntry[]
    const request = queue.put({ ...first!, body: `[${body(1)},${body(2)}]`, sent: 2 })
    queue.remove(second!.id)
    const reopened = open().queue
    expect(reopened.ids()).toEqual([first!.id])
    expect(reopened.get(first!.id)).toEqual(request)
    expect(eventsOf(request).map((e) => [e.messageId, e.body])).toEqual([
      ['', body(1)], // the test bodies have no messageId
      ['', body(2)],
    ])
  })

  it('ignores keys that belong to other prefixes and other libraries', () => {
    localStorage.setItem('ajs_user_id', '"u1"')
    localStorage.setItem('other:1', body(9))
    const { queue } = open()
    queue.push('m', body(1), Date.now())
    expect(bodies(queue)).toEqual([body(1)])
    expect(localStorage.getItem('ajs_user_id')).toBe('"u1"')
  })
})

describe('bounds: the oldest are dropped and reported, never silently', () => {
  it('holds at most maxEvents', () => {
    const { queue, dropped } = open({ maxEvents: 3, maxChars: 100_000 })
    for (let n = 0; n < 5; n++) queue.push(`m${n}`, body(n), Date.now() + n)
    expect(bodies(queue)).toEqual([2, 3, 4].map(body))
    expect(dropped.map((d) => [d.event.messageId, d.event.body, d.reason])).toEqual([
      ['m0', body(0), 'queue_full'],
      ['m1', body(1), 'queue_full'],
    ])
  })

  it('holds at most maxChars of keys and values', () => {
    const { queue, dropped } = open({ maxEvents: 100, maxChars: 300 })
    for (let n = 0; n < 10; n++) queue.push(`m${n}`, body(n), Date.now() + n)
    let chars = 0
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i) as string
      chars += key.length + (localStorage.getItem(key) as string).length
    }
    expect(chars).toBeLessThanOrEqual(300)
    expect(queue.ids().length + dropped.length).toBe(10)
    expect(dropped.length).toBeGreaterThan(0)
    expect(dropped.map((d) => d.event.messageId)).toEqual(
      dropped.map((_, i) => `m${i}`), // oldest first
    )
    expect(bodies(queue).at(-1)).toBe(body(9))
  })

  it('counts the events of a request, and drops it whole, reporting each of its events', () => {
    const { queue, dropped } = open({ maxEvents: 4, maxChars: 100_000 })
    const events = [1, 2, 3].map((n) => JSON.stringify({ messageId: `m${n}`, event: `e${n}` }))
    const first = queue.push('m1', events[0] as string, Date.now()) as QueueEntry
    queue.put({ ...first, body: `[${events}]`, sent: 3 })
    queue.push('m4', body(4), Date.now() + 1)
    expect(dropped).toEqual([])
    queue.push('m5', body(5), Date.now() + 2) // 3 + 1 + 1 > 4: the oldest entry, the request, goes
    expect(dropped.map((d) => [d.event.messageId, d.event.body, d.reason])).toEqual([
      ['m1', events[0], 'queue_full'],
      ['m2', events[1], 'queue_full'],
      ['m3', events[2], 'queue_full'],
    ])
    expect(bodies(queue)).toEqual([body(4), body(5)])
  })

  it('drops (and reports) an event larger than the whole queue without evicting others', () => {
    const { queue, dropped } = open({ maxEvents: 100, maxChars: 200 })
    queue.push('small', body(1), Date.now())
    expect(queue.push('huge', JSON.stringify({ x: 'y'.repeat(500) }), Date.now())).toBeUndefined()
    expect(bodies(queue)).toEqual([body(1)])
    expect(dropped.map((d) => [d.event.messageId, d.reason])).toEqual([['huge', 'queue_full']])
  })

  it("makes room when the browser's quota is full, oldest first", () => {
    // A storage area with a 250-character quota, as a browser's would throw QuotaExceededError.
    const quota: StorageArea = {
      get length() {
        return localStorage.length
      },
      key: (i) => localStorage.key(i),
      getItem: (k) => localStorage.getItem(k),
      removeItem: (k) => localStorage.removeItem(k),
      setItem(k, v) {
        let used = k.length + v.length
        for (let i = 0; i < localStorage.length; i++) {
          const key = localStorage.key(i) as string
          if (key !== k) used += key.length + (localStorage.getItem(key) as string).length
        }
        if (used > 250) throw new DOMException('full', 'QuotaExceededError')
        localStorage.setItem(k, v)
      },
    }
    const { queue, dropped } = open({ maxEvents: 100, maxChars: 100_000 }, quota)
    for (let n = 0; n < 5; n++) expect(queue.push(`m${n}`, body(n), Date.now() + n)).toBeDefined()
    expect(bodies(queue).at(-1)).toBe(body(4))
    expect(dropped.length).toBeGreaterThan(0)
    expect(dropped.every((d) => d.reason === 'storage_full')).toBe(true)
    expect(queue.ids().length + dropped.length).toBe(5)
  })
})

describe('corrupt contents', () => {
  it.each([
    ['not a header at all', 'garbage'],
    ['a header that is not JSON', '{oops\n{"version":1}'],
    ['a header of the wrong shape', '["x",1,2,"m"]\n{"version":1}'],
    ['a truncated body', '[0,1,1,"m"]\n{"version":1,"ty'],
    ['an empty value', ''],
    ['a count of events that is not a whole number', '[1,1,1,"m",1.5]\n{"version":1}'],
    ['an event never sent that is a JSON array', '[0,1,1,"m",0]\n[{"version":1}]'],
  ])('removes and reports an entry with %s, and keeps the others', (_, text) => {
    const { queue, dropped } = open()
    queue.push('good-1', body(1), Date.now())
    localStorage.setItem('test:000000000zzbad', text)
    expect(queue.ids()).toHaveLength(2)
    // Found when it is read: here by the next push, which reads every entry to count its events.
    queue.push('good-2', body(2), Date.now() + 1)
    const readable = queue.ids().map((id) => queue.get(id)?.messageId)
    expect(readable).toEqual(['good-1', 'good-2'])
    expect(dropped).toEqual([
      {
        event: { id: '000000000zzbad', messageId: '', body: text, attempts: 0 },
        reason: 'corrupt',
      },
    ])
    expect(localStorage.getItem('test:000000000zzbad')).toBeNull()
  })
})

describe('storage the page may not use', () => {
  it('falls back to memory when localStorage throws (private mode, disabled storage)', () => {
    const spy = vi.spyOn(window, 'localStorage', 'get').mockImplementation(() => {
      throw new DOMException('denied', 'SecurityError')
    })
    let storage: StorageArea
    try {
      storage = webStorage()
    } finally {
      spy.mockRestore()
    }
    const { queue } = open(undefined, storage)
    queue.push('m', body(1), Date.now())
    expect(bodies(queue)).toEqual([body(1)])
    expect(localStorage.length).toBe(0) // kept in memory, not in the storage that threw
    queue.remove(queue.ids()[0] as string)
    expect(storage.length).toBe(0)
  })
})
