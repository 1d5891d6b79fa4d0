/** The tab lock of browsers without Web Locks: a lease in localStorage, loaded with import() only by them. */

import type { StorageArea } from './queue.js'
import type { TabLock } from './tab-lock.js'

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
