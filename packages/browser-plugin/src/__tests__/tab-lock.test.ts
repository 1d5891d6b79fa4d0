// @vitest-environment happy-dom
/** The tab lock: one holder at a time, leases that expire when a tab dies, Web Locks when present. */

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { leaseLock } from '../lease-lock.js'
import { tabLock, webLock } from '../tab-lock.js'

const NAME = 'test.lock'

/** A task that runs until `finish()` is called. */
function pending() {
  let finish = () => {}
  const done = new Promise<void>((resolve) => {
    finish = resolve
  })
  return { task: vi.fn(() => done), finish }
}

beforeEach(() => {
  localStorage.clear()
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') })
})
afterEach(() => vi.useRealTimers())

describe('lease lock (browsers without Web Locks)', () => {
  it('lets one tab in at a time, and the next one in after release', async () => {
    const tabA = leaseLock(localStorage, NAME)
    const tabB = leaseLock(localStorage, NAME)
    const a = pending()
    const heldA = tabA.run(a.task)
    await vi.advanceTimersByTimeAsync(100)
    expect(a.task).toHaveBeenCalledTimes(1)

    const b = vi.fn(async () => {})
    await expect(tabB.run(b)).resolves.toBe(false)
    expect(b).not.toHaveBeenCalled()

    a.finish()
    await expect(heldA).resolves.toBe(true)
    expect(localStorage.getItem(NAME)).toBeNull()
    const heldB = tabB.run(b)
    await vi.advanceTimersByTimeAsync(100)
    await expect(heldB).resolves.toBe(true)
    expect(b).toHaveBeenCalledTimes(1)
  })

  it('lets exactly one of two tabs in when both claim at the same moment', async () => {
    const tasks = [vi.fn(async () => {}), vi.fn(async () => {})]
    const runs = tasks.map((task) => leaseLock(localStorage, NAME).run(task))
    await vi.advanceTimersByTimeAsync(100)
    const held = await Promise.all(runs)
    expect(held.filter(Boolean)).toHaveLength(1)
    expect(tasks.filter((t) => t.mock.calls.length > 0)).toHaveLength(1)
  })

  it('renews the lease while a long task runs, so no other tab gets in', async () => {
    const tabA = leaseLock(localStorage, NAME, { leaseMs: 3000 })
    const a = pending()
    const heldA = tabA.run(a.task)
    await vi.advanceTimersByTimeAsync(10_000) // three leases long
    const b = vi.fn(async () => {})
    await expect(leaseLock(localStorage, NAME).run(b)).resolves.toBe(false)
    a.finish()
    await heldA
    expect(b).not.toHaveBeenCalled()
  })

  it("takes over a closed tab's lease once it expires", async () => {
    // A tab that died mid-task left its lease behind.
    localStorage.setItem(NAME, JSON.stringify(['closed-tab', Date.now() + 10_000]))
    const b = vi.fn(async () => {})
    await expect(leaseLock(localStorage, NAME).run(b)).resolves.toBe(false)
    await vi.advanceTimersByTimeAsync(10_001)
    const held = leaseLock(localStorage, NAME).run(b)
    await vi.advanceTimersByTimeAsync(100)
    await expect(held).resolves.toBe(true)
    expect(b).toHaveBeenCalledTimes(1)
  })

  it('treats an unreadable lease as free', async () => {
    localStorage.setItem(NAME, '{not json')
    const b = vi.fn(async () => {})
    const held = leaseLock(localStorage, NAME).run(b)
    await vi.advanceTimersByTimeAsync(100)
    await expect(held).resolves.toBe(true)
    expect(b).toHaveBeenCalledTimes(1)
  })

  it('releases the lease when the task fails', async () => {
    const held = leaseLock(localStorage, NAME).run(async () => {
      throw new Error('boom')
    })
    const settled = expect(held).rejects.toThrow('boom')
    await vi.advanceTimersByTimeAsync(100)
    await settled
    expect(localStorage.getItem(NAME)).toBeNull()
  })
})

describe('Web Locks', () => {
  /** The Web Locks `ifAvailable` contract, as browsers implement it, for one origin. */
  function lockManager(): LockManager {
    const held = new Set<string>()
    return {
      request: async (
        name: string,
        _options: LockOptions,
        callback: (lock: Lock | null) => unknown,
      ) => {
        if (held.has(name)) return callback(null)
        held.add(name)
        try {
          return await callback({ name, mode: 'exclusive' })
        } finally {
          held.delete(name)
        }
      },
      query: async () => ({}),
    } as LockManager
  }

  it('runs the task when the lock is free and refuses while another tab holds it', async () => {
    const locks = lockManager()
    const a = pending()
    const heldA = webLock(locks, NAME).run(a.task)
    const b = vi.fn(async () => {})
    await expect(webLock(locks, NAME).run(b)).resolves.toBe(false)
    a.finish()
    await expect(heldA).resolves.toBe(true)
    await expect(webLock(locks, NAME).run(b)).resolves.toBe(true)
    expect(b).toHaveBeenCalledTimes(1)
  })

  it('is chosen when the browser has navigator.locks, the lease otherwise', async () => {
    const locks = lockManager()
    const request = vi.spyOn(locks, 'request')
    const spy = vi.spyOn(navigator, 'locks', 'get').mockReturnValue(locks)
    try {
      await tabLock(NAME, localStorage).run(async () => {})
      expect(request).toHaveBeenCalledTimes(1)
    } finally {
      spy.mockRestore()
    }
    const held = tabLock(NAME, localStorage).run(async () => {
      const [owner, until] = JSON.parse(localStorage.getItem(NAME) as string)
      expect([typeof owner, until > Date.now()]).toEqual(['string', true])
    })
    await vi.advanceTimersByTimeAsync(100)
    await expect(held).resolves.toBe(true)
  })
})
