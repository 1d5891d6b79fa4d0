/** One tab at a time drains the shared queue: the Web Locks API when the browser has it, a localStorage lease otherwise. */

import type { StorageArea } from './queue.js'

/** A lock shared by every tab of the origin. */
export interface TabLock {
  /** Runs `task` holding the lock and resolves `true`; resolves `false` at once when another tab holds it. */
  run(task: () => Promise<void>): Promise<boolean>
}

/**
 * A {@link TabLock} on the Web Locks API: the browser grants it to one tab at
 * a time and releases it when that tab's task settles or the tab goes away.
 *
 * @example
 * const lock = webLock(navigator.locks, 'analytics-webhooks.lock')
 * await lock.run(async () => drainQueue()) // false if another tab is draining
 */
export function webLock(locks: LockManager, name: string): TabLock {
  return {
    run: (task) =>
      locks.request(name, { ifAvailable: true }, (held) =>
        held ? task().then(() => true) : false,
      ) as Promise<boolean>,
  }
}

/** Timing of a {@link leaseLock}. */
export interface LeaseTiming {
  /** A holder that stops renewing (a closed tab) loses the lease after this long. Default 10 s. */
  leaseMs?: number
  /** How long a claim settles before it is read back, so that of two tabs claiming at once only one goes on. Default 100 ms. */
  settleMs?: number
}

/**
 * A {@link TabLock} for browsers without Web Locks: a lease (`[owner, expiry]`)
 * in a storage key, claimed when free or expired, read back after a short
 * settle time (the last writer wins), renewed while held and removed on release.
 * A tab that closes mid-task loses the lease when it expires.
 *
 * @example
 * const lock = leaseLock(localStorage, 'analytics-webhooks.lock')
 * await lock.run(async () => drainQueue())
 */
export function leaseLock(
  storage: StorageArea,
  name: string,
  { leaseMs = 10_000, settleMs = 100 }: LeaseTiming = {},
): TabLock {
  const owner = Math.random().toString(36).slice(2)
  const holder = (): unknown => {
    try {
      const [who, until] = JSON.parse(storage.getItem(name) ?? '[]') as unknown[]
      return (until as number) > Date.now() ? who : undefined
    } catch {
      return undefined // unreadable: treat as free, the next claim overwrites it
    }
  }
  const claim = () => storage.setItem(name, JSON.stringify([owner, Date.now() + leaseMs]))
  return {
    async run(task) {
      const current = holder()
      if (current !== undefined && current !== owner) return false
      try {
        claim()
      } catch {
        return false
      }
      await new Promise((resolve) => setTimeout(resolve, settleMs))
      if (holder() !== owner) return false
      const renewal = setInterval(() => {
        try {
          claim()
        } catch {}
      }, leaseMs / 3)
      try {
        await task()
      } finally {
        clearInterval(renewal)
        if (holder() === owner) storage.removeItem(name)
      }
      return true
    },
  }
}

/**
 * The best lock this browser offers for `name`: Web Locks, or a lease in `storage`.
 *
 * @example
 * const lock = tabLock('analytics-webhooks.lock', localStorage)
 */
export function tabLock(name: string, storage: StorageArea): TabLock {
  const locks = globalThis.navigator?.locks
  return locks ? webLock(locks, name) : leaseLock(storage, name)
}
